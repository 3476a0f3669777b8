//! Unix domain sockets as a small library: the endpoints `compare` measures (a UDS stream, a UDS
//! datagram pair, a TCP loopback connection), their rows of the lecture's design-space table, and
//! the length-prefixed framing and generic echo that the `uds-demo` binary and its tests share.
//!
//! Nothing here prints, times or installs signal handlers. The framing lives in `src/frame.rs` and
//! is re-exported here.

use std::io::{self, ErrorKind, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::fd::AsRawFd;
use std::os::unix::net::{UnixDatagram, UnixStream};

use nix::errno::Errno;
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use nix::sys::socket::{MsgFlags, recv, send, sockopt};

mod frame;

pub use frame::{Frame, FrameKind, MAX_FRAME, echo_once, read_frame, serve_echo, write_frame};

/// The lecture's design-space row for a Unix domain stream socket, in the order
/// data, structure, direction, naming, coordination, persistence.
pub const STREAM_ROW: [(&str, &str); 6] = [
    ("data", "copy through kernel"),
    ("structure", "byte stream"),
    ("direction", "bidirectional"),
    ("naming", "path or abstract name"),
    ("coordination", "kernel blocks and wakes"),
    ("persistence", "socket file outlives server"),
];

/// The design-space row for a Unix domain datagram socket.
pub const DATAGRAM_ROW: [(&str, &str); 6] = [
    ("data", "copy through kernel"),
    ("structure", "messages, boundaries kept"),
    ("direction", "bidirectional"),
    ("naming", "path or abstract name"),
    ("coordination", "kernel blocks and wakes"),
    ("persistence", "socket file outlives server"),
];

/// The design-space row for TCP over loopback: the same API, another address family.
pub const TCP_ROW: [(&str, &str); 6] = [
    ("data", "copy through network stack"),
    ("structure", "byte stream"),
    ("direction", "bidirectional"),
    ("naming", "IP address and port"),
    ("coordination", "kernel blocks and wakes"),
    ("persistence", "gone with the process"),
];

/// A connected AF_UNIX stream pair. Called before fork(); the parent keeps `.0`, the child `.1`.
/// A stream has no message size limit; when the peer dies a read returns EOF at once and a write
/// fails with EPIPE. Nothing is named, so nothing can be left behind.
pub fn stream_duplex(_msg_size: usize) -> io::Result<(UnixStream, UnixStream)> {
    UnixStream::pair()
}

/// A TCP connection over 127.0.0.1 with TCP_NODELAY on both ends (so small messages are not held
/// back by Nagle's algorithm). The listener is closed before returning.
pub fn tcp_duplex(_msg_size: usize) -> io::Result<(TcpStream, TcpStream)> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let client = TcpStream::connect(listener.local_addr()?)?;
    let (server, _) = listener.accept()?;
    client.set_nodelay(true)?;
    server.set_nodelay(true)?;
    Ok((client, server))
}

/// One end of a connected AF_UNIX datagram pair: each `write` sends one datagram, each `read`
/// receives one whole datagram.
///
/// A plain datagram pair does not tell a blocked reader that its peer died: the kernel wakes
/// readers on close only for stream and seqpacket sockets, so `recv` would wait forever. Each end
/// therefore also holds one end of a silent stream pair, `alive`, that never carries a byte; when
/// the peer process exits (even by SIGKILL) its end closes and `alive` reports hang-up, which
/// `read` turns into EOF and `write` into `BrokenPipe`.
#[derive(Debug)]
pub struct DatagramEnd {
    data: UnixDatagram,
    alive: UnixStream,
}

/// A connected AF_UNIX datagram pair carrying `msg_size`-byte messages (see [`DatagramEnd`]).
///
/// A datagram must fit in the sender's socket buffer (SO_SNDBUF, which an unprivileged process
/// may raise only up to `net.core.wmem_max`). Larger sizes are an `Err` naming that limit: a
/// datagram is never split.
pub fn datagram_duplex(msg_size: usize) -> io::Result<(DatagramEnd, DatagramEnd)> {
    let (a, b) = UnixDatagram::pair()?;
    let (alive_a, alive_b) = UnixStream::pair()?;
    for (from, to) in [(&a, &b), (&b, &a)] {
        let sndbuf = nix::sys::socket::getsockopt(from, sockopt::SndBuf)?;
        if msg_size.saturating_add(1024) > sndbuf {
            // The kernel doubles the value and caps it at net.core.wmem_max; failure is fine,
            // the probe below decides.
            let _ =
                nix::sys::socket::setsockopt(from, sockopt::SndBuf, &msg_size.saturating_add(1024));
        }
        probe_one_datagram(from, to, msg_size)?;
    }
    Ok((
        DatagramEnd {
            data: a,
            alive: alive_a,
        },
        DatagramEnd {
            data: b,
            alive: alive_b,
        },
    ))
}

