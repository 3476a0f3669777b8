//! Single-producer single-consumer byte rings in one shared mapping: the shm endpoints that
//! `compare` measures.
//!
//! Each direction is one ring: a control block and `cap` bytes of data (`cap` a power of two).
//! `head` counts bytes ever written and is stored only by the producer; `tail` counts bytes
//! ever read and is stored only by the consumer. The producer copies bytes in, then publishes
//! them with `head.store(Release)`; the consumer's `head.load(Acquire)` makes those bytes
//! visible before it copies them out, and its `tail.store(Release)` hands the space back.
//!
//! What costs time is cache lines crossing between cores: a load from a line the other core
//! has touched since we last did waits for that line (on the machine this was tuned on, even
//! re-reading our own `head` after the consumer had read it did). So each side keeps its own
//! index in a plain field and only stores it to the mapping, and keeps a copy of the other
//! side's index as it last loaded it. The copy can only lag behind, showing less room or fewer
//! bytes than there are, so it is safe to act on; the shared index is loaded again only when
//! the copy says the message does not fit (writer) or has not all arrived (reader). A small
//! message then waits for two lines each way: `head`, then the data.
//!
//! When the ring is empty (reader) or full (writer) the waiting side either
//! - spins ([`Coordination::Spin`]): re-reads the index; every 1024 tries it checks the peer
//!   (one `poll`) and yields the CPU (`sched_yield`), so two spinners on one core take turns, or
//! - sleeps on a futex ([`Coordination::Futex`]): a 32-bit "doorbell" word in the mapping that
//!   the other side bumps and wakes. No `FUTEX_PRIVATE_FLAG`: the word is shared between
//!   processes, so the kernel must key the wait on the physical page. Every wait has a timeout.
//!
//! Peer death: each end holds the only write end of a pipe that the other end watches. When a
//! process dies, even by SIGKILL, the kernel closes that write end and the watcher sees
//! `POLLHUP`. A waiting side checks every 1024 spins, or after every timed-out futex wait
//! (100 ms), so it notices a dead peer well within 2 s: `read` returns 0 (end of file) once the
//! ring is drained, `write` fails with `BrokenPipe`.

use std::io::{self, Read, Write};
use std::os::fd::{AsFd, OwnedFd};
use std::ptr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering, fence};
use std::time::Duration;

use nix::errno::Errno;
use nix::fcntl::OFlag;
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};

use crate::SharedMapping;

/// Largest message the rings are sized for (16 MiB).
pub const MAX_MSG_SIZE: usize = 16 << 20;
const MIN_CAPACITY: usize = 64 << 10;
const SPINS_PER_CHECK: u32 = 1024;
const FUTEX_TIMEOUT: Duration = Duration::from_millis(100);

/// How a side waits when its ring is empty (reader) or full (writer).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Coordination {
    /// Re-read the other side's index in a loop; the CPU stays busy.
    Spin,
    /// Sleep in the kernel on a futex word in the mapping until the other side rings it.
    Futex,
}

#[repr(C, align(64))]
struct CacheLine<T>(T);

/// The futex words and "someone sleeps here" flags of one ring.
#[repr(C)]
struct Doorbells {
    data_seq: AtomicU32,
    space_seq: AtomicU32,
    reader_waiting: AtomicU32,
    writer_waiting: AtomicU32,
}

/// One ring's control block; head and tail on separate cache lines so the two sides do not
/// keep stealing one line from each other.
#[repr(C)]
struct Control {
    head: CacheLine<AtomicU64>,
    tail: CacheLine<AtomicU64>,
    bells: CacheLine<Doorbells>,
}

const CONTROL_LEN: usize = 256;
const _: () = assert!(size_of::<Control>() <= CONTROL_LEN);

/// One side of a two-way shared-memory channel: it writes into one ring and reads from the
/// other. One message = one `write_all`; the reader gets it with one `read_exact`.
pub struct End {
    map: Arc<SharedMapping>,
    tx: usize,
    rx: usize,
    cap: usize,
    mode: Coordination,
    /// `head` of ring `tx`: only we store it, so we never read it back from the mapping.
    tx_head: u64,
    /// The consumer's `tail` of ring `tx`, as we last read it.
    tx_tail_seen: u64,
    /// `tail` of ring `rx`: only we store it.
    rx_tail: u64,
    /// The producer's `head` of ring `rx`, as we last read it.
    rx_head_seen: u64,
    /// Write end of the pipe the peer watches; closed by the kernel when we die.
    _alive: OwnedFd,
    /// Read end of the pipe whose only write end the peer holds.
    peer: OwnedFd,
}

