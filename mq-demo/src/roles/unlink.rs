//! `mq-demo unlink NAME`: mq_unlink (TLPI's pmsg_unlink).

use nix::mqueue::mq_unlink;
use plumbing::Result;

/// mq_unlink removes the name, not the queue of whoever has it open.
pub fn run(name: &str) -> Result {
    mq_unlink(name).map_err(|e| format!("mq_unlink {name}: {e}"))?;
    println!("removed {name}; processes that still have it open keep using it");
    Ok(())
}
