//! Duplex endpoints for `compare`: a pair of queues, one per direction, plus a liveness pipe
//! each way, read and written as `std::io::Read + Write`.

use std::io::{self, Read, Write};
use std::os::fd::{AsFd, OwnedFd};

use nix::errno::Errno;
use nix::fcntl::OFlag;
use nix::mqueue::MQ_OFlag;
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};

use crate::queue::Queue;
use crate::queue_limits::msg_max;
use crate::queue_names::unique_name;

/// One side of a [`duplex`] pair: sends on one queue, receives on the other, and holds the
/// only write end of a "liveness" pipe whose read end the peer polls: when this side's process
/// dies (even by SIGKILL) the kernel closes it and the peer sees POLLHUP at once.
#[derive(Debug)]
pub struct End {
    tx: Queue,
    rx: Queue,
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
/// Two queues (one per direction) whose names are unlinked before this returns, so nothing
/// named is left behind. When the peer process has died, a read that would block returns EOF
/// (after any messages still queued) and a write that would block returns BrokenPipe, at once.
/// A `msg_size` above msgsize_max is an Err naming the limit and the knob.
pub fn duplex(msg_size: usize) -> io::Result<(End, End)> {
    let maxmsg = msg_max()?.min(10);
    let flags = MQ_OFlag::O_NONBLOCK;
    let mut ab = Queue::create(&unique_name(), flags | MQ_OFlag::O_WRONLY, maxmsg, msg_size)?;
    let mut ba = Queue::create(&unique_name(), flags | MQ_OFlag::O_WRONLY, maxmsg, msg_size)?;
    let ab_rx = Queue::open(ab.name(), flags | MQ_OFlag::O_RDONLY)?;
    let ba_rx = Queue::open(ba.name(), flags | MQ_OFlag::O_RDONLY)?;
    ab.unlink()?;
    ba.unlink()?;
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
        end(ab, ba_rx, a_alive_w, b_alive_r),
        end(ba, ab_rx, b_alive_w, a_alive_r),
    ))
}

impl End {
    /// The names the two queues had (unlinked before [`duplex`] returned): send, receive.
    pub fn queue_names(&self) -> [&str; 2] {
        [self.tx.name(), self.rx.name()]
    }

    /// Blocks until `queue` is ready for `events` (true) or the peer has died (false).
    fn wait(&self, queue: &Queue, events: PollFlags) -> io::Result<bool> {
        let mut fds = [
            PollFd::new(queue.as_fd(), events),
            PollFd::new(self.peer_alive.as_fd(), PollFlags::POLLIN),
        ];
        poll(&mut fds, PollTimeout::NONE).map_err(io::Error::from)?; // EINTR -> Interrupted
        let ready = |fd: &PollFd| fd.revents().is_some_and(|r| !r.is_empty());
        Ok(ready(&fds[0]) || !ready(&fds[1]))
    }
}

impl Read for End {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        if self.pos == self.len {
            // No leftover: take the next message, straight into `out` when it is big enough.
            loop {
                let direct = out.len() >= self.msg_size;
                let target = if direct { &mut *out } else { &mut self.buf[..] };
                match self.rx.receive(target) {
                    Ok((n, _)) if direct => return Ok(n),
                    Ok((n, _)) => (self.pos, self.len) = (0, n),
                    Err(Errno::EAGAIN) => {
                        if self.wait(&self.rx, PollFlags::POLLIN)? {
                            continue;
                        }
                        // The peer is gone; take what it sent before dying, then EOF.
                        match self.rx.receive(&mut self.buf) {
                            Ok((n, _)) => (self.pos, self.len) = (0, n),
                            Err(Errno::EAGAIN) => return Ok(0),
                            Err(e) => return Err(self.rx.error("mq_receive", e)),
                        }
                    }
                    Err(e) => return Err(self.rx.error("mq_receive", e)),
                }
                break;
            }
        }
        let n = out.len().min(self.len - self.pos);
        out[..n].copy_from_slice(&self.buf[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

impl Write for End {
    /// Sends up to `msg_size` bytes of `data` as one message.
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        let message = &data[..data.len().min(self.msg_size)];
        if message.is_empty() {
            return Ok(0);
        }
        loop {
            match self.tx.send(message, 0) {
                Ok(()) => return Ok(message.len()),
                Err(Errno::EAGAIN) => {
                    if !self.wait(&self.tx, PollFlags::POLLOUT)? {
                        return Err(io::Error::new(
                            io::ErrorKind::BrokenPipe,
                            format!("mq_send {}: the receiving process has died", self.tx.name()),
                        ));
                    }
                }
                Err(e) => return Err(self.tx.error("mq_send", e)),
            }
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}
