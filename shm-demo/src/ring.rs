//! Single-producer single-consumer rings of message slots in one shared mapping: the shm
//! endpoints that `compare` measures, as byte streams (`Read + Write`).
//!
//! Each direction is one ring of `slots` slots (a power of two), `slot_len` bytes each (a
//! multiple of the 64-byte cache line). A slot starts with a 16-byte header, a `stamp` and a
//! `len`, and the payload follows it in the same cache line:
//!
//! ```text
//!     slot:  | stamp (8) | len (8) | payload: up to slot_len - 16 bytes ... |
//! ```
//!
//! Message `seq` (counted from 0 in each ring) goes into slot `seq % slots`. The producer
//! copies the bytes in, stores `len`, then publishes with `stamp.store(seq + 1, Release)`. The
//! consumer polls that stamp *in the slot it reads next*; its `stamp.load(Acquire)` seeing
//! `seq + 1` makes `len` and the payload visible. There is no shared `head` index: the word the
//! reader waits on sits in the same cache line as the first 48 bytes of the message, so a small
//! message crosses between cores as the line(s) it occupies, not as an index line first and the
//! data line after it. (A 64-byte message reaches into the slot's second line; the waiting
//! reader prefetches that line, so it can travel alongside the first.) A stamp left from the slot's previous lap is `seq + 1 - slots`, never
//! `seq + 1`, and only the producer writes headers, so a stale or half-written slot is never
//! taken for a new one.
//!
//! Free space travels the other way, lazily: the consumer stores `tail` (messages it has
//! finished with, Release) only every `slots / 4` messages, and the producer loads it (Acquire)
//! only when its own copy says all slots are taken. That pairing is what lets the producer
//! overwrite a slot: the consumer's reads of it happen before its `tail` store.
//!
//! A `write` fills at most one slot (a longer buffer is a short write, which `write_all`
//! continues); a `read` may take part of a slot and the rest on the next call, so the ends are
//! byte streams: one message = one `write_all` of at most the ring's message size, read with
//! one `read_exact`.
//!
//! Nothing read from the mapping is trusted: a `len` larger than the slot, or a `tail` that
//! is behind our copy or ahead of what we wrote, is an `InvalidData` error ("the peer broke the
//! protocol"), never an index. Waiting (spin or futex) and peer death: see `waiting.rs`; `read`
//! returns 0 (end of file) once the peer is gone and its last message read, `write` fails with
//! `BrokenPipe` when it must wait for a peer that is gone.

use std::io::{self, Read, Write};
use std::ptr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};

use crate::SharedMapping;
pub use crate::slots::MAX_MSG_SIZE;
use crate::slots::{HEADER_LEN, LINE, Slot, Slots, prefetch};
pub use crate::waiting::Coordination;
use crate::waiting::{self, Bell, Liveness};

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

/// One ring's control block: the consumer's `tail` and the doorbells, on separate lines.
#[repr(C)]
struct Control {
    tail: CacheLine<AtomicU64>,
    bells: CacheLine<Doorbells>,
}

const CONTROL_LEN: usize = 128;
const _: () = assert!(size_of::<Control>() <= CONTROL_LEN);

/// One side of a two-way shared-memory channel: it writes into one ring and reads from the
/// other. One message = one `write_all`; the reader gets it with one `read_exact`.
pub struct End {
    map: Arc<SharedMapping>,
    slots: Slots,
    tx: usize,
    rx: usize,
    mode: Coordination,
    /// Messages we have published into ring `tx` (only we know it: there is no shared head).
    tx_head: u64,
    /// The consumer's `tail` of ring `tx`, as we last read it.
    tx_tail_seen: u64,
    /// The message of ring `rx` we read next.
    rx_seq: u64,
    /// Payload bytes of message `rx_seq` already read, and its length (0: not yet arrived).
    rx_offset: usize,
    rx_len: usize,
    /// The `tail` we last stored for ring `rx`.
    rx_tail_stored: u64,
    live: Liveness,
}

/// A connected pair whose waiting sides spin. See [`blocking_duplex`] for the contract.
pub fn spin_duplex(msg_size: usize) -> io::Result<(End, End)> {
    duplex(msg_size, Coordination::Spin)
}

/// A connected pair whose waiting sides sleep on a futex, carrying `msg_size`-byte messages
/// both ways (two rings in one `MAP_SHARED` anonymous mapping, each slot at least `msg_size`
/// bytes).
///
/// Create it before `fork()`; afterwards the parent drops `.1` and the child drops `.0`, so
/// each pipe's write end lives only in the process it reports on. Nothing is named, so a crash
/// leaves nothing behind. `msg_size` must be 1..=[`MAX_MSG_SIZE`].
pub fn blocking_duplex(msg_size: usize) -> io::Result<(End, End)> {
    duplex(msg_size, Coordination::Futex)
}

