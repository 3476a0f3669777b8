//! `mq-demo send NAME MESSAGE...`: each MESSAGE as one message (TLPI's pmsg_send).

use mq_demo::{Queue, msgsize_max};
use nix::errno::Errno;
use nix::mqueue::MQ_OFlag;
use plumbing::Result;

/// One message each, never blocking: a full queue is an error, not a wait.
pub fn run(name: &str, messages: &[String], priority: u32) -> Result {
    let queue = Queue::open(name, MQ_OFlag::O_WRONLY | MQ_OFlag::O_NONBLOCK)?;
    for message in messages {
        if message.len() > queue.msgsize() {
            return Err(too_long(name, message.len(), queue.msgsize())?.into());
        }
        match queue.send(message.as_bytes(), priority) {
            Ok(()) => println!("sent prio {priority}, {} bytes: {message:?}", message.len()),
            Err(Errno::EAGAIN) => {
                let attr = queue.attr().map_err(|e| queue.error("mq_getattr", e))?;
                return Err(format!(
                    "mq_send {name}: EAGAIN: full ({} of {} messages); receive some first",
                    attr.curmsgs(),
                    attr.maxmsg()
                )
                .into());
            }
            Err(e) => return Err(queue.error("mq_send", e).into()),
        }
    }
    Ok(())
}

/// Why a message of `len` bytes does not fit the queue, and what would make it fit.
fn too_long(name: &str, len: usize, msgsize: usize) -> Result<String> {
    // mq_msgsize is fixed when a queue is created, and no queue may exceed msgsize_max.
    let limit = msgsize_max()?;
    let fix = if len > limit {
        format!(
            "no queue may hold it: /proc/sys/fs/mqueue/msgsize_max is {limit} (raise it as root with sysctl fs.mqueue.msgsize_max={len}, then recreate the queue)"
        )
    } else {
        return Ok(format!(
            "{len}-byte message > mq_msgsize {msgsize}: recreate {name} with --msgsize {len}"
        ));
    };
    Ok(format!(
        "message of {len} bytes exceeds the queue's mq_msgsize ({msgsize}); {fix}"
    ))
}
