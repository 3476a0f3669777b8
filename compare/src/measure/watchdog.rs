//! The per-measurement watchdog: a child that hangs without dying is SIGKILLed.
//!
//! The parent spends most of a measurement blocked inside a mechanism's read or write, waiting
//! for the child. Every demo end returns EOF / an error within 2 s once its peer is dead, so
//! killing the child is what unblocks the parent. A stop signal (Ctrl-C, SIGTERM, SIGHUP,
//! SIGQUIT, SIGALRM...) does that through `plumbing::stop::kill_on_stop`; the watchdog does the
//! same when a measurement makes no progress for too long, and says why, so the row fails with
//! that reason. It watches in one of two ways:
//!
//! - a bound on the whole measurement, when the run caps each round's time: a measurement
//!   still running `secs` after it started has hung;
//! - with no cap (`--iters N` takes N samples however long that is), a bound on stillness:
//!   every [`TICK`] it reads how long the child has been on a CPU (/proc/PID/schedstat), and a
//!   child that has not run for [`STILL`] has answered no message in that time (every round
//!   trip needs it to read and reply), whether it was stopped (SIGSTOP) or is blocked.
//!
//! The watchdog is a thread of the parent, started after the fork and joined before the reap,
//! so compare is still single-threaded whenever it forks. A thread rather than alarm(2):
//! SIGALRM would interrupt the parent's msgrcv or sigtimedwait, which SA_RESTART does not
//! resume, and it stays free for the stop flag (an outside SIGALRM stops the run cleanly).

use std::fs;
use std::sync::mpsc::{self, RecvTimeoutError, Sender};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

/// With no bound on the whole measurement: how often the child's CPU time is read, and how
/// long it may stand still before it is killed.
pub const TICK: Duration = Duration::from_secs(1);
pub const STILL: Duration = Duration::from_secs(10);

/// An armed watchdog: its thread, and the channel that disarms it.
pub struct Watchdog {
    disarm: Option<Sender<()>>,
    thread: Option<JoinHandle<Option<String>>>,
}

impl Watchdog {
    /// Arms a watchdog for `child`: it is SIGKILLed if the measurement is still running in
    /// `secs` seconds, or, with `secs` 0, once it has not run on a CPU for [`STILL`]. Fails
    /// only when the thread cannot start (a limit on processes and threads: EAGAIN).
    pub fn arm(secs: u32, child: Pid) -> Result<Watchdog, String> {
        let bound = (secs > 0).then(|| Duration::from_secs(u64::from(secs)));
        let (disarm, disarmed) = mpsc::channel();
        let thread = thread::Builder::new()
            .name("watchdog".to_string())
            .stack_size(256 << 10)
            .spawn(move || watch(child, bound, |wait| disarmed.recv_timeout(wait)))
            .map_err(|e| format!("the watchdog's thread: {e}"))?;
        Ok(Watchdog {
            disarm: Some(disarm),
            thread: Some(thread),
        })
    }

    /// Disarms the watchdog and waits for its thread: why it killed the child, if it did.
    /// Call it BEFORE reaping the child, so a recycled pid can never be hit.
    pub fn disarm(mut self) -> Option<String> {
        self.stop()
    }

    fn stop(&mut self) -> Option<String> {
        drop(self.disarm.take()); // wakes the thread at once
        self.thread.take()?.join().ok().flatten()
    }
}

impl Drop for Watchdog {
    /// A session that unwinds (a panic) still joins the thread before its child is reaped.
    fn drop(&mut self) {
        let _ = self.stop();
    }
}

