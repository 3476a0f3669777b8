//! Processes for the demo: a Ctrl-C/SIGTERM flag, `fork` with a child that dies with its
//! parent, and a child owner that always reaps.

use std::error::Error;
use std::fmt;
use std::io::Write;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use nix::sched::{CpuSet, sched_getaffinity, sched_setaffinity};
use nix::sys::prctl::set_pdeathsig;
use nix::sys::signal::{Signal, kill};
use nix::sys::wait::{WaitPidFlag, WaitStatus, waitpid};
use nix::unistd::{ForkResult, Pid, fork, getpid, getppid};

/// Set by SIGINT or SIGTERM (to the signal's number). Loops check it so owners' `Drop` runs.
#[derive(Clone)]
pub struct Stop(Arc<AtomicUsize>);

impl Stop {
    pub fn register() -> Result<Self, Box<dyn Error>> {
        let flag = Arc::new(AtomicUsize::new(0));
        for signal in [libc::SIGINT, libc::SIGTERM] {
            signal_hook::flag::register_usize(signal, Arc::clone(&flag), signal as usize)
                .map_err(|e| format!("sigaction: {e}"))?;
        }
        Ok(Self(flag))
    }

    /// `Err(Interrupted)` once a signal has arrived.
    pub fn check(&self) -> Result<(), Interrupted> {
        match self.0.load(Ordering::SeqCst) {
            0 => Ok(()),
            signal => Err(Interrupted(signal as i32)),
        }
    }
}

/// The run was stopped by this signal; everything it created has been removed on the way out.
#[derive(Debug)]
pub struct Interrupted(pub i32);

impl fmt::Display for Interrupted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = if self.0 == libc::SIGINT {
            "SIGINT"
        } else {
            "SIGTERM"
        };
        write!(f, "interrupted by {name}; removed what it had created")
    }
}

impl Error for Interrupted {}

/// The first two CPUs this process may run on, or its only one twice. Two processes that wait
/// for each other by spinning should not share one CPU: each spin only delays the other.
pub fn two_cpus() -> Result<[usize; 2], Box<dyn Error>> {
    let allowed =
        sched_getaffinity(Pid::from_raw(0)).map_err(|e| format!("sched_getaffinity: {e}"))?;
    let mut cpus = (0..CpuSet::count()).filter(|&cpu| allowed.is_set(cpu).unwrap_or(false));
    let first = cpus.next().ok_or("sched_getaffinity: no CPU allowed")?;
    Ok([first, cpus.next().unwrap_or(first)])
}

/// Restricts the calling process to `cpu` (sched_setaffinity) until the returned value is
/// dropped, which restores the CPUs it had before.
pub fn pin_to(cpu: usize) -> Result<Pinned, Box<dyn Error>> {
    let before =
        sched_getaffinity(Pid::from_raw(0)).map_err(|e| format!("sched_getaffinity: {e}"))?;
    let mut only = CpuSet::new();
    only.set(cpu).map_err(|e| format!("CPU {cpu}: {e}"))?;
    sched_setaffinity(Pid::from_raw(0), &only)
        .map_err(|e| format!("sched_setaffinity CPU {cpu}: {e}"))?;
    Ok(Pinned(before))
}

/// See [`pin_to`].
pub struct Pinned(CpuSet);

impl Drop for Pinned {
    fn drop(&mut self) {
        let _ = sched_setaffinity(Pid::from_raw(0), &self.0);
    }
}

/// A forked child; `Drop` kills (SIGKILL) and reaps it if it has not been reaped yet.
pub struct Child {
    pub pid: Pid,
    reaped: bool,
}

