//! sigqueue(3): a real-time signal that carries one word of data, and is queued, not merged.

use std::io;
use std::ptr;

use nix::unistd::Pid;

/// Sends `signal` to `peer` with `value` as its `si_value` (nix does not wrap sigqueue).
///
/// An error is `EAGAIN` when this user's queue of pending signals is full
/// (`RLIMIT_SIGPENDING`), `ESRCH` when the peer is gone, `EPERM` for a process you do not own.
pub fn sigqueue(peer: Pid, signal: libc::c_int, value: usize) -> io::Result<()> {
    let data = libc::sigval {
        sival_ptr: ptr::without_provenance_mut(value),
    };
    // SAFETY: plain values in, no memory of ours is touched; the kernel copies the sigval.
    if unsafe { libc::sigqueue(peer.as_raw(), signal, data) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}
