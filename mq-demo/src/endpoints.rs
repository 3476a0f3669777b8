//! Duplex endpoints for `compare`: a pair of queues, one per direction, plus a liveness pipe
//! each way, read and written as `std::io::Read + Write`.
//!
//! One message costs one system call on each side: the wait is inside `mq_timedsend` /
//! `mq_timedreceive` themselves. Their timeout ends a wait every `PEER_CHECK` (100 ms) to look
//! at the peer's liveness pipe, so a peer that died (a queue never says so) is noticed within
//! that.

use std::io::{self, Read, Write};
use std::os::fd::{AsFd, OwnedFd};
use std::sync::Arc;
use std::time::Duration;

use nix::errno::Errno;
use nix::fcntl::OFlag;
use nix::mqueue::MQ_OFlag;
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};

use crate::queue::Queue;
use crate::queue_limits::msg_max;
use crate::queue_names::unique_name;

/// How long a send or receive waits before it checks that the peer is still alive: the most a
/// dead peer can go unnoticed. Only a wait that lasts this long costs a check.
const PEER_CHECK: Duration = Duration::from_millis(100);

/// One side of a [`duplex`] pair: sends on one queue, receives on the other, and holds the
/// only write end of a "liveness" pipe whose read end the peer checks: when this side's process
/// dies (even by SIGKILL) the kernel closes it and the peer's check sees POLLHUP.
#[derive(Debug)]
pub struct End {
    tx: Arc<Queue>,
    rx: Arc<Queue>,
    msg_size: usize,
    buf: Vec<u8>, // a received message not yet read out, at buf[pos..len]
    pos: usize,
    len: usize,
    _alive: OwnedFd,     // write end: closed when this process dies
    peer_alive: OwnedFd, // read end: POLLHUP when the peer's process has died
}

/// A connected pair of endpoints carrying messages of `msg_size` bytes both ways. Called before
/// fork(); after fork the parent drops `.1`, the child drops `.0`. One message = one
/// `write_all(&buf[..msg_size])` on one end, one `read_exact(&mut buf[..msg_size])` on the other.
/// Two queues (one per direction), each opened once for reading and writing and shared by both
/// ends, whose names are unlinked before this returns, so nothing named is left behind. When
/// the peer process has died, a read returns EOF (after any messages still queued) and a write
/// that would block returns BrokenPipe, within 100 ms (`PEER_CHECK`).
/// A `msg_size` above msgsize_max is an Err naming the limit and the knob.
pub fn duplex(msg_size: usize) -> io::Result<(End, End)> {
    let maxmsg = msg_max()?.min(10);
    let mut ab = Queue::create(&unique_name(), MQ_OFlag::O_RDWR, maxmsg, msg_size)?;
    let mut ba = Queue::create(&unique_name(), MQ_OFlag::O_RDWR, maxmsg, msg_size)?;
    ab.unlink()?;
    ba.unlink()?;
    let (ab, ba) = (Arc::new(ab), Arc::new(ba));
    let pipe = || {
        nix::unistd::pipe2(OFlag::O_CLOEXEC).map_err(|e| io::Error::other(format!("pipe2: {e}")))
    };
    let (a_alive_r, a_alive_w) = pipe()?;
    let (b_alive_r, b_alive_w) = pipe()?;
    let end = |tx, rx, alive, peer_alive| End {
        tx,
        rx,
        msg_size,
        buf: vec![0; msg_size],
        pos: 0,
        len: 0,
        _alive: alive,
        peer_alive,
    };
    Ok((
        end(Arc::clone(&ab), Arc::clone(&ba), a_alive_w, b_alive_r),
        end(ba, ab, b_alive_w, a_alive_r),
    ))
}

impl End {
    /// The names the two queues had (unlinked before [`duplex`] returned): send, receive.
    pub fn queue_names(&self) -> [&str; 2] {
        [self.tx.name(), self.rx.name()]
    }
}

/// Has the process holding the write end of this liveness pipe died? (One poll that does not
/// wait: a pipe whose every write end is closed reports POLLHUP.)
fn died(peer_alive: &OwnedFd) -> io::Result<bool> {
    let mut fds = [PollFd::new(peer_alive.as_fd(), PollFlags::POLLIN)];
    poll(&mut fds, PollTimeout::ZERO).map_err(|e| io::Error::other(format!("poll: {e}")))?;
    Ok(fds[0].revents().is_some_and(|r| !r.is_empty()))
}

/// Receives one message into `buf`, waiting inside mq_timedreceive. None: the peer has died and
/// nothing it sent is left. EINTR comes back as ErrorKind::Interrupted (read_exact retries).
fn receive(rx: &Queue, buf: &mut [u8], peer_alive: &OwnedFd) -> io::Result<Option<usize>> {
    loop {
        match rx.receive_timeout(buf, PEER_CHECK) {
            Ok((n, _)) => return Ok(Some(n)),
            Err(Errno::ETIMEDOUT) if !died(peer_alive)? => {}
            // The peer is gone: take what it sent before dying (a deadline of now does not
            // wait), then EOF.
            Err(Errno::ETIMEDOUT) => {
                return match rx.receive_timeout(buf, Duration::ZERO) {
                    Ok((n, _)) => Ok(Some(n)),
                    Err(Errno::ETIMEDOUT) => Ok(None),
                    Err(e) => Err(rx.error("mq_timedreceive", e)),
                };
            }
            Err(e) => return Err(rx.error("mq_timedreceive", e)),
        }
    }
}

impl Read for End {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        if self.pos == self.len {
            // No leftover: take the next message, straight into `out` when it is big enough.
            let direct = out.len() >= self.msg_size;
            let target = if direct { &mut *out } else { &mut self.buf[..] };
            match receive(&self.rx, target, &self.peer_alive)? {
                None => return Ok(0),
                Some(n) if direct => return Ok(n),
                Some(n) => (self.pos, self.len) = (0, n),
            }
        }
        let n = out.len().min(self.len - self.pos);
        out[..n].copy_from_slice(&self.buf[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

impl Write for End {
    /// Sends up to `msg_size` bytes of `data` as one message, waiting inside mq_timedsend while
    /// the queue is full.
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        let message = &data[..data.len().min(self.msg_size)];
        if message.is_empty() {
            return Ok(0);
        }
        loop {
            match self.tx.send_timeout(message, 0, PEER_CHECK) {
                Ok(()) => return Ok(message.len()),
                Err(Errno::ETIMEDOUT) if !died(&self.peer_alive)? => {}
                Err(Errno::ETIMEDOUT) => {
                    return Err(io::Error::new(
                        io::ErrorKind::BrokenPipe,
                        format!(
                            "mq_timedsend {}: the receiving process has died",
                            self.tx.name()
                        ),
                    ));
                }
                Err(e) => return Err(self.tx.error("mq_timedsend", e)),
            }
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}
