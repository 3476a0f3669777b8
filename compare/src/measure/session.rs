//! A session: one forked measurement. The parent forks, both processes pin themselves, the
//! child runs its side and the parent its own, and the parent reaps the child and says how it
//! ended. The watchdog kills a child that hangs; a stop signal kills it too. A session that
//! fails near the limit on processes (RLIMIT_NPROC) says so.

use std::sync::atomic::Ordering;
use std::time::Duration;

use nix::sys::resource::{Resource, UsageWho, getrlimit, getrusage};
use nix::sys::signal::Signal;
use nix::sys::wait::WaitStatus;
use nix::unistd::{Pid, Uid, getpid, getuid};
use plumbing::child::{self, Child, ExitReason, Reaped, Start};
use plumbing::{cpu, stop};

use crate::measure::sides::{Child as ChildSide, SharedWord};
use crate::measure::watchdog::Watchdog;
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

/// Forks; the child opens `child_side` (`Child::open`), then runs it pinned to
/// `placement.child_cpu` and leaves with its return value as exit status; the parent runs `parent_side` on `parent_end`, pinned to
/// `placement.parent_cpu`. Each process owns only its own end: the child drops its copy of
/// `parent_end` right after fork (so it sees end-of-file when the parent closes), and the
/// parent drops `parent_end` only after the child has been reaped, so the child has ended, by
/// itself or killed, before we close (a System V end then sees for certain whether the child
/// closed or died, and removes a dead child's queue). The child's CPU time is its own count
/// from its opened start to its return (see [`ChildCpu`]): fork, open and exit are not the
/// mechanism's.
///
/// `watchdog` bounds the whole session in seconds; 0 (no time cap) watches instead that the
/// child keeps running (see `watchdog.rs`).
///
/// The child's exit status tells the parent what went wrong (an [`ExitReason`]: a corrupted
/// message, a failed read, a peer that left), which is why it is forked with
/// `plumbing::child::fork_with`.
pub fn session<T, E>(
    label: &str,
    placement: Placement,
    watchdog: u32,
    parent_end: E,
    child_side: impl ChildSide,
    parent_side: impl FnOnce(Pid, &mut E) -> Result<T, Skip>,
) -> Result<(T, Duration), Skip> {
    if stop::requested().is_some() {
        return Err(Skip::Stopped);
    }
    let child_cpu = ChildCpu::new()?;
    let (mut child, (mut parent_end, parent_side)) = fork_child(
        label,
        placement.child_cpu,
        &child_cpu,
        child_side,
        (parent_end, parent_side),
    )
    .map_err(with_process_limit)?;
    let pid = child.pid();
    stop::kill_on_stop(Some(pid.as_raw()));
    // The watchdog's thread starts after the fork and is joined before the reap.
    let (result, fired) = match Watchdog::arm(watchdog, pid) {
        Ok(armed) => {
            let result = cpu::pin(Pid::from_raw(0), placement.parent_cpu)
                .map_err(|e| Skip::Failed(e.to_string()))
                .and_then(|()| parent_side(pid, &mut parent_end));
            (result, armed.disarm())
        }
        Err(why) => (Err(Skip::Failed(why)), None),
    };
    stop::kill_on_stop(None);
    let ending = match &result {
        Err(_) => Ending::AfterOurError,
        Ok(_) => Ending::EndMessage,
    };
    let child_failure = reap(&mut child, ending);
    drop(parent_end);
    // A child that did not return has failed the session, so its count is never used.
    let child_cpu = child_cpu.reported().unwrap_or_default();
    verdict(result, child_failure, fired)
        .map(|value| (value, child_cpu))
        .map_err(with_process_limit)
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

/// Forks. The child drops `parent_side` (with its copy of the parent's end) before anything
/// else, dies with the parent, gives every signal the parent catches its default action,
/// pins itself to `cpu`, runs `child_side` and leaves with the [`ExitReason`] it returns (or
/// [`ExitReason::Setup`] after one line, if it could not start); the parent drops
/// `child_side` and gets `parent_side` back, with the child.
fn fork_child<P>(
    label: &str,
    cpu: usize,
    child_cpu: &ChildCpu,
    mut child_side: impl ChildSide,
    parent_side: P,
) -> Result<(Child, P), Skip> {
    let parent = getpid();
    let caught = caught_signals();
    let start = Start {
        name: label,
        close: &[],
        default_actions: &caught,
        pin: Some(cpu),
    };
    // compare is single-threaded here (main starts no thread; the last session's watchdog
    // and the System V ends' threads are joined), as a fork requires.
    child::fork_with(&start, parent_side, || {
        if let Err(reason) = child_side.open(parent, label) {
            return reason;
        }
        let started = cpu_time(UsageWho::RUSAGE_SELF);
        let reason = child_side.run(parent, label);
        child_cpu.report(cpu_time(UsageWho::RUSAGE_SELF).saturating_sub(started));
        reason
    })
    .map_err(|e| Skip::Failed(e.to_string()))
}

/// The signals the parent catches: the stop flag's. In the child they take their default
/// action, so Ctrl-C ends it like any program and the parent's handlers (copied by fork) never
/// run in it.
fn caught_signals() -> Vec<i32> {
    stop::signals().collect()
}

/// The session's result from the parent's result, how the child ended, and why the watchdog
/// killed it, if it did.
fn verdict<T>(
    result: Result<T, Skip>,
    child_failure: Option<String>,
    fired: Option<String>,
) -> Result<T, Skip> {
    if stop::requested().is_some() {
        return Err(Skip::Stopped);
    }
    if let Some(why) = fired {
        return Err(Skip::Failed(why));
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

/// A fork, or a new thread (a System V end starts one), fails with EAGAIN once this user's
/// processes and threads reach RLIMIT_NPROC (`ulimit -u`), and the error alone ("fork:
/// EAGAIN", "Resource temporarily unavailable") does not say so; nor does a child that died of
/// it. So a failed session near that limit says it, with the numbers.
fn with_process_limit(skip: Skip) -> Skip {
    match (skip, near_process_limit()) {
        (Skip::Failed(why), Some(limit)) => Skip::Failed(format!("{why}; {limit}")),
        (skip, _) => skip,
    }
}

/// What a session adds to this process: the child, and a thread in each process for some
/// mechanisms.
const SESSION_TASKS: u64 = 3;

/// When a session would not fit under this user's RLIMIT_NPROC now, the sentence that says so.
/// None for root, whom the limit does not bind, or with no limit.
fn near_process_limit() -> Option<String> {
    let (soft, _) = getrlimit(Resource::RLIMIT_NPROC).ok()?;
    let uid = getuid();
    if soft == libc::RLIM_INFINITY || uid.is_root() {
        return None;
    }
    let running = tasks_of(uid)?;
    (running + SESSION_TASKS > soft).then(|| {
        format!(
            "this user (uid {uid}) runs {running} processes and threads and may run {soft} \
             (RLIMIT_NPROC, ulimit -u {soft}): past it a fork or a new thread fails with \
             EAGAIN; raise the limit"
        )
    })
}

/// The processes and threads whose real uid is `uid` (what RLIMIT_NPROC counts), from the
/// Uid: and Threads: lines of every /proc/PID/status.
fn tasks_of(uid: Uid) -> Option<u64> {
    let mut tasks = 0;
    for entry in std::fs::read_dir("/proc").ok()?.flatten() {
        let path = entry.path().join("status");
        let Ok(status) = std::fs::read_to_string(&path) else {
            continue; // not a process, or one that has just ended
        };
        let field = |name: &str| {
            let line = status.lines().find(|l| l.starts_with(name))?;
            line[name.len()..]
                .split_whitespace()
                .next()?
                .parse::<u64>()
                .ok()
        };
        if field("Uid:") == Some(u64::from(uid.as_raw())) {
            tasks += field("Threads:").unwrap_or(1);
        }
    }
    Some(tasks)
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
fn reap(child: &mut Child, ending: Ending) -> Option<String> {
    let patience = match ending {
        Ending::EndMessage => Duration::from_secs(2),
        Ending::AfterOurError => Duration::from_millis(200),
    };
    match child.reap(patience) {
        Ok(reaped) => unexpected(reaped, ending, patience),
        Err(e) => Some(e.to_string()),
    }
}

/// How the child ended, in words, when that was not as `ending` expects.
fn unexpected(reaped: Reaped, ending: Ending, patience: Duration) -> Option<String> {
    let Reaped { status, killed } = reaped;
    let above = |reason: ExitReason| Some(format!("{reason} (its message is above)"));
    match status {
        WaitStatus::Exited(_, code) => match ExitReason::from_code(code) {
            Some(ExitReason::Done) => None,
            Some(ExitReason::PeerGone) if ending == Ending::AfterOurError => None,
            Some(
                reason @ (ExitReason::Mismatch
                | ExitReason::Io
                | ExitReason::Setup
                | ExitReason::Panic),
            ) => above(reason),
            _ => Some(format!("the child {}", child::describe(status))),
        },
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