/// Sends one `msg_size` datagram from `from` and receives it on `to`, so an impossible size is
/// reported now, with the limit, instead of failing in the middle of a run.
fn probe_one_datagram(from: &UnixDatagram, to: &UnixDatagram, msg_size: usize) -> io::Result<()> {
    let sndbuf = nix::sys::socket::getsockopt(from, sockopt::SndBuf)?;
    let too_big = || {
        let wmem_max = std::fs::read_to_string("/proc/sys/net/core/wmem_max")
            .map(|s| s.trim().to_string())
            .unwrap_or_else(|_| "unknown".into());
        io::Error::new(
            ErrorKind::InvalidInput,
            format!(
                "a {msg_size}-byte message does not fit in one AF_UNIX datagram: the limit is \
                 SO_SNDBUF = {sndbuf} bytes minus overhead (raise net.core.wmem_max, now {wmem_max})"
            ),
        )
    };
    if msg_size > sndbuf {
        return Err(too_big()); // decided without allocating a huge buffer
    }
    let buf = vec![0u8; msg_size];
    match send(from.as_raw_fd(), &buf, MsgFlags::MSG_DONTWAIT) {
        Ok(_) => {}
        Err(Errno::EMSGSIZE) => return Err(too_big()),
        Err(e) => return Err(io::Error::other(format!("probe send: {e}"))),
    }
    let mut back = vec![0u8; msg_size];
    recv(to.as_raw_fd(), &mut back, MsgFlags::MSG_DONTWAIT)
        .map_err(|e| io::Error::other(format!("probe recv: {e}")))?;
    Ok(())
}

impl DatagramEnd {
    /// Waits until `data` is ready for `events` or the peer is gone. Returns true if the peer is
    /// gone and `data` is not ready.
    fn wait(&self, events: PollFlags) -> io::Result<bool> {
        loop {
            let mut fds = [
                PollFd::new(std::os::fd::AsFd::as_fd(&self.data), events),
                PollFd::new(std::os::fd::AsFd::as_fd(&self.alive), PollFlags::POLLIN),
            ];
            match poll(&mut fds, PollTimeout::NONE) {
                Err(Errno::EINTR) => continue,
                Err(e) => return Err(e.into()),
                Ok(_) => {}
            }
            let ready = |fd: &PollFd| fd.revents().is_some_and(|r| !r.is_empty());
            if ready(&fds[0]) {
                return Ok(false);
            }
            if ready(&fds[1]) {
                return Ok(true);
            }
        }
    }
}

impl Read for DatagramEnd {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        loop {
            if self.wait(PollFlags::POLLIN)? {
                return Ok(0); // peer gone and nothing left queued: EOF
            }
            // MSG_TRUNC makes recv return the datagram's real length, so a short buffer is an
            // error instead of silently losing the tail.
            let flags = MsgFlags::MSG_DONTWAIT | MsgFlags::MSG_TRUNC;
            match recv(self.data.as_raw_fd(), buf, flags) {
                Ok(n) if n > buf.len() => {
                    return Err(io::Error::new(
                        ErrorKind::InvalidData,
                        format!(
                            "datagram of {n} bytes truncated to a {}-byte buffer",
                            buf.len()
                        ),
                    ));
                }
                Ok(n) => return Ok(n),
                Err(Errno::EAGAIN | Errno::EINTR) => continue,
                Err(e) => return Err(e.into()),
            }
        }
    }
}

impl Write for DatagramEnd {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        loop {
            if self.wait(PollFlags::POLLOUT)? {
                return Err(ErrorKind::BrokenPipe.into());
            }
            match send(self.data.as_raw_fd(), buf, MsgFlags::MSG_DONTWAIT) {
                Ok(n) => return Ok(n),
                Err(Errno::EAGAIN | Errno::EINTR) => continue,
                Err(Errno::ECONNREFUSED) => return Err(ErrorKind::BrokenPipe.into()),
                Err(e) => return Err(e.into()),
            }
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}
