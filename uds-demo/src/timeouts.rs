//! The waits every client and server here bounds: a reply that never comes, a listener polled
//! so that a stop signal is noticed. Socket options, set the same way on a socket of any family.

use std::os::fd::{AsFd, BorrowedFd};
use std::time::Duration;

use nix::errno::Errno;
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use nix::sys::socket::{setsockopt, sockopt};
use nix::sys::time::{TimeVal, TimeValLike};
use plumbing::Result;

/// How long a client waits for any one reply.
pub const REPLY_TIMEOUT: Duration = Duration::from_secs(2);

/// SO_RCVTIMEO (and SO_SNDTIMEO when `write` is given): socket options, set the same way on a
/// socket of any family. A read that waits longer fails with EAGAIN.
pub fn set_timeouts(socket: &impl AsFd, read: Duration, write: Option<Duration>) -> Result {
    // A zero timeval would mean "wait for ever": never ask for less than a microsecond.
    let timeval = |d: Duration| {
        TimeVal::microseconds(i64::try_from(d.as_micros()).unwrap_or(i64::MAX).max(1))
    };
    setsockopt(socket, sockopt::ReceiveTimeout, &timeval(read))
        .map_err(|e| format!("setsockopt SO_RCVTIMEO: {e}"))?;
    if let Some(write) = write {
        setsockopt(socket, sockopt::SendTimeout, &timeval(write))
            .map_err(|e| format!("setsockopt SO_SNDTIMEO: {e}"))?;
    }
    Ok(())
}

/// Waits up to 100 ms for `fd` to become readable (so the caller can check the stop flag).
/// Ok(false) on timeout or EINTR.
pub fn readable_within_100ms(fd: BorrowedFd<'_>) -> Result<bool> {
    let mut fds = [PollFd::new(fd, PollFlags::POLLIN)];
    match poll(&mut fds, PollTimeout::from(100u16)) {
        Ok(n) => Ok(n > 0),
        Err(Errno::EINTR) => Ok(false),
        Err(e) => Err(format!("poll: {e}").into()),
    }
}
