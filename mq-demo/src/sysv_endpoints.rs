//! Duplex endpoints over System V queues, for `compare`: one queue per direction, read and
//! written as `std::io::Read + Write`, like [`crate::duplex`] for POSIX queues.
//!
//! A System V queue is no file descriptor (poll() cannot watch it) and msgrcv has no timeout,
//! so the end of the peer is noticed by a watchdog thread instead. Each side holds one socket
//! of a "liveness" socket pair; the peer's watchdog blocks in poll() on the other. (A pipe
//! would do, but a byte written after the peer's watchdog has gone would raise SIGPIPE;
//! send() with MSG_NOSIGNAL does not.)
//! - A side that closes (drops its end) removes the queue it reads (the only queue whose
//!   unread messages are its own to throw away), then sends one byte on its socket. In that
//!   order, a close cut short by SIGKILL reads as a death, whose queue the survivor removes.
//! - A side that dies (even by SIGKILL) sends nothing, and the kernel closes its socket. The
//!   survivor's watchdog then removes the dead side's queue (the one we send on) for it.
//!
//! Either way the watchdog then queues a zero-length message of a reserved type,
//! [`PEER_GONE`], on the queue we read. We receive with msgtyp -PEER_GONE (lowest type first),
//! so every message the peer sent before it closed or died (type [`DATA`]) comes first, then
//! the notice, which reads as EOF. A writer blocked on a full queue whose reader is gone wakes
//! with EIDRM, which we return as BrokenPipe.
//!
//! Every queue is removed once both sides are gone, with two exceptions the kernel gives us no
//! way around: if one side closes and the other is then killed by SIGKILL before it drops its
//! end, nobody is left to remove the killed side's queue; and if both are killed at once (a
//! SIGKILL to their process group), nobody removes either (`ipcs -q` lists them; `ipcrm -q
//! ID`).
//!
//! Nothing spins: every wait is a blocking system call that the kernel ends.

use std::io::{self, Read, Write};
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::{self, JoinHandle};

use nix::errno::Errno;
use nix::fcntl::OFlag;
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use nix::sys::socket::{AddressFamily, MsgFlags, SockFlag, SockType, send, socketpair};
use nix::unistd::{Pid, getpid};

use crate::sysv::{self, MsgBuf, SysvQueue, c_long, msgmax, msgmnb};

/// The type of every data message.
pub const DATA: c_long = 1;
/// The type of the watchdog's "the peer has died" notice; above DATA, so it is read last.
pub const PEER_GONE: c_long = 2;

/// Both queues of a pair, for the one case no end removes them: neither end was ever used
/// in the process that made the pair (made and dropped, or handed to a forked child unused).
#[derive(Debug)]
struct Queues {
    ab: i32,
    ba: i32,
    creator: Pid,
    used: AtomicBool, // an end was read or written in the creator (a child has its own copy)
}

impl Drop for Queues {
    fn drop(&mut self) {
        if getpid() == self.creator && !self.used.load(Ordering::SeqCst) {
            let _ = sysv::remove(self.ab); // nothing useful to do about a failure in Drop
            let _ = sysv::remove(self.ba);
        }
    }
}

/// One side of a [`sysv_duplex`] pair; see the module documentation.
#[derive(Debug)]
pub struct SysvEnd {
    queues: Arc<Queues>, // shared with the other end
    tx: i32,
    rx: i32,
    msg_size: usize,
    send_buf: MsgBuf,
    recv_buf: MsgBuf, // a received message not yet read out, at text()[pos..len]
    pos: usize,
    len: usize,
    eof: bool,
    user: Option<Pid>, // the process that reads or writes this end: it cleans up
    alive: OwnedFd,    // our socket: a byte when we close, EOF when we die
    peer_alive: Option<OwnedFd>, // the peer's socket, until our watchdog takes it
    peer_gone: Arc<AtomicBool>,
    watchdog: Option<(OwnedFd, JoinHandle<()>)>, // (its stop pipe's write end, the thread)
}

