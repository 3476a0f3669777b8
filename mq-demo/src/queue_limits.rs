//! The limits on queues: /proc/sys/fs/mqueue (msgsize_max, msg_max, queues_max) and this
//! user's RLIMIT_MSGQUEUE, read, and checked before a queue is created.

use std::io;

use nix::sys::resource::{Resource, getrlimit};
use plumbing::procfs;

pub(crate) const PROC_DIR: &str = "/proc/sys/fs/mqueue";

fn read_proc(knob: &str) -> io::Result<usize> {
    let value = procfs::sys_knob(&format!("fs/mqueue/{knob}"))?;
    usize::try_from(value).map_err(|e| {
        io::Error::new(
            io::ErrorKind::InvalidData,
            format!("{PROC_DIR}/{knob}: {e}"),
        )
    })
}

/// The largest message an unprivileged process may give a queue (/proc/sys/fs/mqueue/msgsize_max).
pub fn msgsize_max() -> io::Result<usize> {
    read_proc("msgsize_max")
}

/// The most messages an unprivileged process may give a queue (/proc/sys/fs/mqueue/msg_max).
pub fn msg_max() -> io::Result<usize> {
    read_proc("msg_max")
}

/// How many queues may exist system-wide (/proc/sys/fs/mqueue/queues_max).
pub fn queues_max() -> io::Result<usize> {
    read_proc("queues_max")
}

/// This process's soft RLIMIT_MSGQUEUE: the bytes all queues of this user may reserve.
pub fn rlimit_msgqueue() -> io::Result<u64> {
    let (soft, _hard) = getrlimit(Resource::RLIMIT_MSGQUEUE)
        .map_err(|e| io::Error::other(format!("getrlimit RLIMIT_MSGQUEUE: {e}")))?;
    Ok(soft)
}

/// Refuses a queue that an ordinary user could not create. Root (CAP_SYS_RESOURCE) may exceed
/// msg_max and msgsize_max, so we check ourselves: the demo behaves the same for everybody.
pub fn check_size(maxmsg: usize, msgsize: usize) -> io::Result<()> {
    let too_big = |what: String, knob: &str, limit: usize, wanted: usize| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            format!(
                "{what} exceeds {PROC_DIR}/{knob} ({limit}); \
                 raise it with sysctl fs.mqueue.{knob}={wanted}"
            ),
        )
    };
    if maxmsg == 0 || msgsize == 0 {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("a queue needs maxmsg >= 1 and msgsize >= 1 (got {maxmsg} and {msgsize})"),
        ));
    }
    let limit = msgsize_max()?;
    if msgsize > limit {
        return Err(too_big(
            format!("message of {msgsize} bytes"),
            "msgsize_max",
            limit,
            msgsize,
        ));
    }
    let limit = msg_max()?;
    if maxmsg > limit {
        return Err(too_big(
            format!("queue of {maxmsg} messages"),
            "msg_max",
            limit,
            maxmsg,
        ));
    }
    Ok(())
}
