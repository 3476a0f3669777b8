//! Step 5, limits: the largest message, the longest queue and the bytes all of a user's queues
//! may reserve, each exceeded once. The kernel answers (its errno is printed as it came), and
//! each answer is explained with the knob that sets the limit.

use mq_demo::{Queue, msg_max, msgsize_max, queues_max, rlimit_msgqueue};
use nix::errno::Errno;
use nix::mqueue::{MQ_OFlag, MqAttr, mq_attr_member_t, mq_close, mq_open, mq_unlink};
use nix::sys::resource::{Resource, getrlimit, setrlimit};
use nix::sys::stat::Mode;
use plumbing::tour::heading;
use plumbing::{Result, stop};

use super::format_outcome;

const KNOBS: &str = "/proc/sys/fs/mqueue";

pub fn run(name: &str) -> Result {
    stop::check()?; // a stop signal during the step before ends the tour here
    let (size_max, count_max) = (msgsize_max()?, msg_max()?);
    heading(
        5,
        &format!("Limits on this machine ({KNOBS}, RLIMIT_MSGQUEUE)"),
    );
    println!(
        "  msgsize_max {size_max} bytes, msg_max {count_max} messages, queues_max {}",
        queues_max()?
    );
    println!(
        "  RLIMIT_MSGQUEUE {} bytes, for all of this user's queues",
        rlimit_msgqueue()?
    );
    println!("  each attempt below uses the name {name}");
    let root = nix::unistd::geteuid().is_root();
    for (maxmsg, msgsize, knob, limit, wanted) in [
        (1, size_max + 1, "msgsize_max", size_max, size_max + 1),
        (count_max + 1, 64, "msg_max", count_max, count_max + 1),
    ] {
        let result = try_create(name, maxmsg, msgsize);
        println!(
            "  mq_open, maxmsg {maxmsg}, msgsize {msgsize} -> {}",
            created_or(result)
        );
        match result {
            Err(Errno::EINVAL) => {
                println!("    the kernel's EINVAL: {wanted} > {knob} ({limit});");
                println!("    raise it as root: sysctl fs.mqueue.{knob}={wanted}");
            }
            Ok(()) if root => {
                println!("    (root: CAP_SYS_RESOURCE lifts {knob}, {limit}; queue removed)");
            }
            _ => {}
        }
    }

    let queue = Queue::create(name, MQ_OFlag::O_RDWR | MQ_OFlag::O_NONBLOCK, 1, 64)?;
    let result = queue.send(&[b'x'; 65], 0);
    println!(
        "  mq_send of 65 bytes, queue msgsize 64 -> {}",
        format_outcome(result)
    );
    drop(queue);
    rlimit_refuses(name)
}

/// "created", or the errno and its meaning.
fn created_or(result: nix::Result<()>) -> String {
    match result {
        Ok(()) => "created".into(),
        Err(e) => format_outcome(Err(e)),
    }
}

/// What the kernel answers to mq_open(O_CREAT | O_EXCL) with these attributes; a queue it
/// creates is removed at once. (Queue::create would check the knobs first, for everybody.)
fn try_create(name: &str, maxmsg: usize, msgsize: usize) -> nix::Result<()> {
    let attr = MqAttr::new(
        0,
        maxmsg as mq_attr_member_t,
        msgsize as mq_attr_member_t,
        0,
    );
    let flags = MQ_OFlag::O_CREAT | MQ_OFlag::O_EXCL | MQ_OFlag::O_RDWR;
    let mqd = mq_open(name, flags, Mode::S_IRUSR | Mode::S_IWUSR, Some(&attr))?;
    mq_unlink(name)?;
    mq_close(mqd)
}

/// The per-user byte budget: lowers this process's soft limit for one mq_open, then restores it.
fn rlimit_refuses(name: &str) -> Result {
    let (soft, hard) =
        getrlimit(Resource::RLIMIT_MSGQUEUE).map_err(|e| format!("getrlimit: {e}"))?;
    setrlimit(Resource::RLIMIT_MSGQUEUE, 4096, hard)
        .map_err(|e| format!("setrlimit RLIMIT_MSGQUEUE: {e}"))?;
    let result = try_create(name, 10, 1024);
    setrlimit(Resource::RLIMIT_MSGQUEUE, soft, hard)
        .map_err(|e| format!("setrlimit RLIMIT_MSGQUEUE: {e}"))?;
    println!("  RLIMIT_MSGQUEUE lowered to 4096 bytes for one call:");
    println!(
        "  mq_open, maxmsg 10, msgsize 1024 -> {}",
        created_or(result)
    );
    if result == Err(Errno::EMFILE) {
        println!("    10 x 1024 bytes do not fit in RLIMIT_MSGQUEUE (4096 bytes);");
        println!("    raise it with ulimit -q or prlimit --msgqueue");
    }
    Ok(())
}
