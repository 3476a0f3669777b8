//! Role `doorbell` (steps 8-9): rings the parent back after every ring, with the library's
//! doorbell (`signal_demo::ring` / `wait_doorbell`, the calls `compare` times); and the
//! parent's side of such a pair: start it pinned and warmed up, wait for its ring back, finish.

use std::time::{Duration, Instant};

use nix::sched::sched_getcpu;
use nix::sys::wait::WaitPidFlag;
use nix::unistd::{Pid, getppid};
use plumbing::child::{Child, describe};
use plumbing::{Result, cpu, stop};
use signal_demo::{block_doorbell, ring, wait_doorbell};

use super::{REPLY_TIMEOUT, start_ready};

/// Round trips run and thrown away before timing (caches, page faults, CPU frequency).
pub const WARM_UP: u32 = 100;

/// The child: ring the parent back after every ring, `rounds` times; then say on which CPU.
pub fn run(parent: Pid, rounds: u64) -> Result {
    block_doorbell().map_err(|e| format!("block doorbell: {e}"))?;
    println!("ready");
    for _ in 0..rounds {
        while !wait_doorbell(Duration::from_secs(1)).map_err(|e| format!("sigtimedwait: {e}"))? {
            // PR_SET_PDEATHSIG already kills us if the parent dies; this is the belt to it.
            if getppid() != parent {
                return Err("parent gone".into());
            }
        }
        ring(parent).map_err(|e| format!("kill({parent}, doorbell): {e}"))?;
    }
    let cpu = sched_getcpu().map_err(|e| format!("sched_getcpu: {e}"))?;
    println!("cpu {cpu}");
    Ok(())
}

/// Starts a doorbell child for `rounds` (+ warm-up) round trips, pins it to `cpu` (the parent
/// pins itself first: the child starts on the parent's CPUs), and runs the warm-up.
pub fn start_pinned(cpu: usize, rounds: u32) -> Result<Child> {
    let total = (WARM_UP + rounds).to_string();
    let mut child = start_ready("doorbell", &["--rounds", &total])?;
    cpu::pin(child.pid(), cpu)?;
    for _ in 0..WARM_UP {
        ring(child.pid()).map_err(|e| format!("kill({}, doorbell): {e}", child.pid()))?;
        wait_reply(&mut child)?;
    }
    Ok(child)
}

/// Waits for the child's ring back; an error if the child dies or is silent for 2 s.
pub fn wait_reply(child: &mut Child) -> Result {
    let end = Instant::now() + REPLY_TIMEOUT;
    while !wait_doorbell(Duration::from_millis(100)).map_err(|e| format!("sigtimedwait: {e}"))? {
        stop::check()?;
        if let Some(status) = child.try_wait(WaitPidFlag::empty())? {
            let pid = child.pid();
            return Err(format!("doorbell child {pid} {}", describe(status)).into());
        }
        if Instant::now() > end {
            return Err(format!("child {} did not ring back within 2 s", child.pid()).into());
        }
    }
    Ok(())
}

/// Reads the child's "cpu N" line and reaps it; returns N.
pub fn finish(mut child: Child) -> Result<String> {
    let line = child.expect_line(REPLY_TIMEOUT)?;
    child.wait(REPLY_TIMEOUT)?;
    Ok(line.trim_start_matches("cpu ").to_string())
}