fn duplex(msg_size: usize, mode: Coordination) -> io::Result<(End, End)> {
    let slots = Slots::for_messages(msg_size, "shm ring")?;
    let map = Arc::new(SharedMapping::new(
        2 * CONTROL_LEN + 2 * slots.count * slots.len,
    )?);
    let (a, b) = waiting::liveness_pair()?;
    let end = |tx, map, live| End {
        map,
        slots,
        tx,
        rx: 1 - tx,
        mode,
        tx_head: 0,
        tx_tail_seen: 0,
        rx_seq: 0,
        rx_offset: 0,
        rx_len: 0,
        rx_tail_stored: 0,
        live,
    };
    Ok((end(0, Arc::clone(&map), a), end(1, map, b)))
}

impl End {
    /// How this pair waits: spinning or on a futex.
    pub fn coordination(&self) -> Coordination {
        self.mode
    }

    fn control(&self, ring: usize) -> &Control {
        // SAFETY: the mapping starts with two control blocks of CONTROL_LEN bytes, so this is
        // in bounds and 64-byte aligned. Every field is an atomic integer, valid for any bits,
        // so whatever the peer stores there is a valid value, and atomics make its concurrent
        // stores value changes, not data races.
        unsafe { &*self.map.as_ptr().add(ring * CONTROL_LEN).cast::<Control>() }
    }

    fn slot(&self, ring: usize, seq: u64) -> Slot<'_> {
        let offset = 2 * CONTROL_LEN + ring * self.slots.count * self.slots.len;
        // SAFETY: the mapping holds both control blocks and then both rings of `count * len`
        // bytes (see `duplex`), so ring `ring` ends inside it; `offset` is a multiple of 64.
        unsafe { self.slots.slot(&self.map, offset, seq) }
    }

    fn bell<'a>(seq: &'a AtomicU32, waiting: &'a AtomicU32) -> Bell<'a> {
        Bell { seq, waiting }
    }

    /// Waits until the consumer of ring `tx` has finished with at least one more slot than our
    /// copy of its `tail` says, and takes the new `tail` (checked: the peer wrote it).
    fn wait_for_space(&mut self) -> io::Result<()> {
        let control = self.control(self.tx);
        let bells = &control.bells.0;
        let seen = self.tx_tail_seen;
        let mut tail = seen;
        let moved = waiting::until(
            self.mode,
            &self.live,
            Self::bell(&bells.space_seq, &bells.writer_waiting),
            || {
                // Acquire: pairs with the consumer's Release store of `tail`, so its reads of
                // the slots before `tail` happen before we overwrite them.
                tail = control.tail.0.load(Ordering::Acquire);
                tail != seen
            },
        )?;
        if !moved {
            return Err(io::Error::new(
                io::ErrorKind::BrokenPipe,
                "shm ring: the peer process is gone",
            ));
        }
        if tail < seen || tail > self.tx_head {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!(
                    "shm ring: the reader's tail went from {seen} to {tail} with {} messages \
                     written: the peer broke the protocol",
                    self.tx_head
                ),
            ));
        }
        self.tx_tail_seen = tail;
        Ok(())
    }

    /// Waits for message `rx_seq` and takes its length (checked). Ok(false): the peer is gone
    /// and the message never came.
    fn wait_for_message(&mut self) -> io::Result<bool> {
        let control = self.control(self.rx);
        let bells = &control.bells.0;
        let slot = self.slot(self.rx, self.rx_seq);
        let stamp = self.rx_seq + 1;
        // A message longer than 48 bytes reaches into the slot's second line: ask for it while
        // we wait, so it travels alongside the stamp's line instead of after. (Worked out once
        // here, so each spin is a prefetch, a load and a compare.)
        let second_line = match slot.capacity > LINE - HEADER_LEN {
            true => slot.payload.wrapping_add(LINE - HEADER_LEN),
            false => slot.payload, // the stamp's own line: a prefetch of it costs nothing
        };
        let stamp_word = &slot.header.stamp;
        let arrived = waiting::until(
            self.mode,
            &self.live,
            Self::bell(&bells.data_seq, &bells.reader_waiting),
            move || {
                prefetch(second_line);
                // Acquire: pairs with the producer's Release store of this stamp, so the
                // `len` and payload it wrote before it are visible to the loads below.
                stamp_word.load(Ordering::Acquire) == stamp
            },
        )?;
        if !arrived {
            return Ok(false);
        }
        let len = slot.header.len.load(Ordering::Relaxed);
        if len == 0 || len > slot.capacity as u64 {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!(
                    "shm ring: message {} claims {len} bytes in a {}-byte slot: the peer \
                     broke the protocol",
                    self.rx_seq, slot.capacity
                ),
            ));
        }
        self.rx_len = len as usize;
        self.rx_offset = 0;
        Ok(true)
    }

    /// We are done with message `rx_seq`: move on, and every quarter ring tell the producer.
    fn finish_message(&mut self) {
        self.rx_seq += 1;
        self.rx_len = 0;
        let every = (self.slots.count / 4).max(1) as u64;
        if self.rx_seq - self.rx_tail_stored >= every {
            let control = self.control(self.rx);
            let bells = &control.bells.0;
            // Release: our reads of every slot before `rx_seq` happen before the producer's
            // Acquire load sees this value and overwrites them.
            control.tail.0.store(self.rx_seq, Ordering::Release);
            waiting::ring(
                self.mode,
                Self::bell(&bells.space_seq, &bells.writer_waiting),
            );
            self.rx_tail_stored = self.rx_seq;
        }
    }
}