/// The watchdog's thread: waits with `wait` (which ends early when disarmed) until the bound
/// or the stillness watch fires, then SIGKILLs `child` and says why.
fn watch(
    child: Pid,
    bound: Option<Duration>,
    wait: impl Fn(Duration) -> Result<(), RecvTimeoutError>,
) -> Option<String> {
    let started = Instant::now();
    let mut last_ran = None;
    let mut still_since = started;
    loop {
        let pause = bound.map_or(TICK, |b| b.saturating_sub(started.elapsed()));
        if wait(pause) != Err(RecvTimeoutError::Timeout) {
            return None; // disarmed
        }
        let why = match bound {
            Some(b) if started.elapsed() >= b => Some(format!(
                "no progress within the {} s watchdog; the child was killed",
                b.as_secs()
            )),
            Some(_) => None,
            None => {
                let ran = cpu_time(child);
                if ran.is_none() || ran != last_ran {
                    (last_ran, still_since) = (ran, Instant::now());
                }
                (still_since.elapsed() >= STILL).then(|| {
                    format!(
                        "no progress for {} s: the child did not run on a CPU in that time \
                         ({}); it was killed",
                        STILL.as_secs(),
                        state_words(child)
                    )
                })
            }
        };
        if why.is_some() {
            // `child` is our unreaped child (the session joins us before it reaps), so the
            // pid cannot have been reused.
            let _ = kill(child, Signal::SIGKILL);
            return why;
        }
    }
}

/// How long `child` has run on a CPU: the first field of /proc/PID/schedstat (ns), or where
/// the kernel has no schedstat, utime + stime of /proc/PID/stat (clock ticks). `None` when
/// neither can be read: then the watch never fires.
fn cpu_time(child: Pid) -> Option<u64> {
    if let Ok(text) = fs::read_to_string(format!("/proc/{child}/schedstat")) {
        return text.split_whitespace().next()?.parse().ok();
    }
    let stat = fs::read_to_string(format!("/proc/{child}/stat")).ok()?;
    let mut fields = after_comm(&stat).skip(11); // the state is field 3; utime 14, stime 15
    let utime: u64 = fields.next()?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    Some(utime + stime)
}

/// The fields of /proc/PID/stat after the command name, which may itself hold spaces and
/// parentheses: the state letter first.
fn after_comm(stat: &str) -> impl Iterator<Item = &str> {
    let rest = stat.rfind(')').map_or("", |i| &stat[i + 1..]);
    rest.split_whitespace()
}

/// What the state letter of /proc/PID/stat says about a child that did not run.
fn state_words(child: Pid) -> String {
    let stat = fs::read_to_string(format!("/proc/{child}/stat")).unwrap_or_default();
    match after_comm(&stat).next() {
        Some("T") => "it was stopped, state T: SIGSTOP or the like".to_string(),
        Some("t") => "it was stopped by a debugger, state t".to_string(),
        Some("S") => "it was asleep, state S, waiting for what never came".to_string(),
        Some("D") => "it was in uninterruptible sleep, state D".to_string(),
        Some("R") => "it was runnable, state R, but got no CPU".to_string(),
        Some(other) => format!("state {other}"),
        None => "its state could not be read".to_string(),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use std::process::Command;

    #[test]
    fn a_stopped_process_stands_still_and_says_so() {
        let mut busy = Command::new("sh")
            .args(["-c", "while :; do :; done"])
            .spawn()
            .unwrap();
        let pid = Pid::from_raw(busy.id() as i32);
        let first = cpu_time(pid).unwrap();
        thread::sleep(Duration::from_millis(50));
        assert!(cpu_time(pid).unwrap() > first);
        kill(pid, Signal::SIGSTOP).unwrap();
        thread::sleep(Duration::from_millis(50));
        let stopped = cpu_time(pid).unwrap();
        thread::sleep(Duration::from_millis(50));
        assert_eq!(cpu_time(pid).unwrap(), stopped);
        assert!(state_words(pid).contains("state T"), "{}", state_words(pid));
        busy.kill().unwrap();
        busy.wait().unwrap();
        assert_eq!(after_comm("1 (a) b) S 0").next(), Some("S"));
    }

    #[test]
    fn a_disarmed_watchdog_says_nothing_and_a_bound_fires() {
        let mut sleeper = Command::new("sleep").arg("30").spawn().unwrap();
        let pid = Pid::from_raw(sleeper.id() as i32);
        assert_eq!(Watchdog::arm(0, pid).unwrap().disarm(), None);
        let fired = Watchdog::arm(1, pid).unwrap();
        thread::sleep(Duration::from_millis(1500));
        let why = fired.disarm().unwrap();
        assert!(why.contains("within the 1 s watchdog"), "{why}");
        let status = sleeper.wait().unwrap();
        assert_eq!(
            std::os::unix::process::ExitStatusExt::signal(&status),
            Some(9)
        );
    }
}