/// A connected pair carrying messages of `msg_size` bytes both ways, over two System V queues
/// made with IPC_PRIVATE and mode 0600. Called before fork(); after fork the parent drops
/// `.1`, the child `.0`. No thread starts until an end is first read or written, so the pair
/// may be made and forked in a single-threaded process. A `msg_size` above
/// /proc/sys/kernel/msgmax (or the queue's byte limit, msgmnb) is an InvalidInput error.
pub fn sysv_duplex(msg_size: usize) -> io::Result<(SysvEnd, SysvEnd)> {
    let (max, mnb) = (msgmax()?, msgmnb()?);
    if msg_size == 0 || msg_size > max.min(mnb) {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!(
                "a System V message holds 1 to {} bytes (/proc/sys/kernel/msgmax {max}, \
                 msgmnb {mnb}), not {msg_size}",
                max.min(mnb)
            ),
        ));
    }
    let ab = SysvQueue::create(libc::IPC_PRIVATE)?;
    let ba = SysvQueue::create(libc::IPC_PRIVATE)?;
    // From here the ends remove them (or `queues`, if no end is ever used).
    let queues = Arc::new(Queues {
        ab: ab.into_id(),
        ba: ba.into_id(),
        creator: getpid(),
        used: AtomicBool::new(false),
    });
    let pair = || {
        socketpair(
            AddressFamily::Unix,
            SockType::Stream,
            None,
            SockFlag::SOCK_CLOEXEC,
        )
        .map_err(|e| io::Error::other(format!("socketpair: {e}")))
    };
    let (a_alive_r, a_alive_w) = pair()?;
    let (b_alive_r, b_alive_w) = pair()?;
    let end = |tx, rx, alive, peer_alive| SysvEnd {
        queues: Arc::clone(&queues),
        tx,
        rx,
        msg_size,
        send_buf: MsgBuf::new(msg_size),
        recv_buf: MsgBuf::new(msg_size),
        pos: 0,
        len: 0,
        eof: false,
        user: None,
        alive,
        peer_alive: Some(peer_alive),
        peer_gone: Arc::new(AtomicBool::new(false)),
        watchdog: None,
    };
    let (ab, ba) = (queues.ab, queues.ba);
    Ok((
        end(ab, ba, a_alive_w, b_alive_r),
        end(ba, ab, b_alive_w, a_alive_r),
    ))
}

impl SysvEnd {
    /// The ids of the queue this end sends on and the one it receives from (`ipcs -q`).
    pub fn queue_ids(&self) -> (i32, i32) {
        (self.tx, self.rx)
    }

    /// Starts the watchdog thread, once, in the process that uses this end.
    fn watch_peer(&mut self) -> io::Result<()> {
        let Some(peer_alive) = self.peer_alive.take() else {
            return Ok(());
        };
        self.user = Some(getpid());
        self.queues.used.store(true, Ordering::SeqCst);
        let (stop_r, stop_w) = nix::unistd::pipe2(OFlag::O_CLOEXEC)
            .map_err(|e| io::Error::other(format!("pipe2: {e}")))?;
        let (rx, tx, gone) = (self.rx, self.tx, Arc::clone(&self.peer_gone));
        let thread = thread::Builder::new()
            .name("sysv-watchdog".into())
            .spawn(move || watchdog(&peer_alive, &stop_r, rx, tx, &gone))?;
        self.watchdog = Some((stop_w, thread));
        Ok(())
    }

    /// An error of `call`, keeping the errno's kind (EINTR stays Interrupted).
    fn failed(&self, call: &str, e: Errno) -> io::Error {
        io::Error::new(io::Error::from(e).kind(), format!("{call}: {e}"))
    }

    fn gone(&self) -> bool {
        self.peer_gone.load(Ordering::SeqCst)
    }

    /// Sends one message of `len` bytes (at most the pair's message size) that `fill` writes
    /// straight into the buffer msgsnd reads: no copy in, as a C program fills its msgbuf.
    pub fn send_filled(&mut self, len: usize, fill: impl FnOnce(&mut [u8])) -> io::Result<()> {
        if len == 0 || len > self.msg_size {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!(
                    "a message here holds 1 to {} bytes, not {len}",
                    self.msg_size
                ),
            ));
        }
        fill(&mut self.send_buf.text_mut()[..len]);
        self.send(len, false)
    }

    /// Receives one whole message and leaves it where msgrcv put it: its length, or 0 when the
    /// peer is gone and everything it sent has been read. See it with [`Self::received`];
    /// [`Self::send_received`] sends it back. (Anything a `read` had not taken yet is dropped.)
    pub fn receive_in_place(&mut self) -> io::Result<usize> {
        self.pos = self.len; // drop whatever `read` left: this message replaces it
        if !self.receive()? {
            return Ok(0);
        }
        self.pos = self.len; // taken whole, here: `read` will not give it again
        Ok(self.len)
    }

    /// The message [`Self::receive_in_place`] received, where it lies.
    pub fn received(&mut self) -> &mut [u8] {
        &mut self.recv_buf.text_mut()[..self.len]
    }

    /// Sends the received message back from where it lies: no copy, as C would echo its msgbuf.
    pub fn send_received(&mut self) -> io::Result<()> {
        self.send(self.len, true)
    }

    /// msgrcv into `recv_buf`: true with its length in `len`, false at the end (the peer's
    /// notice, or our queue removed after it has gone).
    fn receive(&mut self) -> io::Result<bool> {
        if self.eof {
            return Ok(false);
        }
        self.watch_peer()?;
        // -PEER_GONE: the lowest type first, so data before the notice.
        match sysv::receive(self.rx, -PEER_GONE, &mut self.recv_buf, 0) {
            Ok(_) if self.recv_buf.mtype() == PEER_GONE => self.eof = true,
            Ok(n) => (self.pos, self.len) = (0, n),
            // Our queue was removed (only ever after the peer is gone): nothing can come.
            Err(Errno::EIDRM | Errno::EINVAL) => self.eof = true,
            Err(e) => return Err(self.failed("msgrcv", e)), // EINTR -> Interrupted
        }
        Ok(!self.eof)
    }

    /// msgsnd of the first `len` bytes of `send_buf`, or of `recv_buf` (an echo).
    fn send(&mut self, len: usize, echo: bool) -> io::Result<()> {
        self.watch_peer()?;
        let broken = || io::Error::new(io::ErrorKind::BrokenPipe, "msgsnd: the receiver is gone");
        if self.gone() {
            return Err(broken()); // its queue is removed, or about to be
        }
        let buf = match echo {
            true => &mut self.recv_buf,
            false => &mut self.send_buf,
        };
        match sysv::send_id(self.tx, DATA, buf, len, 0) {
            Ok(()) => Ok(()),
            // Only the receiver's side removes the queue we send on: when it closes or dies.
            Err(Errno::EIDRM | Errno::EINVAL) => Err(broken()),
            Err(e) => Err(self.failed("msgsnd", e)), // EINTR -> Interrupted
        }
    }
}

