//! Step 2: catching signals with signal-hook's iterator, as the lecture does. The child is
//! `roles::catcher`.

use nix::sys::signal::Signal;

use plumbing::Result;
use plumbing::child::describe;
use plumbing::tour::heading;

use crate::roles::{REPLY_TIMEOUT, start_ready};

pub fn run(step: u32) -> Result {
    heading(
        step,
        "catching — a child listens with signal_hook::iterator::Signals",
    );
    let mut child = start_ready("catcher", &[])?;
    let pid = child.pid();
    println!("  child {pid} catches INT, TERM, USR1, USR2 and HUP, and said ready");
    for signal in [Signal::SIGUSR1, Signal::SIGTERM] {
        child.signal(signal)?;
        println!("  kill({pid}, {signal})");
        println!("    child: {}", child.expect_line(REPLY_TIMEOUT)?);
    }
    println!("    child: {}", child.expect_line(REPLY_TIMEOUT)?);
    let status = child.wait(REPLY_TIMEOUT)?;
    println!("  waitpid({pid}): the child {}", describe(status));

    let mut child = start_ready("catcher", &[])?;
    let pid = child.pid();
    child.signal(Signal::SIGINT)?;
    println!("  kill({pid}, SIGINT)");
    println!("    child: {}", child.expect_line(REPLY_TIMEOUT)?);
    let status = child.wait(REPLY_TIMEOUT)?;
    println!("  waitpid({pid}): the child {}", describe(status));
    println!("  caught, yet Ctrl-C still ends it");
    println!("  (as documented, not observed: Rust's std has no call to catch a signal;");
    println!("  this step uses the signal-hook crate, as the lecture does)");
    Ok(())
}
