//! Step 7: async-signal-safety. A handler runs in the middle of whatever the thread was doing;
//! if that was holding a lock the handler also takes, the thread waits for itself, forever.
//!
//! Two children run the same main loop (append to a log under a `Mutex`, which also
//! allocates) and take the same storm of SIGRTMIN; the parent watches their progress reports.
//! The first child's handler appends to the log itself: it deadlocks as soon as a signal lands
//! while the main loop holds the lock (a race, so the step says whether it happened this run).
//! The second does it the signal-hook way: the handler only records the signal (an atomic
//! add, registered with `signal_hook::low_level::register`), and the main loop, ordinary code,
//! does the logging. (Not `signal_hook::low_level::pipe` here: it wakes a loop up, but its
//! non-blocking writes are dropped when the socket is full, so it cannot count a storm.)

use std::time::{Duration, Instant};

use nix::sys::signal::Signal;
use plumbing::child::{Child, Heard, describe};
use plumbing::tour::{duration, heading};
use plumbing::verdict::{self, Verdict, judge};
use plumbing::{Result, procfs};

use super::sigqueue_rtmin;
use crate::roles::{REPLY_TIMEOUT, start_ready};

/// How long without a progress report (the child reports every 10 ms) means stuck.
const STUCK_AFTER: Duration = Duration::from_millis(300);
/// Signals per burst; one burst per millisecond.
const BURST: u32 = 10;

pub fn run(step: u32, signals: u32) -> Result {
    heading(step, "async-signal-safety — a handler that takes a lock");
    let mut child = start_ready("handler", &[])?;
    let pid = child.pid();
    println!("  child {pid}: its main loop appends to a log under a Mutex; its SIGRTMIN");
    println!("  handler appends to the same log (a lock and an allocation: neither is");
    println!("  async-signal-safe). {signals} SIGRTMIN, {BURST} a millisecond; stuck = no");
    println!(
        "  progress report for {} ms while asleep in the kernel.",
        STUCK_AFTER.as_millis()
    );
    let locking = storm(&mut child, signals, Duration::from_secs(3))?;
    say_unsafe(&locking);
    println!("  (a race: it hangs only if a signal lands while the lock is held)");
    end(child)?;

    let mut child = start_ready("handler", &["--safe"])?;
    let pid = child.pid();
    println!("  child {pid}, the signal-hook way: its handler only records the signal");
    println!("  (an atomic add, signal_hook::low_level::register); the main loop logs it.");
    match storm(&mut child, signals, Duration::from_secs(5))? {
        Outcome::Completed {
            sent,
            handled,
            took,
        } if handled == u64::from(signals) => {
            let took = duration(took);
            println!("  -> {sent} sent, {handled} handled by the main loop in {took}");
            let (v, because) = safety_claim(&locking, handled);
            verdict::record("a handler may only call async-signal-safe code", v, because);
        }
        Outcome::Completed { handled, took, .. } => {
            let late = format!(
                "handled {handled} of {signals} signals in {}",
                duration(took)
            );
            return Err(format!("the safe child {pid} {late}").into());
        }
        Outcome::Deadlocked { wchan, .. } => {
            return Err(format!("the safe child {pid} is stuck at {wchan}").into());
        }
    }
    end(child)?;
    Ok(())
}

/// How a storm ended.
enum Outcome {
    /// No progress report for STUCK_AFTER, asleep in the kernel at `wchan`. The last report
    /// came when `sent` signals had been sent, and said `handled` had been handled.
    Deadlocked {
        sent: u32,
        handled: u64,
        wchan: String,
    },
    /// Every signal sent was handled, or the time ran out first without a deadlock.
    Completed {
        sent: u32,
        handled: u64,
        took: Duration,
    },
}

/// The child's latest progress report (signals handled), and when it last reported.
struct Watch {
    handled: u64,
    heard_at: Instant,
    /// Signals we had sent when that report came.
    sent_then: u32,
}

impl Watch {
    /// Reads every progress line the child has written within `wait`.
    fn listen(&mut self, child: &mut Child, sent: u32, wait: Duration) -> Result {
        let end = Instant::now() + wait;
        loop {
            let left = end.saturating_duration_since(Instant::now());
            match child.hear(left)? {
                Heard::Line(line) => {
                    let handled = line.rsplit_once(' ').and_then(|(_, n)| n.parse().ok());
                    self.handled = handled.ok_or_else(|| format!("child said {line:?}"))?;
                    self.heard_at = Instant::now();
                    self.sent_then = sent;
                }
                Heard::Timeout => return Ok(()),
                Heard::Closed => return Err(format!("child {} died", child.pid()).into()),
            }
        }
    }