/// The watchdog thread: waits for the peer to close or die (or for our `stop` pipe, closed
/// when our end is dropped); then wakes our writer and queues the EOF notice for our reader.
fn watchdog(peer_alive: &OwnedFd, stop: &OwnedFd, rx: i32, tx: i32, gone: &AtomicBool) {
    let mut fds = [
        PollFd::new(peer_alive.as_fd(), PollFlags::POLLIN),
        PollFd::new(stop.as_fd(), PollFlags::POLLIN),
    ];
    loop {
        match poll(&mut fds, PollTimeout::NONE) {
            Err(Errno::EINTR) => continue, // a signal for the process landed on this thread
            Err(_) => return,
            Ok(_) => break,
        }
    }
    // The peer first: when it died before our end was dropped, both are ready, and the dead
    // side's queue is still ours to remove. (A killed process's socket closes only once it has
    // finished dying: compare drops its end only after reaping its child, so it is.)
    if fds[0].revents().is_none_or(|r| r.is_empty()) {
        return; // only our end was dropped: a living peer removes its own queue when it closes
    }
    gone.store(true, Ordering::SeqCst);
    let closed = matches!(nix::unistd::read(peer_alive, &mut [0; 1]), Ok(1));
    if !closed {
        // Died: nobody will read its queue (the one we send on) again, or remove it.
        let _ = sysv::remove(tx);
    }
    // The notice goes after every message already queued. A zero-length message fits unless
    // the queue holds msgmnb messages; then this waits until our reader makes room, or until
    // our end is dropped, which removes `rx` (EIDRM).
    let mut notice = MsgBuf::new(0);
    while let Err(Errno::EINTR) = sysv::send_id(rx, PEER_GONE, &mut notice, 0, 0) {}
}

impl Read for SysvEnd {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        if self.pos == self.len && !self.receive()? {
            return Ok(0);
        }
        let n = out.len().min(self.len - self.pos);
        out[..n].copy_from_slice(&self.recv_buf.text()[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

impl Write for SysvEnd {
    /// Sends up to `msg_size` bytes of `data` as one message, waiting while the queue is full.
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        let len = data.len().min(self.msg_size);
        if len == 0 {
            return Ok(0);
        }
        self.send_buf.text_mut()[..len].copy_from_slice(&data[..len]);
        self.send(len, false).map(|()| len)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Drop for SysvEnd {
    /// Closing: in the process that used this end, remove the queue we read, never the one we
    /// send on (the peer may not have read it yet), then tell the peer we closed (not died).
    /// Removal first: killed between the two, we read as dead, and a dead side's queue is the
    /// survivor's to remove (here already gone). Announced first, a close cut short by SIGKILL
    /// left that queue to nobody: compare, stopped as its child closed, left one now and then.
    /// An end never used here (a forked copy) leaves both alone.
    fn drop(&mut self) {
        if self.user != Some(getpid()) {
            return;
        }
        let _ = sysv::remove(self.rx); // also wakes our watchdog if it waits in msgsnd
        let _ = send(self.alive.as_raw_fd(), b"c", MsgFlags::MSG_NOSIGNAL); // EPIPE if unwatched
        if let Some((stop, thread)) = self.watchdog.take() {
            drop(stop); // the watchdog's poll() wakes and it returns
            let _ = thread.join();
        }
    }
}
