//! UDP over loopback, for `compare`: where the lecture sets TCP (a byte stream, like a pipe)
//! against UDP (messages, like a queue: "each send produces one discrete datagram"). Two UDP
//! sockets bound to 127.0.0.1, each connected to the other, so a `write` is one `send(2)` of
//! one datagram and a `read` one `recv(2)` of one whole datagram.
//!
//! UDP has no flow control: a sender that outruns its reader loses datagrams (the receive
//! buffer fills and the kernel drops what arrives), which the round trips never do (one
//! datagram is in flight at a time) and a one-way stream would.

use std::io::{self, ErrorKind, Read, Write};
use std::net::UdpSocket;
use std::os::fd::{AsFd, AsRawFd};
use std::os::unix::net::UnixStream;
use std::time::Duration;

use nix::errno::Errno;
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use nix::sys::socket::{MsgFlags, recv, send};
use plumbing::design::Row;

use crate::whole_datagram;

/// The design-space row for UDP over loopback: the datagram half of the network's API.
pub const UDP_ROW: Row = Row {
    data: "copy through network stack",
    structure: "datagrams, boundaries kept",
    direction: "bidirectional",
    naming: "IP address and port",
    coordination: "kernel blocks and wakes",
    persistence: "gone with the process",
};

/// The largest UDP payload over IPv4: 65535 bytes of IP packet, less its 20-byte header and
/// the 8-byte UDP header.
pub const LARGEST_DATAGRAM: usize = 65_507;

/// The largest message a UDP end carries ([`LARGEST_DATAGRAM`]), as `compare` asks for it.
pub fn largest_datagram() -> io::Result<usize> {
    Ok(LARGEST_DATAGRAM)
}

/// How long a send or receive waits before it checks that the peer is still alive.
const PEER_CHECK: Duration = Duration::from_millis(100);

/// One end of a connected UDP pair over loopback. As for [`crate::DatagramEnd`], a blocked
/// `recv` is not woken when the peer dies, so each end also holds one end of a silent stream
/// pair, `alive`, whose hang-up says so; the socket's timeouts (100 ms) bound each wait.
#[derive(Debug)]
pub struct UdpEnd {
    data: UdpSocket,
    alive: UnixStream,
}

/// Two UDP sockets on 127.0.0.1, each bound to a port the kernel picks and connected to the
/// other (a connected UDP socket takes datagrams from its peer's address only). `msg_size`
/// above [`LARGEST_DATAGRAM`] is an error naming that limit: a datagram is never split.
pub fn udp_duplex(msg_size: usize) -> io::Result<(UdpEnd, UdpEnd)> {
    if msg_size > LARGEST_DATAGRAM {
        return Err(io::Error::new(
            ErrorKind::InvalidInput,
            format!(
                "a {msg_size}-byte message does not fit in one UDP datagram: the limit over \
                 IPv4 is {LARGEST_DATAGRAM} bytes"
            ),
        ));
    }
    let (a, b) = udp_pair()?;
    let (alive_a, alive_b) = UnixStream::pair()?;
    for end in [&a, &b] {
        end.set_read_timeout(Some(PEER_CHECK))?; // SO_RCVTIMEO
        end.set_write_timeout(Some(PEER_CHECK))?; // SO_SNDTIMEO
    }
    Ok((
        UdpEnd {
            data: a,
            alive: alive_a,
        },
        UdpEnd {
            data: b,
            alive: alive_b,
        },
    ))
}

/// Two UDP sockets on 127.0.0.1, bound and connected to each other: bind + bind + 2 x connect
/// (what `compare` times as the row's setup).
pub fn udp_pair() -> io::Result<(UdpSocket, UdpSocket)> {
    let a = UdpSocket::bind("127.0.0.1:0")?;
    let b = UdpSocket::bind("127.0.0.1:0")?;
    a.connect(b.local_addr()?)?;
    b.connect(a.local_addr()?)?;
    Ok((a, b))
}

impl UdpEnd {
    /// Has the peer's process ended? Its end of `alive` is closed then (hang-up).
    fn peer_gone(&self) -> io::Result<bool> {
        let mut fds = [PollFd::new(self.alive.as_fd(), PollFlags::POLLIN)];
        poll(&mut fds, PollTimeout::ZERO)?;
        Ok(fds[0].revents().is_some_and(|r| !r.is_empty()))
    }
}

impl Read for UdpEnd {
    /// One recv(2) of one datagram. MSG_TRUNC returns its real length, so a datagram longer
    /// than `buf` is an error rather than a silently lost tail.
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        let fd = self.data.as_raw_fd();
        let n = loop {
            match recv(fd, buf, MsgFlags::MSG_TRUNC) {
                // SO_RCVTIMEO ended the wait (or a signal did): check the peer, wait again.
                Err(Errno::EAGAIN | Errno::EINTR) if !self.peer_gone()? => {}
                // The peer is gone: take what it sent before dying, then EOF.
                Err(Errno::EAGAIN | Errno::EINTR) => {
                    match recv(fd, buf, MsgFlags::MSG_TRUNC | MsgFlags::MSG_DONTWAIT) {
                        Err(Errno::EAGAIN | Errno::ECONNREFUSED) => return Ok(0),
                        other => break other?,
                    }
                }
                // An ICMP "port unreachable" from a closed peer socket.
                Err(Errno::ECONNREFUSED) => return Ok(0),
                other => break other?,
            }
        };
        whole_datagram(n, buf.len())
    }
}

impl Write for UdpEnd {
    /// One send(2) of one datagram.
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        loop {
            match send(self.data.as_raw_fd(), buf, MsgFlags::empty()) {
                Ok(n) => return Ok(n),
                Err(Errno::EAGAIN | Errno::EINTR) if !self.peer_gone()? => {}
                Err(Errno::EAGAIN | Errno::EINTR | Errno::ECONNREFUSED) => {
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

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn each_write_is_one_whole_datagram_both_ways() {
        let (mut a, mut b) = udp_duplex(LARGEST_DATAGRAM).unwrap();
        a.write_all(b"abc").unwrap();
        a.write_all(b"def").unwrap();
        let mut buf = [0u8; 64];
        assert_eq!(b.read(&mut buf).unwrap(), 3, "one datagram per read");
        assert_eq!(&buf[..3], b"abc");
        assert_eq!(b.read(&mut buf).unwrap(), 3);
        let big = vec![7u8; LARGEST_DATAGRAM];
        b.write_all(&big).unwrap();
        let mut back = vec![0u8; LARGEST_DATAGRAM];
        assert_eq!(a.read(&mut back).unwrap(), LARGEST_DATAGRAM);
        assert_eq!(back, big);
    }

    #[test]
    fn too_big_is_an_error_naming_the_limit_and_a_dead_peer_is_eof() {
        let err = udp_duplex(LARGEST_DATAGRAM + 1).unwrap_err();
        assert!(err.to_string().contains("65507"), "{err}");
        let (mut a, b) = udp_duplex(64).unwrap();
        drop(b);
        let mut buf = [0u8; 8];
        assert_eq!(a.read(&mut buf).unwrap(), 0);
    }
}
