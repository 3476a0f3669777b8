//! A session: one forked measurement. The parent forks, both processes pin themselves, the
//! child runs its side and the parent its own, and the parent reaps the child and says how it
//! ended. The watchdog kills a child that hangs; a stop signal kills it too.

use std::io::{self, Write};
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use nix::sys::resource::{UsageWho, getrusage};
use nix::sys::signal::{Signal, kill};
use nix::sys::wait::{WaitPidFlag, WaitStatus, waitpid};
use nix::unistd::{ForkResult, Pid, fork, getpid, getppid};
use plumbing::{child, cpu, stop};

use crate::measure::sides::{
    CHILD_IO, CHILD_MISMATCH, CHILD_PANIC, CHILD_PEER_GONE, CHILD_SETUP, SharedWord, child_says,
};
use crate::measure::watchdog;
use crate::row::{Placement, Skip};

/// User + system CPU time of this process (`RUSAGE_SELF`, every thread) or of its reaped
/// children.
pub fn cpu_time(who: UsageWho) -> Duration {
    match getrusage(who) {
        Ok(u) => {
            let t = |tv: nix::sys::time::TimeVal| {
                Duration::new(tv.tv_sec().max(0) as u64, tv.tv_usec().max(0) as u32 * 1000)
            };
            t(u.user_time()) + t(u.system_time())
        }
        Err(_) => Duration::ZERO,
    }
}

/// Forks; the child runs `child_side` pinned to `placement.child_cpu` and leaves with its
/// return value as exit status; the parent runs `parent_side` on `parent_end`, pinned to
/// `placement.parent_cpu`. Each process owns only its own end: the child drops its copy of
/// `parent_end` right after fork (so it sees end-of-file when the parent closes), and the
/// parent drops `parent_end` only after the child has been reaped, so the child has ended, by
/// itself or killed, before we close (a System V end then sees for certain whether the child
/// closed or died, and removes a dead child's queue). The child's CPU time is its own count
/// from its start to its return (see [`ChildCpu`]): fork and exit are not the mechanism's.
///
/// Forked here rather than with `plumbing::child::fork`: the child's exit status tells the
/// parent what went wrong (a corrupted message, a failed read, a peer that left), and each
/// process must close the other's end the moment it starts.
pub fn session<T, E>(
    label: &str,
    placement: Placement,
    watchdog: u32,
    parent_end: E,
    child_side: impl FnOnce(Pid) -> i32,
    parent_side: impl FnOnce(Pid, &mut E) -> Result<T, Skip>,
) -> Result<(T, Duration), Skip> {
    if stop::requested().is_some() {
        return Err(Skip::Stopped);
    }
    let child_cpu = ChildCpu::new()?;
    let (child, (mut parent_end, parent_side)) = fork_child(
        label,
        placement.child_cpu,
        &child_cpu,
        child_side,
        (parent_end, parent_side),
    )?;
    stop::kill_on_stop(Some(child.as_raw()));
    watchdog::arm(watchdog, child);
    let result = cpu::pin(Pid::from_raw(0), placement.parent_cpu)
        .map_err(|e| Skip::Failed(e.to_string()))
        .and_then(|()| parent_side(child, &mut parent_end));
    watchdog::disarm();
    stop::kill_on_stop(None);
    let ending = match &result {
        Err(_) => Ending::AfterOurError,
        Ok(_) => Ending::EndMessage,
    };
    let child_failure = reap(child, ending);
    drop(parent_end);
    // A child that did not return has failed the session, so its count is never used.
    let child_cpu = child_cpu.reported().unwrap_or_default();
    verdict(result, child_failure, watchdog).map(|value| (value, child_cpu))
}

/// Where a session's child leaves the CPU time it used from its start to its return, for the
/// parent to read after reaping it. Counted by the child itself because the kernel's count
/// for a reaped child also holds the fork's copy-on-write faults and the exit's teardown,
/// which in a 125-round-trip round were a sixth of a pipe's CPU per message.
struct ChildCpu(SharedWord);

const NOT_REPORTED: u64 = u64::MAX;

impl ChildCpu {
    fn new() -> Result<Self, Skip> {
        let word = SharedWord::new()?;
        word.get().store(NOT_REPORTED, Ordering::Relaxed);
        Ok(ChildCpu(word))
    }

    /// In the child, just before it leaves.
    fn report(&self, cpu: Duration) {
        let ns = u64::try_from(cpu.as_nanos()).unwrap_or(NOT_REPORTED - 1);
        self.0.get().store(ns, Ordering::Release);
    }

    /// In the parent, after the reap: what the child reported, if it got that far.
    fn reported(&self) -> Option<Duration> {
        match self.0.get().load(Ordering::Acquire) {
            NOT_REPORTED => None,
            ns => Some(Duration::from_nanos(ns)),
        }
    }
}