/// A connected pair whose waiting sides spin. See [`blocking_duplex`] for the contract.
pub fn spin_duplex(msg_size: usize) -> io::Result<(End, End)> {
    duplex(msg_size, Coordination::Spin)
}

/// A connected pair whose waiting sides sleep on a futex, carrying `msg_size`-byte messages
/// both ways (two rings in one `MAP_SHARED` anonymous mapping, each at least `msg_size` bytes).
///
/// Create it before `fork()`; afterwards the parent drops `.1` and the child drops `.0`, so
/// each pipe's write end lives only in the process it reports on. Nothing is named, so a crash
/// leaves nothing behind. `msg_size` must be 1..=[`MAX_MSG_SIZE`].
pub fn blocking_duplex(msg_size: usize) -> io::Result<(End, End)> {
    duplex(msg_size, Coordination::Futex)
}

fn duplex(msg_size: usize, mode: Coordination) -> io::Result<(End, End)> {
    if msg_size == 0 || msg_size > MAX_MSG_SIZE {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!(
                "message size {msg_size}: the shm ring carries 1 to {MAX_MSG_SIZE} bytes \
                 (shm_demo::MAX_MSG_SIZE)"
            ),
        ));
    }
    let cap = msg_size.next_power_of_two().max(MIN_CAPACITY);
    let map = Arc::new(SharedMapping::new(2 * CONTROL_LEN + 2 * cap)?);
    let pipe = || {
        nix::unistd::pipe2(OFlag::O_CLOEXEC)
            .map_err(|e| io::Error::new(io::Error::from(e).kind(), format!("pipe2: {e}")))
    };
    let (a_watch, a_alive) = pipe()?;
    let (b_watch, b_alive) = pipe()?;
    let end = |tx, map, alive, peer| End {
        map,
        tx,
        rx: 1 - tx,
        cap,
        mode,
        tx_head: 0,
        tx_tail_seen: 0,
        rx_tail: 0,
        rx_head_seen: 0,
        _alive: alive,
        peer,
    };
    Ok((
        end(0, Arc::clone(&map), a_alive, b_watch),
        end(1, map, b_alive, a_watch),
    ))
}

impl End {
    /// How this pair waits: spinning or on a futex.
    pub fn coordination(&self) -> Coordination {
        self.mode
    }

    fn data(&self, ring: usize) -> *mut u8 {
        // SAFETY: the data areas follow the control blocks: 2 * CONTROL_LEN + 2 * cap bytes in
        // all, so both `cap`-byte areas are inside the mapping.
        unsafe { self.map.as_ptr().add(2 * CONTROL_LEN + ring * self.cap) }
    }

