//! A child whose exit status says why it ended ([`ExitReason`]), forked with [`fork_with`] by a
//! caller that must know what went wrong in it (a corrupted message, a failed read, a peer that
//! left), and reaped with a deadline ([`Child::reap`]).

use std::fmt;
use std::io::{self, Write};
use std::os::fd::BorrowedFd;
use std::panic::{self, AssertUnwindSafe};
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::sys::prctl;
use nix::sys::signal::{Signal, kill};
use nix::sys::wait::{WaitPidFlag, WaitStatus, waitpid};
use nix::unistd::{Pid, getpid, getppid};

use super::{Child, Leave, close_in_child, fork_into};
use crate::{Result, cpu, program, stop};

/// Why a child of [`fork_with`] ended, as its exit status says: fixed codes, so the parent
/// reads the reason back from the status ([`ExitReason::from_code`]). The child says the
/// details in one line on stderr before it leaves; the reason is the parent's summary.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitReason {
    /// Its work is done (status 0).
    Done,
    /// A message arrived changed: the payload failed its check (10).
    Mismatch,
    /// A read or a write failed (11).
    Io,
    /// It could not start: see [`Start`] (12).
    Setup,
    /// Its peer closed its end without the end message, or died (13).
    PeerGone,
    /// A bug: it panicked, and the panic message is above (14).
    Panic,
}

impl ExitReason {
    const ALL: [ExitReason; 6] = [
        ExitReason::Done,
        ExitReason::Mismatch,
        ExitReason::Io,
        ExitReason::Setup,
        ExitReason::PeerGone,
        ExitReason::Panic,
    ];

    /// The exit status that carries this reason.
    pub fn code(self) -> i32 {
        match self {
            ExitReason::Done => 0,
            ExitReason::Mismatch => 10,
            ExitReason::Io => 11,
            ExitReason::Setup => 12,
            ExitReason::PeerGone => 13,
            ExitReason::Panic => 14,
        }
    }

    /// The reason an exit status carries, if it is one of ours.
    pub fn from_code(code: i32) -> Option<ExitReason> {
        Self::ALL.into_iter().find(|reason| reason.code() == code)
    }
}

impl fmt::Display for ExitReason {
    /// In words, as a report says it: "the child received a corrupted message".
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ExitReason::Done => "the child finished its work",
            ExitReason::Mismatch => "the child received a corrupted message",
            ExitReason::Io => "the child's read or write failed",
            ExitReason::Setup => "the child could not start",
            ExitReason::PeerGone => "the child saw its peer leave",
            ExitReason::Panic => "the child panicked",
        })
    }
}

/// What the child of [`fork_with`] does before its body, in this order.
pub struct Start<'a> {
    /// Names the child in its one line on stderr when it cannot start: "child (NAME): why".
    pub name: &'a str,
    /// Descriptors it inherits but must not hold, closed first (see
    /// [`fork_closing`](super::fork_closing)).
    pub close: &'a [BorrowedFd<'a>],
    /// Signals whose action goes back to the default (after it has asked to die with the
    /// parent): those the parent catches, so Ctrl-C ends the child like any program and the
    /// parent's handlers, copied by fork, never run in it. Numbers, not nix's `Signal`: the
    /// real-time signals that [`crate::stop`] catches have no `Signal` variant.
    pub default_actions: &'a [i32],
    /// The CPU it pins itself to, last.
    pub pin: Option<usize>,
}