impl Write for End {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        if self.tx_head - self.tx_tail_seen >= self.slots.count as u64 {
            // Every slot is taken by our copy of `tail`: read the real one, waiting if needed.
            self.wait_for_space()?;
        }
        let seq = self.tx_head;
        let slot = self.slot(self.tx, seq);
        let n = buf.len().min(slot.capacity);
        // SAFETY: slot `seq` is ours: the consumer finished with its previous message (`tail`
        // is past it, loaded with Acquire) and, following the protocol, does not read it until
        // we publish `seq + 1` below. `n <= capacity`, so the copy stays inside the slot. If a
        // buggy peer touched these bytes anyway it could only garble `u8`s, for which any value
        // is valid; we never follow a pointer or index stored in them.
        unsafe { ptr::copy_nonoverlapping(buf.as_ptr(), slot.payload, n) };
        slot.header.len.store(n as u64, Ordering::Relaxed);
        // Release: the payload and `len` above are visible to whoever Acquires this stamp.
        slot.header.stamp.store(seq + 1, Ordering::Release);
        self.tx_head = seq + 1;
        let bells = &self.control(self.tx).bells.0;
        waiting::ring(
            self.mode,
            Self::bell(&bells.data_seq, &bells.reader_waiting),
        );
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
        if self.rx_len == 0 && !self.wait_for_message()? {
            return Ok(0); // the peer is gone and everything it wrote has been read
        }
        let slot = self.slot(self.rx, self.rx_seq);
        let n = buf.len().min(self.rx_len - self.rx_offset);
        // SAFETY: the payload of message `rx_seq` was published by the producer's Release store
        // of its stamp, which our Acquire load saw, and the producer does not overwrite the
        // slot until our `tail` passes it. `rx_offset + n <= rx_len <= capacity` (checked in
        // `wait_for_message`), so the copy stays inside the slot. A buggy peer could garble
        // the bytes, but they are plain `u8`s, valid for any bits.
        unsafe { ptr::copy_nonoverlapping(slot.payload.add(self.rx_offset), buf.as_mut_ptr(), n) };
        self.rx_offset += n;
        if self.rx_offset == self.rx_len {
            self.finish_message();
        }
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A peer that writes a length larger than the slot: the reader refuses it, copies nothing.
    #[test]
    fn a_length_past_the_slot_is_refused() {
        let (a, mut b) = spin_duplex(64).expect("pair");
        let slot = a.slot(a.tx, 0);
        slot.header.len.store(1 << 40, Ordering::Relaxed);
        slot.header.stamp.store(1, Ordering::Release);
        let err = b.read(&mut [0; 64]).expect_err("must refuse");
        assert_eq!(err.kind(), io::ErrorKind::InvalidData, "{err}");
        assert!(err.to_string().contains("broke the protocol"), "{err}");
    }

    /// A peer that moves `tail` past what was written: the writer refuses it.
    #[test]
    fn a_tail_ahead_of_the_writer_is_refused() {
        let (mut a, _b) = spin_duplex(64).expect("pair");
        for _ in 0..a.slots.count {
            a.write_all(&[7; 64]).expect("room");
        }
        a.control(a.tx).tail.0.store(u64::MAX, Ordering::Release);
        let err = a.write(&[7; 64]).expect_err("must refuse");
        assert_eq!(err.kind(), io::ErrorKind::InvalidData, "{err}");
    }

    /// A small message and its header share one cache line: what the reader polls is next to
    /// what it reads. (A 64-byte payload takes the slot's first two lines.)
    #[test]
    fn the_stamp_sits_in_the_first_line_of_the_message() {
        let (a, _b) = spin_duplex(64).expect("pair");
        let slot = a.slot(a.tx, 0);
        let stamp = slot.header.stamp.as_ptr() as usize;
        assert_eq!(stamp % LINE, 0);
        assert_eq!(slot.payload as usize / LINE, stamp / LINE);
        assert_eq!(a.slots.len, 2 * LINE);
    }
}