/// Forks. The child drops `parent_side` (with its copy of the parent's end), runs `child_side`
/// pinned to `cpu` and leaves with its return value as exit status; the parent drops
/// `child_side` and gets `parent_side` back, with the child's pid.
fn fork_child<P>(
    label: &str,
    cpu: usize,
    child_cpu: &ChildCpu,
    child_side: impl FnOnce(Pid) -> i32,
    parent_side: P,
) -> Result<(Pid, P), Skip> {
    let _ = io::stdout().flush();
    let parent = getpid();
    // SAFETY: compare is single-threaded (main never starts a thread), so the child is a
    // consistent copy of this process; it runs only `child_side`, then leaves with _exit.
    match unsafe { fork() } {
        Err(e) => Err(Skip::Failed(format!("fork: {e}"))),
        Ok(ForkResult::Child) => {
            drop(parent_side);
            // A panic must never unwind out of here: the child would go on running the
            // parent's loop. Catch it and leave with a status instead.
            let work = std::panic::AssertUnwindSafe(|| match child_start(parent, cpu, label) {
                Ok(()) => {
                    let started = cpu_time(UsageWho::RUSAGE_SELF);
                    let code = child_side(parent);
                    child_cpu.report(cpu_time(UsageWho::RUSAGE_SELF).saturating_sub(started));
                    code
                }
                Err(code) => code,
            });
            let code = std::panic::catch_unwind(work).unwrap_or(CHILD_PANIC);
            // SAFETY: _exit ends the child at once, without running the parent's atexit
            // handlers or flushing stdio buffers copied from the parent.
            unsafe { libc::_exit(code) }
        }
        Ok(ForkResult::Parent { child }) => {
            drop(child_side);
            Ok((child, parent_side))
        }
    }
}

/// What the child side of a session needs before it runs: death with the parent, the default
/// action for every signal the parent catches, and its CPU.
fn child_start(parent: Pid, cpu: usize, label: &str) -> Result<(), i32> {
    let ready = nix::sys::prctl::set_pdeathsig(Signal::SIGKILL)
        .map_err(|e| format!("prctl(PR_SET_PDEATHSIG): {e}"))
        .and_then(|()| match getppid() == parent {
            true => Ok(()),
            false => Err("the parent died before the child started".to_string()),
        })
        .and_then(|()| {
            stop::restore_defaults()
                .and_then(|()| watchdog::restore_default())
                .map_err(|e| format!("signal(SIG_DFL): {e}"))
        })
        .and_then(|()| cpu::pin(Pid::from_raw(0), cpu).map_err(|e| e.to_string()));
    ready.map_err(|why| {
        child_says(label, &why);
        CHILD_SETUP
    })
}

/// The session's result from the parent's result and how the child ended.
fn verdict<T>(
    result: Result<T, Skip>,
    child_failure: Option<String>,
    watchdog: u32,
) -> Result<T, Skip> {
    if stop::requested().is_some() {
        return Err(Skip::Stopped);
    }
    if watchdog::timed_out() {
        return Err(Skip::Failed(format!(
            "no progress within the {watchdog} s watchdog; the child was killed"
        )));
    }
    match (result, child_failure) {
        (Ok(value), None) => Ok(value),
        (Ok(_), Some(child_failure)) => Err(Skip::Failed(child_failure)),
        (Err(Skip::Failed(ours)), Some(child_failure)) => Err(Skip::Failed(format!(
            "{child_failure}; the parent then saw: {ours}"
        ))),
        (Err(e), _) => Err(e),
    }
}

/// How a session's child is expected to end.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Ending {
    /// It got the end message and exits 0 by itself.
    EndMessage,
    /// We stopped on an error and closed our end: it notices and exits (or we kill it).
    AfterOurError,
}

/// Waits for the child to end as `ending` expects, SIGKILLs it if it will not go (after 2 s,
/// 200 ms after our own error; when stopping, after 100 ms, which
/// lets a child that was told to end remove what it owns), and says how it ended if that was
/// not as expected. Always reaps, so no zombie and no orphan is left.
fn reap(child: Pid, ending: Ending) -> Option<String> {
    let patience = match ending {
        Ending::EndMessage => Duration::from_secs(2),
        Ending::AfterOurError => Duration::from_millis(200),
    };
    let stopping_grace = patience.min(Duration::from_millis(100));
    let started = Instant::now();
    let mut killed = false;
    let status = loop {
        let flags = (!killed).then_some(WaitPidFlag::WNOHANG);
        match waitpid(child, flags) {
            Ok(WaitStatus::StillAlive) => {}
            Ok(status) => break Ok(status),
            Err(nix::errno::Errno::EINTR) => continue,
            Err(e) => break Err(e),
        }
        let waited = started.elapsed();
        if waited >= patience || (stop::requested().is_some() && waited >= stopping_grace) {
            let _ = kill(child, Signal::SIGKILL);
            killed = true;
        } else {
            std::thread::sleep(Duration::from_micros(200));
        }
    };
    match status {
        Ok(status) => unexpected(status, ending, killed, patience),
        Err(e) => Some(format!("waitpid: {e}")),
    }
}

/// How the child ended, in words, when that was not as `ending` expects.
fn unexpected(
    status: WaitStatus,
    ending: Ending,
    killed: bool,
    patience: Duration,
) -> Option<String> {
    let above = |what: &str| Some(format!("{what} (its message is above)"));
    match status {
        WaitStatus::Exited(_, 0) => None,
        WaitStatus::Exited(_, CHILD_PEER_GONE) if ending == Ending::AfterOurError => None,
        WaitStatus::Exited(_, CHILD_MISMATCH) => above("the child received a corrupted message"),
        WaitStatus::Exited(_, CHILD_IO) => above("the child's read or write failed"),
        WaitStatus::Exited(_, CHILD_SETUP) => above("the child could not start"),
        WaitStatus::Exited(_, CHILD_PANIC) => above("the child panicked"),
        WaitStatus::Signaled(_, Signal::SIGKILL, _) if killed && ending != Ending::EndMessage => {
            None
        }
        WaitStatus::Signaled(_, signal, _) if killed => Some(format!(
            "the child did not end within {} s of the end message and was killed ({signal})",
            patience.as_secs()
        )),
        other => Some(format!("the child {}", child::describe(other))),
    }
}