/// Forks a child that runs `body` and exits: 0 on `Ok`, 1 (after one line on stderr) on `Err`.
/// The child never returns into the caller, so the parent's owners (names, mappings) are never
/// dropped twice; it dies with the parent (PR_SET_PDEATHSIG), so it is never an orphan.
pub fn spawn(body: impl FnOnce() -> Result<(), Box<dyn Error>>) -> Result<Child, Box<dyn Error>> {
    // Unflushed output would be printed twice, once by each process.
    std::io::stdout()
        .flush()
        .map_err(|e| format!("flush stdout: {e}"))?;
    let parent = getpid();
    // SAFETY: this program never starts a thread (signal-hook's flag handlers do not), so the
    // child gets a consistent copy of every lock and allocator state. The child only runs
    // `body` and exits; it never returns into the caller.
    match unsafe { fork() }.map_err(|e| format!("fork: {e}"))? {
        ForkResult::Parent { child } => Ok(Child {
            pid: child,
            reaped: false,
        }),
        ForkResult::Child => {
            // If the parent already died before prctl, getppid() shows it.
            if set_pdeathsig(Signal::SIGKILL).is_err() || getppid() != parent {
                std::process::exit(1);
            }
            // No panic may unwind past here, nor a failed write to stderr cause one: up the
            // stack lie the parent's owners, and dropping them in the child would unlink the
            // parent's names and kill its other children.
            let code = catch_unwind(AssertUnwindSafe(|| match body() {
                Ok(()) => 0,
                Err(e) => {
                    let _ = writeln!(std::io::stderr(), "shm-demo: child {}: {e}", getpid());
                    1
                }
            }));
            std::process::exit(code.unwrap_or(101))
        }
    }
}

impl Child {
    /// Non-blocking: `Some(status)` once the child has exited (and is reaped).
    pub fn try_wait(&mut self) -> Result<Option<WaitStatus>, Box<dyn Error>> {
        if self.reaped {
            return Err("child already reaped".into());
        }
        match waitpid(self.pid, Some(WaitPidFlag::WNOHANG))
            .map_err(|e| format!("waitpid {}: {e}", self.pid))?
        {
            WaitStatus::StillAlive => Ok(None),
            status => {
                self.reaped = true;
                Ok(Some(status))
            }
        }
    }

    /// Waits for the child, checking `stop` and giving up after `limit`.
    pub fn wait(&mut self, stop: &Stop, limit: Duration) -> Result<WaitStatus, Box<dyn Error>> {
        let deadline = Instant::now() + limit;
        loop {
            if let Some(status) = self.try_wait()? {
                return Ok(status);
            }
            stop.check()?;
            if Instant::now() > deadline {
                return Err(format!("child {} still running after {limit:?}", self.pid).into());
            }
            std::thread::sleep(Duration::from_millis(2));
        }
    }

    /// Waits and insists on a clean exit (status 0).
    pub fn wait_ok(&mut self, stop: &Stop, limit: Duration) -> Result<(), Box<dyn Error>> {
        match self.wait(stop, limit)? {
            WaitStatus::Exited(_, 0) => Ok(()),
            status => Err(format!("child {} ended badly: {status:?}", self.pid).into()),
        }
    }
}

impl Drop for Child {
    fn drop(&mut self) {
        if !self.reaped {
            let _ = kill(self.pid, Signal::SIGKILL);
            let _ = waitpid(self.pid, None);
        }
    }
}

/// Waits for all `children`; the first failure (or a signal) ends the wait, and every child
/// still running is killed at once (dropping them then reaps them).
pub fn wait_all(
    children: &mut [Child],
    stop: &Stop,
    limit: Duration,
) -> Result<(), Box<dyn Error>> {
    let result = wait_for_each(children, stop, limit);
    if result.is_err() {
        // All before reaping any: a child killed while it holds a shared lock would otherwise
        // wake a sibling with EOWNERDEAD, and that sibling would report an error of its own.
        for child in children.iter().filter(|c| !c.reaped) {
            let _ = kill(child.pid, Signal::SIGKILL);
        }
    }
    result
}

fn wait_for_each(
    children: &mut [Child],
    stop: &Stop,
    limit: Duration,
) -> Result<(), Box<dyn Error>> {
    let deadline = Instant::now() + limit;
    loop {
        let mut running = 0;
        for child in children.iter_mut().filter(|c| !c.reaped) {
            match child.try_wait()? {
                None => running += 1,
                Some(WaitStatus::Exited(_, 0)) => {}
                Some(status) => {
                    return Err(format!("child {} ended badly: {status:?}", child.pid).into());
                }
            }
        }
        if running == 0 {
            return Ok(());
        }
        stop.check()?;
        if Instant::now() > deadline {
            return Err(format!("children still running after {limit:?}").into());
        }
        std::thread::sleep(Duration::from_millis(2));
    }
}
