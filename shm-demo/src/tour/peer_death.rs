//! Step 11 of the tour (`shm-demo peer-death`): a peer SIGKILLed while the other side waits
//! for it. Shared memory itself never tells anyone that a process died; the rings carry a
//! liveness pipe beside the mapping (see the library's `src/ring.rs`), and this step times how
//! soon a waiting `read` notices.

use std::io::Read;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use nix::sys::signal::{Signal, kill};
use nix::sys::wait::WaitStatus;
use nix::time::{ClockId, clock_gettime};
use nix::unistd::getpid;
use plumbing::tour::{duration, heading};
use plumbing::{Result, stop};
use shm_demo::{Coordination, SharedMapping};

use super::{duplex, fork_peer, label};

/// Step 11: in each mode, how long after the child's death the parent's `read` returned.
pub fn run() -> Result {
    heading(
        11,
        "peer death: a child SIGKILLs itself while the parent waits for it in read():",
    );
    for mode in [Coordination::Spin, Coordination::Futex] {
        stop::check()?;
        let noticed = peer_death(mode, Duration::from_millis(100))?;
        println!(
            "   {:<9} read returned end of file {} after the child died",
            format!("{}:", label(mode)),
            duration(noticed)
        );
    }
    Ok(())
}

/// The parent waits in `read` for a child that sends nothing and SIGKILLs itself after
/// `delay`. Returns how long after the child's death the parent's `read` returned.
fn peer_death(mode: Coordination, delay: Duration) -> Result<Duration> {
    let death = SharedMapping::new(size_of::<AtomicU64>()).map_err(|e| e.to_string())?;
    // SAFETY: the mapping is page aligned and zero filled: a valid AtomicU64. The child stores
    // to it once, atomically; the parent loads it after the child is dead.
    let died_at = unsafe { &*death.as_ptr().cast::<AtomicU64>() };
    let pair = duplex(mode, 64).map_err(|e| format!("ring: {e}"))?;
    let (mut end, mut child) = fork_peer(pair, |_end| {
        std::thread::sleep(delay);
        died_at.store(monotonic_ns()?, Ordering::Release);
        kill(getpid(), Signal::SIGKILL).map_err(|e| format!("kill: {e}"))?;
        Ok(())
    })?;
    let mut buf = [0; 64];
    let got = end.read(&mut buf);
    let returned_at = monotonic_ns()?;
    match child.wait(Duration::from_secs(5))? {
        WaitStatus::Signaled(_, Signal::SIGKILL, _) => {}
        status => return Err(format!("the child was to SIGKILL itself, but: {status:?}").into()),
    }
    match got {
        Ok(0) => {}
        other => {
            return Err(format!("read after the peer died gave {other:?}, not end of file").into());
        }
    }
    let died_at = died_at.load(Ordering::Acquire);
    Ok(Duration::from_nanos(returned_at.saturating_sub(died_at)))
}

fn monotonic_ns() -> Result<u64, String> {
    let now = clock_gettime(ClockId::CLOCK_MONOTONIC).map_err(|e| format!("clock_gettime: {e}"))?;
    Ok(now.tv_sec() as u64 * 1_000_000_000 + now.tv_nsec() as u64)
}
