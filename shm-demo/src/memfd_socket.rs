//! The socket side of the memfd roles: one connection, bytes and descriptors over it, every
//! wait bounded, and a peer that dies seen as an end of file within 100 ms.

use std::fs;
use std::io::{self, Read, Write};
use std::os::fd::{AsFd, AsRawFd};
use std::os::unix::net::{UnixListener, UnixStream};
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use plumbing::fdpass::{self, Received};
use plumbing::{Result, stop};

/// The longest either side waits for the other at any stage.
pub const LIMIT: Duration = Duration::from_secs(30);

/// Bytes received on `stream` and not read yet.
pub fn bytes_waiting(stream: &UnixStream) -> Result<i32> {
    let mut n: libc::c_int = 0;
    // SAFETY: FIONREAD stores one int through the pointer, which points at `n`.
    if unsafe { libc::ioctl(stream.as_raw_fd(), libc::FIONREAD, &mut n) } < 0 {
        return Err(format!("ioctl FIONREAD: {}", Errno::last()).into());
    }
    Ok(n)
}

/// Accepts one connection, waiting at most [`LIMIT`] and noticing a stop signal.
pub fn accept(listener: &UnixListener) -> Result<UnixStream> {
    let deadline = Instant::now() + LIMIT;
    loop {
        let mut fds = [PollFd::new(listener.as_fd(), PollFlags::POLLIN)];
        match poll(&mut fds, PollTimeout::from(100u8)) {
            Ok(0) | Err(Errno::EINTR) => {}
            Ok(_) => return Ok(listener.accept().map_err(|e| format!("accept: {e}"))?.0),
            Err(e) => return Err(format!("poll the socket: {e}").into()),
        }
        stop::check()?;
        if Instant::now() > deadline {
            return Err(format!("no sender connected within {LIMIT:?}").into());
        }
    }
}

/// Whether `stream` has a byte or an end of file to read within `within`.
pub fn readable(stream: &UnixStream, within: Duration) -> Result<bool> {
    let mut fds = [PollFd::new(stream.as_fd(), PollFlags::POLLIN)];
    let timeout = PollTimeout::try_from(within).unwrap_or(PollTimeout::MAX);
    match poll(&mut fds, timeout) {
        Ok(n) => Ok(n > 0),
        Err(Errno::EINTR) => Ok(false),
        Err(e) => Err(format!("poll the socket: {e}").into()),
    }
}

/// The next byte from the peer, or `None` at end of file (it exited or died); waits at most
/// `limit`, in 100 ms slices that notice a stop signal.
pub fn next_byte(stream: &mut UnixStream, limit: Duration) -> Result<Option<u8>> {
    let deadline = Instant::now() + limit;
    while !readable(stream, Duration::from_millis(100))? {
        stop::check()?;
        if Instant::now() > deadline {
            return Err(format!("the other side said nothing for {limit:?}").into());
        }
    }
    let mut byte = [0];
    match stream.read(&mut byte) {
        Ok(0) => Ok(None),
        Ok(_) => Ok(Some(byte[0])),
        Err(e) if e.kind() == io::ErrorKind::ConnectionReset => Ok(None),
        Err(e) => Err(format!("read the socket: {e}").into()),
    }
}

pub fn expect_byte(stream: &mut UnixStream, want: u8, peer: &str, what: &str) -> Result {
    match next_byte(stream, LIMIT)? {
        Some(byte) if byte == want => Ok(()),
        Some(byte) => Err(format!("{peer} sent {byte:#04x} while {what}").into()),
        None => Err(format!("{peer} hung up before {what}: it died").into()),
    }
}

pub fn send_byte(stream: &mut UnixStream, byte: u8, peer: &str) -> Result {
    stream.write_all(&[byte]).map_err(|e| match e.kind() {
        io::ErrorKind::BrokenPipe | io::ErrorKind::ConnectionReset => {
            format!("{peer} hung up: it died ({e})")
        }
        _ => format!("write the socket: {e}"),
    })?;
    Ok(())
}

/// Passes `memfd` over `stream` (SCM_RIGHTS), with the frame's check value as the one
/// byte-stream payload a descriptor needs to travel with.
pub fn send_fd(stream: &UnixStream, memfd: &fs::File, check: u32, peer: &str) -> Result {
    fdpass::send_fd(stream, memfd, &check.to_ne_bytes()).map_err(|e| match e {
        Errno::EPIPE | Errno::ECONNRESET => format!("{peer} hung up: it died ({e})"),
        _ => format!("sendmsg SCM_RIGHTS: {e}"),
    })?;
    Ok(())
}

/// Receives one descriptor and the sender's check value, waiting at most [`LIMIT`]. Exactly
/// one descriptor and four bytes, or an error (any other descriptor that came is closed).
pub fn receive_fd(stream: &mut UnixStream, peer: &str, what: &str) -> Result<(fs::File, u32)> {
    let deadline = Instant::now() + LIMIT;
    while !readable(stream, Duration::from_millis(100))? {
        stop::check()?;
        if Instant::now() > deadline {
            return Err(format!("{peer} did not finish {what} within {LIMIT:?}").into());
        }
    }
    let mut payload = [0; 4];
    match fdpass::receive_fd(&*stream, &mut payload) {
        Ok(Received::Fd { bytes: 4, fd }) => Ok((fs::File::from(fd), u32::from_ne_bytes(payload))),
        Ok(Received::Fd { bytes, .. }) => {
            Err(format!("{peer} sent {bytes} bytes and 1 descriptor, not 4 and 1").into())
        }
        Ok(Received::End) => Err(format!("{peer} hung up before {what}: it died").into()),
        // A peer that dies with our data unread resets the connection: it died, like EOF.
        Err(e) if e.kind() == io::ErrorKind::ConnectionReset => {
            Err(format!("{peer} hung up before {what}: it died ({e})").into())
        }
        Err(e) => Err(format!("{peer} sent a message we refuse: {e}").into()),
    }
}
