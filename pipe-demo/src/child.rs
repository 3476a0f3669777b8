//! Starting and ending the forked children of the tour, and reaping them.

use std::io::{self, Write};

use nix::sys::prctl;
use nix::sys::signal::Signal;
use nix::sys::wait::{WaitPidFlag, WaitStatus, waitpid};
use nix::unistd::{ForkResult, Pid, fork, getpid, getppid};

use crate::Result;

/// Forks. The child dies with its parent, so an interrupted tour leaves no orphan behind.
pub fn start_child() -> Result<ForkResult> {
    io::stdout().flush()?; // Or the child inherits, and prints again, our unwritten output.
    let parent = getpid();
    // SAFETY: pipe-demo never starts a thread, so the child is a complete copy of a
    // single-threaded process and may go on running ordinary Rust code.
    let forked = unsafe { fork() }.map_err(|e| format!("fork: {e}"))?;
    if forked.is_child() {
        let armed = prctl::set_pdeathsig(Signal::SIGKILL);
        if armed.is_err() || getppid() != parent {
            std::process::exit(1); // The parent is already gone.
        }
    }
    Ok(forked)
}

/// Ends a child: reports its error, if any, and exits without returning into the parent's code.
pub fn finish_child(result: Result) -> ! {
    let code = match result {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("pipe-demo (child {}): {e}", getpid());
            1
        }
    };
    let _ = io::stdout().flush();
    std::process::exit(code);
}

pub fn reap(child: Pid) -> Result<WaitStatus> {
    Ok(waitpid(child, None).map_err(|e| format!("waitpid {child}: {e}"))?)
}

/// Some(status) if `child` has ended (and is now reaped), None if it is still running.
pub fn exited(child: Pid) -> Result<Option<WaitStatus>> {
    match waitpid(child, Some(WaitPidFlag::WNOHANG)).map_err(|e| format!("waitpid {child}: {e}"))? {
        WaitStatus::StillAlive => Ok(None),
        status => Ok(Some(status)),
    }
}

pub fn check_success(child: Pid, status: WaitStatus) -> Result {
    match status {
        WaitStatus::Exited(_, 0) => Ok(()),
        status => Err(format!("child {child} failed: it {}", describe(status)).into()),
    }
}

pub fn report_exit(child: Pid, status: WaitStatus) -> Result {
    println!("   parent: reaped child {child}: it {}", describe(status));
    check_success(child, status)
}

/// How a child ended, in words: "exited with status 0", "was killed by SIGKILL".
fn describe(status: WaitStatus) -> String {
    match status {
        WaitStatus::Exited(_, code) => format!("exited with status {code}"),
        WaitStatus::Signaled(_, signal, _) => format!("was killed by {signal}"),
        other => format!("changed state: {other:?}"),
    }
}
