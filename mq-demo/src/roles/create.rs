//! `mq-demo create NAME`: a queue that outlives this process (TLPI's pmsg_create).

use mq_demo::Queue;
use nix::mqueue::MQ_OFlag;
use plumbing::Result;

/// Creates `name` (mode 0600) and leaves the name in place when this process exits.
pub fn run(name: &str, maxmsg: usize, msgsize: usize) -> Result {
    let queue = Queue::create(name, MQ_OFlag::O_RDWR, maxmsg, msgsize)?;
    println!("created {name}: maxmsg {maxmsg}, msgsize {msgsize}, mode 0600");
    println!("it stays until `mq-demo unlink {name}`");
    queue.keep_name();
    Ok(())
}
