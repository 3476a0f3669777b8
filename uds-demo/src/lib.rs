//! Unix domain sockets as a small library: the endpoints `compare` measures (a UDS stream, a UDS
//! datagram pair, a TCP loopback connection, and in `udp.rs` a UDP loopback pair), the named
//! ways it times making them (`setups`), their rows of the lecture's design-space table, and
//! the length-prefixed framing and generic echo that the `uds-demo` binary and its tests share.
//!
//! The endpoints and the framing print, time and install nothing. The framing lives in
//! `src/frame.rs` and is re-exported here. The modules below are what the binary's steps and
//! roles share: addresses, timeouts, socket files, the server's defences (which log what they
//! refuse, as a server does), what it runs out of, and the tour's servers.

use std::io::{self, ErrorKind, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::fd::{AsFd, AsRawFd};
use std::os::unix::net::{UnixDatagram, UnixStream};
use std::time::Duration;

use nix::errno::Errno;
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use nix::sys::socket::{MsgFlags, recv, send, sockopt};
use plumbing::design::Row;

mod frame;

pub mod address;
pub mod defences;
pub mod resources;
pub mod server_child;
pub mod setups;
pub mod socket_file;
pub mod timeouts;
pub mod udp;

pub use frame::{
    Frame, FrameKind, MAX_FRAME, echo_once, read_echo, read_frame, send_message, serve_echo,
    write_frame,
};
pub use udp::{UDP_ROW, UdpEnd, udp_duplex};

/// The lecture's example messages: what a client sends when given none.
pub fn sensor_readings() -> Vec<String> {
    ["temperature: 42", "humidity: 61%", "pressure: 1013 hPa"]
        .map(String::from)
        .to_vec()
}

/// The lecture's design-space row for a Unix domain stream socket.
pub const STREAM_ROW: Row = Row {
    data: "copy through kernel",
    structure: "byte stream",
    direction: "bidirectional",
    naming: "path or abstract name",
    coordination: "kernel blocks and wakes",
    persistence: "socket file outlives server",
};

/// The design-space row for a Unix domain datagram socket.
pub const DATAGRAM_ROW: Row = Row {
    data: "copy through kernel",
    structure: "messages, boundaries kept",
    direction: "bidirectional",
    naming: "path or abstract name",
    coordination: "kernel blocks and wakes",
    persistence: "socket file outlives server",
};

/// The design-space row for TCP over loopback: the same API, another address family.
pub const TCP_ROW: Row = Row {
    data: "copy through network stack",
    structure: "byte stream",
    direction: "bidirectional",
    naming: "IP address and port",
    coordination: "kernel blocks and wakes",
    persistence: "gone with the process",
};

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
/// receives one whole datagram, each with one system call.
///
/// A plain datagram pair does not tell a blocked reader that its peer died: the kernel wakes
/// readers on close only for stream and seqpacket sockets, so `recv` would wait forever. Each end
/// therefore also holds one end of a silent stream pair, `alive`, that never carries a byte; when
/// the peer process exits (even by SIGKILL) its end closes and `alive` reports hang-up. The
/// socket's own timeouts (SO_RCVTIMEO, SO_SNDTIMEO: `PEER_CHECK`, 100 ms) end a wait that long
/// to look at `alive`, so `read` turns a dead peer into EOF and `write` into `BrokenPipe` within
/// 100 ms, while a message costs one system call (only a 100 ms wait costs a check).
#[derive(Debug)]
pub struct DatagramEnd {
    data: UnixDatagram,
    alive: UnixStream,
}

/// How long a datagram send or receive waits before it checks that the peer is still alive.
const PEER_CHECK: Duration = Duration::from_millis(100);

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
    for end in [&a, &b] {
        end.set_read_timeout(Some(PEER_CHECK))?; // SO_RCVTIMEO
        end.set_write_timeout(Some(PEER_CHECK))?; // SO_SNDTIMEO
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
    /// Has the peer's process ended? Its end of `alive` is closed then, which a poll that does
    /// not wait reports as hang-up.
    fn peer_gone(&self) -> io::Result<bool> {
        let mut fds = [PollFd::new(self.alive.as_fd(), PollFlags::POLLIN)];
        poll(&mut fds, PollTimeout::ZERO)?;
        Ok(fds[0].revents().is_some_and(|r| !r.is_empty()))
    }

    /// One recv(2). MSG_TRUNC makes it return the datagram's real length, so a short buffer is
    /// an error (in `read`) instead of silently losing the tail.
    fn receive(&self, buf: &mut [u8], flags: MsgFlags) -> nix::Result<usize> {
        recv(self.data.as_raw_fd(), buf, flags | MsgFlags::MSG_TRUNC)
    }
}

impl Read for DatagramEnd {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        let n = loop {
            match self.receive(buf, MsgFlags::empty()) {
                // SO_RCVTIMEO ended the wait (or a signal did): check the peer, wait again.
                Err(Errno::EAGAIN | Errno::EINTR) if !self.peer_gone()? => {}
                // The peer is gone: take what it sent before dying, then EOF.
                Err(Errno::EAGAIN | Errno::EINTR) => {
                    match self.receive(buf, MsgFlags::MSG_DONTWAIT) {
                        Err(Errno::EAGAIN) => return Ok(0),
                        other => break other?,
                    }
                }
                other => break other?,
            }
        };
        whole_datagram(n, buf.len())
    }
}

impl Write for DatagramEnd {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        loop {
            match send(self.data.as_raw_fd(), buf, MsgFlags::empty()) {
                Ok(n) => return Ok(n),
                // SO_SNDTIMEO ended the wait for room (or a signal did): check the peer.
                Err(Errno::EAGAIN | Errno::EINTR) if !self.peer_gone()? => {}
                // Gone: the kernel refuses a datagram to a closed peer (ECONNREFUSED, then
                // ENOTCONN), and a full buffer will never drain.
                Err(Errno::EAGAIN | Errno::EINTR | Errno::ECONNREFUSED | Errno::ENOTCONN) => {
                    return Err(ErrorKind::BrokenPipe.into());
                }
                Err(e) => return Err(e.into()),
            }
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// `n`, the real length of a datagram received with MSG_TRUNC, when it fit in `room` bytes;
/// a longer one is an error rather than a silently lost tail.
pub(crate) fn whole_datagram(n: usize, room: usize) -> io::Result<usize> {
    if n > room {
        let why = format!("datagram of {n} bytes truncated to a {room}-byte buffer");
        return Err(io::Error::new(ErrorKind::InvalidData, why));
    }
    Ok(n)
}
