//! Step 5, limits: the largest message, the longest queue and the bytes all of a user's queues
//! may reserve, each exceeded once and refused with an error that names the limit and its knob.
#![cfg(target_os = "linux")]

use mq_demo::{Queue, msg_max, msgsize_max, queues_max, rlimit_msgqueue};
use nix::mqueue::MQ_OFlag;
use nix::sys::resource::{Resource, getrlimit, setrlimit};
use plumbing::Result;

use crate::report::format_outcome;

pub fn run(name: &str) -> Result {
    let (size_max, count_max) = (msgsize_max()?, msg_max()?);
    println!(
        "\nStep 5. Limits on this machine: /proc/sys/fs/mqueue/msgsize_max {size_max}, msg_max {count_max}, queues_max {}; RLIMIT_MSGQUEUE {} bytes",
        queues_max()?,
        rlimit_msgqueue()?
    );
    // Root (CAP_SYS_RESOURCE) may exceed msgsize_max and msg_max, so Queue::create checks them
    // itself: the demo refuses the same queues for everybody.
    if nix::unistd::geteuid().is_root() {
        println!(
            "  (running as root: the kernel would allow the first two; mq-demo refuses them as it would for a user)"
        );
    }
    for (maxmsg, msgsize) in [(1, size_max + 1), (count_max + 1, 64)] {
        match Queue::create(name, MQ_OFlag::O_RDWR, maxmsg, msgsize) {
            Ok(_) => println!("  create maxmsg {maxmsg}, msgsize {msgsize}: created (unexpected)"),
            Err(e) => println!("  create maxmsg {maxmsg}, msgsize {msgsize}: refused: {e}"),
        }
    }

    let queue = Queue::create(name, MQ_OFlag::O_RDWR | MQ_OFlag::O_NONBLOCK, 1, 64)?;
    let result = queue.send(&[b'x'; 65], 0);
    println!(
        "  send 65 bytes to a queue whose msgsize is 64: mq_send -> {}",
        format_outcome(result)
    );
    drop(queue);
    rlimit_refuses(name)
}

/// The per-user byte budget: lowers this process's soft limit for one mq_open, then restores it.
fn rlimit_refuses(name: &str) -> Result {
    let (soft, hard) =
        getrlimit(Resource::RLIMIT_MSGQUEUE).map_err(|e| format!("getrlimit: {e}"))?;
    setrlimit(Resource::RLIMIT_MSGQUEUE, 4096, hard)
        .map_err(|e| format!("setrlimit RLIMIT_MSGQUEUE: {e}"))?;
    let result = Queue::create(name, MQ_OFlag::O_RDWR, 10, 1024);
    setrlimit(Resource::RLIMIT_MSGQUEUE, soft, hard)
        .map_err(|e| format!("setrlimit RLIMIT_MSGQUEUE: {e}"))?;
    match result {
        Ok(_) => println!(
            "  RLIMIT_MSGQUEUE lowered to 4096 bytes, create 10 x 1024: created (unexpected)"
        ),
        Err(e) => {
            println!("  RLIMIT_MSGQUEUE lowered to 4096 bytes, create 10 x 1024: refused: {e}")
        }
    }
    Ok(())
}
