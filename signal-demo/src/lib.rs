//! signal-demo's library part, used by `compare`: the signals row of the lecture's design-space
//! table, and a *doorbell* — the smallest signal exchange two processes can time.
//!
//! Signals carry no bytes, so instead of a `Read + Write` pair this crate offers three calls:
//! block the doorbell (before fork, so both sides inherit the mask), ring a peer by pid, and wait
//! for a ring with a timeout. The waiting side takes the signal synchronously with
//! `sigtimedwait(2)`: no handler runs, so the doorbell registers no signal handler and keeps no
//! global state.
//!
//! Also the two signal calls several of the tour's steps make: whether a signal can be caught
//! (a `sigaction(2)` probe, undone at once) and `sigqueue(3)`, a signal with one word of data.

mod catchable;
mod queued;

pub use catchable::try_install_handler;
pub use queued::sigqueue;

use std::io;
use std::mem::MaybeUninit;
use std::ptr;
use std::time::Duration;

use nix::unistd::Pid;
use plumbing::design::Row;

/// Signals' row of the lecture's design-space table.
pub const DESIGN_ROW: Row = Row {
    data: "notification only",
    structure: "enum (signal number)",
    direction: "one-way",
    naming: "by PID",
    coordination: "kernel delivers (async)",
    persistence: "while processes run",
};

/// The doorbell signal: `SIGRTMIN`, the first real-time signal.
///
/// Why not SIGUSR1: a standard signal is one *pending bit*, so a second ring sent before the first
/// is taken would silently merge with it. Real-time signals are *queued*: every ring is delivered,
/// so a ping-pong can never lose or merge one. It also leaves SIGUSR1/SIGUSR2 free for the program
/// being measured. (glibc reserves the first two kernel real-time signals for itself;
/// `libc::SIGRTMIN()` already skips them.)
fn doorbell_signal() -> libc::c_int {
    libc::SIGRTMIN()
}

/// A signal set holding only the doorbell.
fn doorbell_set() -> io::Result<libc::sigset_t> {
    let mut set = MaybeUninit::<libc::sigset_t>::uninit();
    // SAFETY: `set` is writable memory of the right type; sigemptyset initialises all of it
    // before sigaddset reads it, and we only assume_init after both succeeded.
    unsafe {
        if libc::sigemptyset(set.as_mut_ptr()) != 0
            || libc::sigaddset(set.as_mut_ptr(), doorbell_signal()) != 0
        {
            return Err(io::Error::last_os_error());
        }
        Ok(set.assume_init())
    }
}

/// Blocks the doorbell signal in the calling thread; call before fork so both sides inherit it.
///
/// Blocked, a ring stays pending (queued) until [`wait_doorbell`] takes it, so a ring that arrives
/// before the peer starts waiting is not lost, and no handler is ever needed. A process started
/// with `std::process::Command` does not inherit the mask (std resets it): such a child must call
/// this itself before it tells its parent it is ready.
pub fn block_doorbell() -> io::Result<()> {
    let set = doorbell_set()?;
    // SAFETY: `set` is an initialised sigset_t; a null old-set pointer is allowed.
    let rc = unsafe { libc::pthread_sigmask(libc::SIG_BLOCK, &set, ptr::null_mut()) };
    if rc != 0 {
        return Err(io::Error::from_raw_os_error(rc));
    }
    Ok(())
}

/// Sends the doorbell to `peer`.
///
/// `kill(2)` with a real-time signal (nix's `kill` takes only the standard signals). An error is
/// `ESRCH` when the peer is gone, `EAGAIN` if the receiver's queue of real-time signals is full
/// (`RLIMIT_SIGPENDING`), `EPERM` for a process you do not own.
pub fn ring(peer: Pid) -> io::Result<()> {
    // SAFETY: kill takes two integers and touches no memory of ours.
    let rc = unsafe { libc::kill(peer.as_raw(), doorbell_signal()) };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Waits for the doorbell; Ok(false) when `timeout` passes first (so callers can check whether
/// the peer is still alive and never wait forever).
///
/// Also Ok(false) when a *handled* signal (e.g. a Ctrl-C flag) interrupts the wait, so the caller
/// can check its flags. The doorbell must be blocked ([`block_doorbell`]) in this thread.
pub fn wait_doorbell(timeout: Duration) -> io::Result<bool> {
    let set = doorbell_set()?;
    let limit = libc::timespec {
        tv_sec: libc::time_t::try_from(timeout.as_secs()).unwrap_or(libc::time_t::MAX),
        tv_nsec: libc::c_long::from(timeout.subsec_nanos()),
    };
    // SAFETY: `set` and `limit` are initialised and outlive the call; a null siginfo pointer
    // tells the kernel not to copy out the details.
    let signal = unsafe { libc::sigtimedwait(&set, ptr::null_mut(), &limit) };
    if signal == doorbell_signal() {
        return Ok(true);
    }
    let err = io::Error::last_os_error();
    match err.raw_os_error() {
        Some(libc::EAGAIN) | Some(libc::EINTR) => Ok(false),
        _ => Err(err),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn design_row_fits_its_column() {
        assert!(DESIGN_ROW.fits());
    }

    #[test]
    fn doorbell_is_a_real_time_signal() {
        assert!((libc::SIGRTMIN()..=libc::SIGRTMAX()).contains(&doorbell_signal()));
    }
}
