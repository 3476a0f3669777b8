//! How a side of a shared-memory channel waits for its peer, and notices the peer is gone:
//! shared by the rings (`ring.rs`) and the zero-copy slots (`zero_copy.rs`).
//!
//! Peer death: each end holds the only write end of a pipe that the other end watches. When a
//! process dies, even by SIGKILL, the kernel closes that write end and the watcher sees
//! `POLLHUP`. A waiting side checks every 1024 spins, or after every timed-out futex wait
//! (100 ms), so it notices a dead peer well within 2 s.

use std::io;
use std::os::fd::{AsFd, OwnedFd};
use std::ptr;
use std::sync::atomic::{AtomicU32, Ordering, fence};
use std::time::Duration;

use nix::errno::Errno;
use nix::fcntl::OFlag;
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};

const SPINS_PER_CHECK: u32 = 1024;
const FUTEX_TIMEOUT: Duration = Duration::from_millis(100);

/// How a side waits when there is nothing to read (reader) or no room (writer).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Coordination {
    /// Re-read the shared word in a loop; the CPU stays busy.
    Spin,
    /// Sleep in the kernel on a futex word in the mapping until the other side rings it.
    Futex,
}

/// One side's view of its peer: the write end of the pipe the peer watches (closed by the
/// kernel when we die) and the read end of the pipe whose only write end the peer holds.
pub struct Liveness {
    _alive: OwnedFd,
    peer: OwnedFd,
}

/// Two connected `Liveness`es: give one to each side before `fork()`; after it, each process
/// drops the other's, so each pipe's write end lives only in the process it reports on.
pub fn liveness_pair() -> io::Result<(Liveness, Liveness)> {
    let pipe = || {
        nix::unistd::pipe2(OFlag::O_CLOEXEC)
            .map_err(|e| io::Error::new(io::Error::from(e).kind(), format!("pipe2: {e}")))
    };
    let (a_watch, a_alive) = pipe()?;
    let (b_watch, b_alive) = pipe()?;
    Ok((
        Liveness {
            _alive: a_alive,
            peer: b_watch,
        },
        Liveness {
            _alive: b_alive,
            peer: a_watch,
        },
    ))
}

impl Liveness {
    /// Has the peer closed its end (exited, crashed, or dropped its side)? One `poll`.
    pub fn peer_gone(&self) -> io::Result<bool> {
        let mut fds = [PollFd::new(self.peer.as_fd(), PollFlags::empty())];
        match poll(&mut fds, PollTimeout::ZERO) {
            Ok(_) => Ok(fds[0]
                .revents()
                .is_some_and(|r| r.intersects(PollFlags::POLLHUP | PollFlags::POLLERR))),
            Err(Errno::EINTR) => Ok(false),
            Err(e) => Err(io::Error::new(
                io::Error::from(e).kind(),
                format!("poll: {e}"),
            )),
        }
    }
}

/// A futex doorbell: the word the waiting side sleeps on, and its "someone sleeps" flag.
#[derive(Clone, Copy)]
pub(crate) struct Bell<'a> {
    pub seq: &'a AtomicU32,
    pub waiting: &'a AtomicU32,
}

/// Waits until `ready()` (which loads the shared word with Acquire) is true. Ok(false): the peer
/// is gone and `ready()` was still false after we noticed. `bell` is used in futex mode only.
pub(crate) fn until(
    mode: Coordination,
    live: &Liveness,
    bell: Bell<'_>,
    mut ready: impl FnMut() -> bool,
) -> io::Result<bool> {
    let mut spins = 0;
    loop {
        if ready() {
            return Ok(true);
        }
        let check_peer = match mode {
            Coordination::Spin => {
                std::hint::spin_loop();
                spins += 1;
                spins == SPINS_PER_CHECK
            }
            Coordination::Futex => {
                // Read the bell, announce the sleep, then look once more. With the SeqCst
                // fences here and in `ring`, either we see the change now, or the other side
                // sees our flag and bumps the bell, so the kernel will not put us to sleep on
                // the old value (or wakes us).
                let seen = bell.seq.load(Ordering::Acquire);
                bell.waiting.store(1, Ordering::Relaxed);
                fence(Ordering::SeqCst);
                let timed_out = !ready() && futex_wait(bell.seq, seen, FUTEX_TIMEOUT)?;
                bell.waiting.store(0, Ordering::Relaxed);
                timed_out
            }
        };
        if check_peer {
            spins = 0;
            if live.peer_gone()? {
                return Ok(ready());
            }
            if mode == Coordination::Spin {
                // Two spinners on one core take turns instead of waiting for the tick.
                std::thread::yield_now();
            }
        }
    }
}

/// After publishing a change: wake the other side if it sleeps (futex mode only).
pub(crate) fn ring(mode: Coordination, bell: Bell<'_>) {
    if mode == Coordination::Futex {
        fence(Ordering::SeqCst);
        if bell.waiting.load(Ordering::Relaxed) != 0 {
            bell.seq.fetch_add(1, Ordering::Release);
            futex_wake(bell.seq);
        }
    }
}

/// `FUTEX_WAIT` on a word in a shared mapping for at most `timeout`; true if it timed out.
/// No `FUTEX_PRIVATE_FLAG`: the word is shared between processes, so the kernel must key the
/// wait on the physical page.
fn futex_wait(word: &AtomicU32, expected: u32, timeout: Duration) -> io::Result<bool> {
    let ts = libc::timespec {
        tv_sec: timeout.as_secs() as libc::time_t,
        tv_nsec: timeout.subsec_nanos() as libc::c_long,
    };
    // SAFETY: `word` is a live, aligned u32 in our mapping and `ts` outlives the call. The
    // kernel only reads both; it sleeps if the word still equals `expected`, which the peer
    // may change at any moment: then the call returns EAGAIN and we simply look again.
    let r = unsafe {
        libc::syscall(
            libc::SYS_futex,
            word.as_ptr(),
            libc::FUTEX_WAIT,
            expected,
            &ts as *const libc::timespec,
            ptr::null::<u32>(),
            0,
        )
    };
    if r == 0 {
        return Ok(false);
    }
    match Errno::last() {
        Errno::ETIMEDOUT => Ok(true),
        Errno::EAGAIN | Errno::EINTR => Ok(false),
        e => Err(io::Error::new(
            io::Error::from(e).kind(),
            format!("futex wait: {e}"),
        )),
    }
}

/// `FUTEX_WAKE` one sleeper on `word` (a lost wake-up would only cost one futex timeout).
fn futex_wake(word: &AtomicU32) {
    // SAFETY: `word` is a live, aligned u32 in our mapping; FUTEX_WAKE does not access memory
    // beyond looking up the sleepers keyed on its address.
    unsafe {
        libc::syscall(
            libc::SYS_futex,
            word.as_ptr(),
            libc::FUTEX_WAKE,
            1,
            ptr::null::<u8>(),
            ptr::null::<u32>(),
            0,
        );
    }
}
