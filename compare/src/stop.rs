//! Ctrl-C, SIGTERM and the per-measurement watchdog.
//!
//! The parent spends most of its time blocked inside a mechanism's read or write, waiting for the
//! child. So the handlers do not just raise a flag: they SIGKILL the current child. Every demo
//! end returns EOF / an error within 2 s once its peer is dead, the parent's loop sees the flag,
//! reaps the child and the run stops. The watchdog (SIGALRM) does the same for a child that
//! hangs without dying.

use std::io;
use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

/// The signal (SIGINT / SIGTERM) that asked us to stop, or 0.
static STOP: AtomicI32 = AtomicI32::new(0);
/// Set when the watchdog fired during the current measurement.
static TIMED_OUT: AtomicBool = AtomicBool::new(false);
/// The child being measured, or 0.
static CHILD: AtomicI32 = AtomicI32::new(0);

fn kill_child() {
    let pid = CHILD.load(Ordering::SeqCst);
    if pid > 0 {
        let _ = kill(Pid::from_raw(pid), Signal::SIGKILL);
    }
}

/// Registers the SIGINT, SIGTERM and SIGALRM handlers (call once, before any fork).
pub fn install() -> io::Result<()> {
    for signal in [libc::SIGINT, libc::SIGTERM] {
        // SAFETY: the action only stores to atomics and calls kill(2); both are
        // async-signal-safe, and nothing here allocates or locks.
        unsafe {
            signal_hook::low_level::register(signal, move || {
                STOP.store(signal, Ordering::SeqCst);
                kill_child();
            })
        }?;
    }
    // SAFETY: as above: atomics and kill(2) only.
    unsafe {
        signal_hook::low_level::register(libc::SIGALRM, || {
            TIMED_OUT.store(true, Ordering::SeqCst);
            kill_child();
        })
    }?;
    Ok(())
}

/// The signal that asked us to stop, if any.
pub fn requested() -> Option<i32> {
    match STOP.load(Ordering::SeqCst) {
        0 => None,
        signal => Some(signal),
    }
}

/// Names the child the handlers must kill (0 = none). Clear it BEFORE reaping, so a recycled
/// pid can never be hit.
pub fn set_child(pid: i32) {
    CHILD.store(pid, Ordering::SeqCst);
}

/// Arms the watchdog for `secs` seconds (0 disarms it) and clears its flag.
pub fn arm_watchdog(secs: u32) {
    TIMED_OUT.store(false, Ordering::SeqCst);
    match secs {
        0 => {
            nix::unistd::alarm::cancel();
        }
        secs => {
            nix::unistd::alarm::set(secs);
        }
    }
}

/// Did the watchdog fire since it was armed?
pub fn timed_out() -> bool {
    TIMED_OUT.load(Ordering::SeqCst)
}

/// In a freshly forked child: back to the default actions, so Ctrl-C in the terminal ends the
/// child too, and the parent's handlers (copied by fork) never run here.
pub fn reset_in_child() -> nix::Result<()> {
    use nix::sys::signal::{SigHandler, signal};
    for sig in [Signal::SIGINT, Signal::SIGTERM, Signal::SIGALRM] {
        // SAFETY: installs SIG_DFL, which runs no code in this process.
        unsafe { signal(sig, SigHandler::SigDfl) }?;
    }
    Ok(())
}
