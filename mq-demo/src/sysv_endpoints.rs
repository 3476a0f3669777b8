//! Duplex endpoints over System V queues, for `compare`: one queue per direction, read and
//! written as `std::io::Read + Write`, like [`crate::duplex`] for POSIX queues.
//!
//! A System V queue is no file descriptor (poll() cannot watch it) and msgrcv has no timeout,
//! so a peer's death is noticed by a watchdog thread instead. Each side holds the only write
//! end of a "liveness" pipe; the peer's watchdog blocks in poll() on its read end, which the
//! kernel hangs up when the process dies (even by SIGKILL). The watchdog then
//! - sends a zero-length message of a reserved type, [`PEER_GONE`], to the queue we read: we
//!   receive with msgtyp -PEER_GONE (lowest type first), so the messages the peer sent before
//!   dying (type [`DATA`]) come first, then the notice, which reads as EOF;
//! - removes the queue we send on (IPC_RMID): a writer blocked on it, full with nobody left
//!   to read, wakes with EIDRM, which we return as BrokenPipe.
//!
//! Nothing spins: every wait is a blocking system call that the kernel ends.

use std::io::{self, Read, Write};
use std::os::fd::{AsFd, OwnedFd};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::{self, JoinHandle};

use nix::errno::Errno;
use nix::fcntl::OFlag;
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use nix::unistd::{Pid, getpid};

use crate::sysv::{self, MsgBuf, SysvQueue, c_long, msgmax, msgmnb};

/// The type of every data message.
pub const DATA: c_long = 1;
/// The type of the watchdog's "the peer has died" notice; above DATA, so it is read last.
pub const PEER_GONE: c_long = 2;

/// Both queues of a pair, removed when the last end in the process that created them drops.
/// A forked child's copies never remove them (the creator does), unless the creator died.
#[derive(Debug)]
struct Queues {
    ab: i32,
    ba: i32,
    creator: Pid,
}

impl Drop for Queues {
    fn drop(&mut self) {
        if getpid() == self.creator {
            let _ = sysv::remove(self.ab); // EINVAL if a watchdog removed it already
            let _ = sysv::remove(self.ba);
        }
    }
}

/// One side of a [`sysv_duplex`] pair; see the module documentation.
#[derive(Debug)]
pub struct SysvEnd {
    _queues: Arc<Queues>, // shared with the other end; see Queues
    tx: i32,
    rx: i32,
    msg_size: usize,
    send_buf: MsgBuf,
    recv_buf: MsgBuf, // a received message not yet read out, at text()[pos..len]
    pos: usize,
    len: usize,
    eof: bool,
    _alive: OwnedFd,             // write end: closed when this process dies
    peer_alive: Option<OwnedFd>, // read end, until the watchdog takes it
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
    // From here `queues` owns both, shared by the two ends.
    let queues = Arc::new(Queues {
        ab: ab.into_id(),
        ba: ba.into_id(),
        creator: getpid(),
    });
    let pipe = || {
        nix::unistd::pipe2(OFlag::O_CLOEXEC).map_err(|e| io::Error::other(format!("pipe2: {e}")))
    };
    let (a_alive_r, a_alive_w) = pipe()?;
    let (b_alive_r, b_alive_w) = pipe()?;
    let end = |tx, rx, alive, peer_alive| SysvEnd {
        _queues: Arc::clone(&queues),
        tx,
        rx,
        msg_size,
        send_buf: MsgBuf::new(msg_size),
        recv_buf: MsgBuf::new(msg_size),
        pos: 0,
        len: 0,
        eof: false,
        _alive: alive,
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
}

/// The watchdog thread: waits for the peer's liveness pipe to hang up (or for our `stop` pipe,
/// closed when the end is dropped), then tells the reader and wakes the writer.
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
    if fds[1].revents().is_some_and(|r| !r.is_empty()) {
        return; // our end was dropped
    }
    gone.store(true, Ordering::SeqCst);
    let _ = sysv::remove(tx); // nobody will read it again
    // A zero-length message fits even a queue full of bytes (only 16384 messages would not);
    // if it ever does not fit, removing the queue wakes the reader instead.
    let notice = sysv::send_id(rx, PEER_GONE, &mut MsgBuf::new(0), 0, libc::IPC_NOWAIT);
    if notice.is_err() {
        let _ = sysv::remove(rx);
    }
}

impl Read for SysvEnd {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        if self.pos == self.len {
            if self.eof {
                return Ok(0);
            }
            self.watch_peer()?;
            // -PEER_GONE: the lowest type first, so data before the notice.
            match sysv::receive(self.rx, -PEER_GONE, &mut self.recv_buf, 0) {
                Ok(_) if self.recv_buf.mtype() == PEER_GONE => {
                    self.eof = true;
                    return Ok(0);
                }
                Ok(n) => (self.pos, self.len) = (0, n),
                Err(Errno::EIDRM | Errno::EINVAL) if self.gone() => {
                    self.eof = true;
                    return Ok(0);
                }
                Err(e) => return Err(self.failed("msgrcv", e)), // EINTR -> Interrupted
            }
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
        self.watch_peer()?;
        self.send_buf.text_mut()[..len].copy_from_slice(&data[..len]);
        match sysv::send_id(self.tx, DATA, &mut self.send_buf, len, 0) {
            Ok(()) => Ok(len),
            Err(Errno::EIDRM | Errno::EINVAL) if self.gone() => Err(io::Error::new(
                io::ErrorKind::BrokenPipe,
                "msgsnd: the receiving process has died",
            )),
            Err(e) => Err(self.failed("msgsnd", e)), // EINTR -> Interrupted
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Drop for SysvEnd {
    fn drop(&mut self) {
        if let Some((stop, thread)) = self.watchdog.take() {
            drop(stop); // the watchdog's poll() wakes and it returns
            let _ = thread.join();
        }
        if self.gone() {
            // The survivor: the peer, perhaps the creator, is dead; nobody else will remove it.
            let _ = sysv::remove(self.rx);
            let _ = sysv::remove(self.tx);
        }
        // Then `_queues`: the creator's last end removes both (Queues::drop).
    }
}
