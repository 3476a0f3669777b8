//! Which CPUs this process may run on, and pinning to one of them. Where two processes run
//! changes everything on a VM: a wakeup on another core costs tens of microseconds, on the same
//! core about one; and two processes that spin waiting for each other must not share a CPU.

use nix::sched::{CpuSet, sched_getaffinity, sched_setaffinity};
use nix::unistd::Pid;

use crate::Result;

/// The CPUs `sched_getaffinity` lets `pid` (0: this process) use, lowest first.
pub fn allowed(pid: Pid) -> Result<Vec<usize>> {
    let set = sched_getaffinity(pid).map_err(|e| format!("sched_getaffinity: {e}"))?;
    Ok((0..CpuSet::count())
        .filter(|&cpu| set.is_set(cpu).unwrap_or(false))
        .collect())
}

/// The first two CPUs this process may use, or its only one twice.
pub fn two_cpus() -> Result<[usize; 2]> {
    let cpus = allowed(Pid::from_raw(0))?;
    let first = *cpus.first().ok_or("sched_getaffinity: no CPU allowed")?;
    Ok([first, cpus.get(1).copied().unwrap_or(first)])
}

/// Restricts `pid` (0: the calling process) to `cpu`.
pub fn pin(pid: Pid, cpu: usize) -> Result {
    let mut only = CpuSet::new();
    only.set(cpu).map_err(|e| format!("CPU {cpu}: {e}"))?;
    sched_setaffinity(pid, &only).map_err(|e| format!("sched_setaffinity CPU {cpu}: {e}"))?;
    Ok(())
}

/// Restricts the calling process to `cpu` until the returned guard is dropped, which gives back
/// the CPUs it had before.
pub fn pin_for_now(cpu: usize) -> Result<Pinned> {
    let before =
        sched_getaffinity(Pid::from_raw(0)).map_err(|e| format!("sched_getaffinity: {e}"))?;
    pin(Pid::from_raw(0), cpu)?;
    Ok(Pinned(before))
}

/// See [`pin_for_now`].
pub struct Pinned(CpuSet);

impl Drop for Pinned {
    fn drop(&mut self) {
        let _ = sched_setaffinity(Pid::from_raw(0), &self.0);
    }
}