    /// Stuck: silent for STUCK_AFTER and asleep ('S') in the kernel, not merely not scheduled.
    fn stuck(&self, child: &Child) -> Result<Option<String>> {
        if self.heard_at.elapsed() < STUCK_AFTER {
            return Ok(None);
        }
        let pid = child.pid().as_raw();
        let state = procfs::state(pid).map_err(|e| format!("read /proc/{pid}/stat: {e}"))?;
        if state != 'S' {
            return Ok(None);
        }
        let wchan = procfs::wchan(pid).map_err(|e| format!("read /proc/{pid}/wchan: {e}"))?;
        Ok(Some(wchan))
    }
}

/// Sends `signals` SIGRTMIN, BURST per millisecond, then waits for them to be handled; at
/// most `limit` in all. A child that stops making progress ends the storm early.
fn storm(child: &mut Child, signals: u32, limit: Duration) -> Result<Outcome> {
    let start = Instant::now();
    let mut watch = Watch {
        handled: 0,
        heard_at: start,
        sent_then: 0,
    };
    let mut sent = 0;
    while start.elapsed() < limit {
        if sent < signals {
            for _ in 0..BURST.min(signals - sent) {
                sent += 1;
                sigqueue_rtmin(child.pid(), sent as usize)?;
            }
        }
        watch.listen(child, sent, Duration::from_millis(1))?;
        if watch.handled >= u64::from(signals) {
            break;
        }
        if let Some(wchan) = watch.stuck(child)? {
            return Ok(Outcome::Deadlocked {
                sent: watch.sent_then,
                handled: watch.handled,
                wchan,
            });
        }
    }
    Ok(Outcome::Completed {
        sent,
        handled: watch.handled,
        took: start.elapsed(),
    })
}

/// The lecture: a handler may only call async-signal-safe functions. Holds when the handler
/// that takes a lock hung (`locking`) and the one that only records handled all it was sent
/// (`handled`); qualified when the locking one survived this storm (it is a race).
fn safety_claim(locking: &Outcome, handled: u64) -> (Verdict, String) {
    let (hung, first) = match locking {
        Outcome::Deadlocked {
            sent,
            handled,
            wchan,
        } => {
            let place = match wchan.as_str() {
                "" | "0" => "a hidden wchan".to_string(),
                wchan => wchan.to_string(),
            };
            (
                true,
                format!(
                    "a handler that locks hung at {place}, last heard at {sent} sent, {handled} handled"
                ),
            )
        }
        Outcome::Completed { sent, handled, .. } => (
            false,
            format!("a handler that locks survived ({sent} sent, {handled} handled)"),
        ),
    };
    let because = format!("{first}; one that records handled {handled}");
    (judge(handled > 0, !hung), because)
}

/// What the unsafe child's storm showed, in one of its two honest forms.
fn say_unsafe(outcome: &Outcome) {
    match *outcome {
        Outcome::Deadlocked {
            sent,
            handled,
            ref wchan,
        } => {
            if sent == 0 {
                println!("  -> deadlocked at once: not one progress report since the storm began.");
            } else {
                println!("  -> deadlocked: its last report came after {sent} signals sent, with");
                println!("     {handled} handled; none since.");
            }
            match wchan.as_str() {
                "" | "0" => println!("     Asleep in the kernel (where: /proc hides its wchan)"),
                _ => println!("     Asleep in the kernel at {wchan}"),
            }
            if wchan.contains("futex") {
                println!("     (a futex: its handler waits for the Mutex its own thread holds).");
            }
        }
        Outcome::Completed {
            sent,
            handled,
            took,
        } => {
            let took = duration(took);
            println!("  -> did not deadlock this time: {sent} sent, {handled} handled in {took}");
        }
    }
}

/// SIGKILL: the one way to end a thread stuck in its own handler. Reaps it and says so.
fn end(mut child: Child) -> Result {
    child.signal(Signal::SIGKILL)?;
    let status = child.wait(REPLY_TIMEOUT)?;
    println!(
        "  kill({}, SIGKILL): the child {}",
        child.pid(),
        describe(status)
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hang_confirms_it_and_a_survival_qualifies_it() {
        let hung = Outcome::Deadlocked {
            sent: 40,
            handled: 38,
            wchan: "futex_do_wait".into(),
        };
        let (v, because) = safety_claim(&hung, 1000);
        assert_eq!(v, Verdict::Confirmed);
        assert_eq!(
            because,
            "a handler that locks hung at futex_do_wait, last heard at 40 sent, \
             38 handled; one that records handled 1000"
        );
        let survived = Outcome::Completed {
            sent: 1000,
            handled: 1000,
            took: Duration::from_millis(300),
        };
        let (v, because) = safety_claim(&survived, 1000);
        assert_eq!(v, Verdict::Qualified);
        assert!(because.starts_with("a handler that locks survived (1000 sent"));
        assert_eq!(safety_claim(&hung, 0).0, Verdict::Refuted);
    }
}