/// Forks a child that starts as `start` says and runs `body`, whose [`ExitReason`] becomes its
/// exit status; a panic becomes [`ExitReason::Panic`], a failed start [`ExitReason::Setup`]
/// (after one line on stderr). `parent_only` is what only the parent keeps (its end of a channel):
/// the child drops its copy before anything else, so each process holds only its own end, and
/// the parent gets it back with the [`Child`]. The child dies with the parent, and leaves with
/// _exit: it flushes nothing copied from the parent, and what it prints on stdout must end in
/// a newline. Reap it with [`Child::reap`]. Single-threaded callers only, as
/// [`fork`](super::fork).
pub fn fork_with<P>(
    start: &Start,
    parent_only: P,
    body: impl FnOnce() -> ExitReason,
) -> Result<(Child, P)> {
    // Unflushed output would be printed twice if the child printed a line; a failure here is
    // the parent's own to meet when it next prints.
    let _ = io::stdout().flush();
    let parent = getpid();
    let mut parent_only = Some(parent_only);
    let pid = fork_into(Leave::Immediately, || {
        // No panic may unwind past here: the child would go on running the parent's code, and
        // drop the parent's owners up the stack (its names, its other children).
        let run = AssertUnwindSafe(|| {
            drop(parent_only.take());
            close_in_child(start.close);
            match start_child(start, parent) {
                Ok(()) => body(),
                Err(why) => {
                    program::say(&format!("child ({}): {why}", start.name));
                    ExitReason::Setup
                }
            }
        });
        panic::catch_unwind(run).unwrap_or(ExitReason::Panic).code()
    })?;
    let parent_only = parent_only.ok_or("fork: the parent lost its own end")?;
    Ok((Child::from_pid(pid), parent_only))
}

/// In the child of [`fork_with`]: death with `parent`, the default actions, the CPU.
fn start_child(start: &Start, parent: Pid) -> Result<(), String> {
    prctl::set_pdeathsig(Signal::SIGKILL).map_err(|e| format!("prctl(PR_SET_PDEATHSIG): {e}"))?;
    // If the parent died before prctl took effect, getppid() shows it.
    if getppid() != parent {
        return Err("the parent died before the child started".to_string());
    }
    for &signal in start.default_actions {
        // SAFETY: installs SIG_DFL, which runs no code in this process.
        if unsafe { libc::signal(signal, libc::SIG_DFL) } == libc::SIG_ERR {
            let e = nix::errno::Errno::last();
            return Err(format!("signal({signal}, SIG_DFL): {e}"));
        }
    }
    if let Some(cpu) = start.pin {
        cpu::pin(Pid::from_raw(0), cpu).map_err(|e| e.to_string())?;
    }
    Ok(())
}

/// How long [`Child::reap`] waits once a stop signal has arrived (or its patience, if that is
/// shorter): enough for a child that was told to end to remove what it owns.
pub const STOP_GRACE: Duration = Duration::from_millis(100);

/// What [`Child::reap`] collected.
#[derive(Debug, Clone, Copy)]
pub struct Reaped {
    pub status: WaitStatus,
    /// Whether the reap had to SIGKILL it (it ran past the patience, or the stop grace).
    pub killed: bool,
}

impl Child {
    /// Waits for the child to end by itself, at most `patience` (once a stop signal has
    /// arrived, at most [`STOP_GRACE`]), SIGKILLs it past that, and reaps it: no zombie and no
    /// orphan is left. Returns how it ended and whether it was killed here. A stop signal does
    /// not cut the wait short with `Interrupted` as [`Child::wait`] does: the caller wants to
    /// know how the child ended. An error from waitpid (ECHILD: it is not ours to reap) leaves
    /// it for lost, never to be signalled again.
    pub fn reap(&mut self, patience: Duration) -> Result<Reaped> {
        if self.reaped {
            return Err(format!("child {} was already reaped", self.pid).into());
        }
        let grace = patience.min(STOP_GRACE);
        let started = Instant::now();
        let mut killed = false;
        loop {
            let flags = (!killed).then_some(WaitPidFlag::WNOHANG);
            match waitpid(self.pid, flags) {
                Ok(WaitStatus::StillAlive) => {}
                Ok(status) => {
                    let status = self.collected(status);
                    return Ok(Reaped { status, killed });
                }
                Err(Errno::EINTR) => continue,
                Err(e) => {
                    self.reaped = true;
                    return Err(format!("waitpid: {e}").into());
                }
            }
            let waited = started.elapsed();
            if waited >= patience || (stop::requested().is_some() && waited >= grace) {
                let _ = kill(self.pid, Signal::SIGKILL);
                killed = true;
            } else {
                std::thread::sleep(Duration::from_micros(200));
            }
        }
    }
}
