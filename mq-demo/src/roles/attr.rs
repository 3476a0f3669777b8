//! `mq-demo attr NAME`: the queue's attributes, from mq_getattr (TLPI's pmsg_getattr).

use mq_demo::Queue;
use nix::mqueue::MQ_OFlag;
use plumbing::Result;

/// mq_getattr, in one line.
pub fn run(name: &str) -> Result {
    let queue = Queue::open(name, MQ_OFlag::O_RDONLY)?;
    let attr = queue.attr().map_err(|e| queue.error("mq_getattr", e))?;
    println!(
        "{name}: maxmsg {}, msgsize {}, curmsgs {} (messages waiting now)",
        attr.maxmsg(),
        attr.msgsize(),
        attr.curmsgs()
    );
    Ok(())
}
