//! The per-measurement watchdog: a child that hangs without dying is SIGKILLed.
//!
//! The parent spends most of a measurement blocked inside a mechanism's read or write, waiting
//! for the child. Every demo end returns EOF / an error within 2 s once its peer is dead, so
//! killing the child is what unblocks the parent. A stop signal (Ctrl-C, SIGTERM, SIGHUP,
//! SIGQUIT) does that through `plumbing::stop::kill_on_stop`; this module does the same when
//! a measurement makes no progress for too long (SIGALRM), and sets a flag so the row fails
//! with that reason.

use std::io;
use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};

use nix::sys::signal::{Signal, kill};
use nix::unistd::{Pid, alarm};

/// The watchdog's signal (alarm(2)'s). A forked child gives it back its default action, so
/// the parent's handler, copied by fork, never runs there.
pub const SIGNAL: Signal = Signal::SIGALRM;

/// Set when the watchdog fired during the current measurement.
static TIMED_OUT: AtomicBool = AtomicBool::new(false);
/// The child being measured, or 0.
static CHILD: AtomicI32 = AtomicI32::new(0);

/// Registers the SIGALRM handler (call once, before any fork).
pub fn install() -> io::Result<()> {
    // SAFETY: the action only stores to an atomic and calls kill(2); both are
    // async-signal-safe, and nothing here allocates or locks.
    let registered = unsafe {
        signal_hook::low_level::register(SIGNAL as i32, || {
            TIMED_OUT.store(true, Ordering::SeqCst);
            let child = CHILD.load(Ordering::SeqCst);
            // `child` is our unreaped child (see `disarm`), so the pid cannot have been reused.
            if child > 0 {
                let _ = kill(Pid::from_raw(child), Signal::SIGKILL);
            }
        })
    };
    registered
        .map(drop)
        .map_err(|e| io::Error::new(e.kind(), format!("sigaction SIGALRM: {e}")))
}

/// Arms the watchdog: `child` is SIGKILLed if the measurement is still running in `secs`
/// seconds (0: no watchdog). Clears the flag of the previous measurement.
pub fn arm(secs: u32, child: Pid) {
    TIMED_OUT.store(false, Ordering::SeqCst);
    CHILD.store(child.as_raw(), Ordering::SeqCst);
    if secs > 0 {
        alarm::set(secs);
    }
}

/// Disarms the watchdog and forgets the child. Call it BEFORE reaping the child, so a
/// recycled pid can never be hit.
pub fn disarm() {
    alarm::cancel();
    CHILD.store(0, Ordering::SeqCst);
}

/// Did the watchdog fire since it was armed?
pub fn timed_out() -> bool {
    TIMED_OUT.load(Ordering::SeqCst)
}