    /// Bytes between `from` and `to`, checked: the peer wrote one of them, so never trust it.
    fn distance(&self, from: u64, to: u64) -> io::Result<usize> {
        let used = to.wrapping_sub(from);
        if used > self.cap as u64 {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!(
                    "shm ring: head {to} and tail {from} are {used} bytes apart in a {}-byte ring: the peer broke the protocol",
                    self.cap
                ),
            ));
        }
        Ok(used as usize)
    }

    /// Waits until the other side's `index` no longer reads `stuck` (the value that means
    /// "empty" or "full") and returns what it reads. `None` means the peer is gone and `index`
    /// still read `stuck` after we noticed.
    fn wait(
        &self,
        index: &AtomicU64,
        stuck: u64,
        bell: &AtomicU32,
        waiting: &AtomicU32,
    ) -> io::Result<Option<u64>> {
        let mut spins = 0;
        loop {
            let now = index.load(Ordering::Acquire);
            if now != stuck {
                return Ok(Some(now));
            }
            let check_peer = match self.mode {
                Coordination::Spin => {
                    std::hint::spin_loop();
                    spins += 1;
                    spins == SPINS_PER_CHECK
                }
                Coordination::Futex => {
                    // Read the bell, announce the sleep, then look once more. With the SeqCst
                    // fences here and in `ring`, either we see the new index now, or the other
                    // side sees our flag and bumps the bell, so the kernel will not put us to
                    // sleep on the old value (or wakes us).
                    let seen = bell.load(Ordering::Acquire);
                    waiting.store(1, Ordering::Relaxed);
                    fence(Ordering::SeqCst);
                    let still = index.load(Ordering::Acquire) == stuck;
                    let timed_out = still && futex_wait(bell, seen, FUTEX_TIMEOUT)?;
                    waiting.store(0, Ordering::Relaxed);
                    timed_out
                }
            };
            if check_peer {
                spins = 0;
                if self.peer_gone()? {
                    let now = index.load(Ordering::Acquire);
                    return Ok((now != stuck).then_some(now));
                }
                if self.mode == Coordination::Spin {
                    std::thread::yield_now();
                }
            }
        }
    }

    /// After publishing an index: wake the other side if it sleeps (futex mode only).
    fn ring(&self, bell: &AtomicU32, waiting: &AtomicU32) {
        if self.mode == Coordination::Futex {
            fence(Ordering::SeqCst);
            if waiting.load(Ordering::Relaxed) != 0 {
                bell.fetch_add(1, Ordering::Release);
                futex_wake(bell);
            }
        }
    }

    fn peer_gone(&self) -> io::Result<bool> {
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

impl Write for End {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        let ring = control(&self.map, self.tx);
        let head = self.tx_head;
        let bells = &ring.bells.0;
        if self.cap - self.distance(self.tx_tail_seen, head)? < buf.len() {
            // Too little room by our copy: read the real `tail`, waiting while the ring is full.
            let full = head.wrapping_sub(self.cap as u64);
            let Some(tail) =
                self.wait(&ring.tail.0, full, &bells.space_seq, &bells.writer_waiting)?
            else {
                return Err(io::Error::new(
                    io::ErrorKind::BrokenPipe,
                    "shm ring: the peer process is gone",
                ));
            };
            self.tx_tail_seen = tail;
        }
        let free = self.cap - self.distance(self.tx_tail_seen, head)?;
        let n = free.min(buf.len());
        let at = head as usize & (self.cap - 1);
        let first = n.min(self.cap - at);
        // SAFETY: bytes [head, head + n) are free: the consumer had moved `tail` past them when
        // we loaded it (Acquire, in this call or an earlier one) and, following the protocol,
        // does not read them until we publish `head`. `at + first <= cap` and `n - first <= cap`, so both copies stay in the data
        // area. If a buggy peer touched these bytes anyway it could only garble `u8`s, for
        // which any value is valid; we never follow a pointer or index stored in them.
        unsafe {
            let data = self.data(self.tx);
            ptr::copy_nonoverlapping(buf.as_ptr(), data.add(at), first);
            ptr::copy_nonoverlapping(buf.as_ptr().add(first), data, n - first);
        }
        self.tx_head = head + n as u64;
        ring.head.0.store(self.tx_head, Ordering::Release);
        self.ring(&bells.data_seq, &bells.reader_waiting);
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Read for End {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        let ring = control(&self.map, self.rx);
        let tail = self.rx_tail;
        let bells = &ring.bells.0;
        if self.distance(tail, self.rx_head_seen)? < buf.len() {
            // Fewer bytes than asked by our copy: read the real `head`, waiting while empty.
            let Some(head) =
                self.wait(&ring.head.0, tail, &bells.data_seq, &bells.reader_waiting)?
            else {
                return Ok(0); // the peer is gone and everything it wrote has been read
            };
            self.rx_head_seen = head;
        }
        let available = self.distance(tail, self.rx_head_seen)?;
        let n = available.min(buf.len());
        let at = tail as usize & (self.cap - 1);
        let first = n.min(self.cap - at);
        // SAFETY: bytes [tail, tail + n) were published by the producer's Release store of
        // `head`, which our Acquire load (in this call or an earlier one) saw, and it does not
        // overwrite them until we move `tail`. Both copies stay inside the data area (`at +
        // first <= cap`, `n - first <= cap`). A buggy peer could garble them, but they are
        // plain `u8`s, valid for any bits.
        unsafe {
            let data = self.data(self.rx);
            ptr::copy_nonoverlapping(data.add(at), buf.as_mut_ptr(), first);
            ptr::copy_nonoverlapping(data, buf.as_mut_ptr().add(first), n - first);
        }
        self.rx_tail = tail + n as u64;
        ring.tail.0.store(self.rx_tail, Ordering::Release);
        self.ring(&bells.space_seq, &bells.writer_waiting);
        Ok(n)
    }
}

/// Ring `ring`'s control block in `map`.
fn control(map: &SharedMapping, ring: usize) -> &Control {
    // SAFETY: the mapping holds two control blocks of CONTROL_LEN bytes at its page-aligned
    // start, so this is in bounds and 64-byte aligned. Every field is an atomic integer, valid
    // for any bits, so whatever the peer process stores there is a valid value, and atomics
    // make its concurrent stores value changes, not data races.
    unsafe { &*map.as_ptr().add(ring * CONTROL_LEN).cast::<Control>() }
}

/// `FUTEX_WAIT` on a word in a shared mapping for at most `timeout`; true if it timed out.
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
