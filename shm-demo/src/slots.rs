//! The slot layout shared by the rings (`ring.rs`) and the zero-copy channel (`zero_copy.rs`).
//!
//! A slot is whole 64-byte cache lines: a 16-byte header (`stamp`, `len`) and the payload
//! after it, in the same line as the header for its first 48 bytes:
//!
//! ```text
//!     slot:  | stamp (8) | len (8) | payload: up to slot length - 16 bytes ... |
//! ```
//!
//! A channel has a power of two of slots, at least `RING_BYTES` in all; message `seq` uses slot
//! `seq % count`. What the stamp means is the user's protocol (see each).

use std::io;
use std::sync::atomic::AtomicU64;

use crate::SharedMapping;

/// Largest message the rings and the zero-copy channel are sized for (16 MiB).
pub const MAX_MSG_SIZE: usize = 16 << 20;
/// A channel has at least this many bytes of slots.
const RING_BYTES: usize = 256 << 10;
pub(crate) const LINE: usize = 64;

/// The header at the start of every slot.
#[repr(C)]
pub(crate) struct SlotHeader {
    /// Which message the slot holds and who has it, stored last (Release): in a ring `seq + 1`,
    /// stored by the producer only; in the zero-copy channel `2m + 1` (lent) by the sender and
    /// `2m + 2` (handed back) by the receiver.
    pub stamp: AtomicU64,
    /// payload bytes of that message, stored by the writer of the payload before the stamp
    pub len: AtomicU64,
}

pub(crate) const HEADER_LEN: usize = size_of::<SlotHeader>();

/// The shape of a ring: how many slots, how long each is.
#[derive(Clone, Copy)]
pub(crate) struct Slots {
    pub count: usize,
    pub len: usize,
}

impl Slots {
    /// Slots that hold `msg_size` bytes of payload each: whole cache lines; the fewest, a power
    /// of two, that make `RING_BYTES` (2048 for 64-byte messages, four for 64 KiB, one from
    /// 256 KiB up: a message that large keeps both sides busy on its own, and one slot keeps
    /// a ping-pong's working set to one message). `msg_size` must be 1..=MAX_MSG_SIZE.
    pub(crate) fn for_messages(msg_size: usize, what: &str) -> io::Result<Slots> {
        if msg_size == 0 || msg_size > MAX_MSG_SIZE {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!(
                    "message size {msg_size}: the {what} carries 1 to {MAX_MSG_SIZE} bytes \
                     (shm_demo::MAX_MSG_SIZE)"
                ),
            ));
        }
        let len = (HEADER_LEN + msg_size).next_multiple_of(LINE);
        Ok(Slots {
            // A power of two, so that finding a message's slot is a mask, not a division.
            count: RING_BYTES.div_ceil(len).next_power_of_two(),
            len,
        })
    }

    /// Payload bytes a slot holds (at least the `msg_size` it was made for).
    pub(crate) fn capacity(&self) -> usize {
        self.len - HEADER_LEN
    }

    /// The slot of message `seq` (slot `seq % count`) in the ring that starts `offset` bytes
    /// into `map`.
    ///
    /// # Safety
    /// `offset` is a multiple of 64 and `offset + count * len <= map.len()`: the whole ring is
    /// inside the mapping.
    pub(crate) unsafe fn slot<'m>(
        &self,
        map: &'m SharedMapping,
        offset: usize,
        seq: u64,
    ) -> Slot<'m> {
        let index = seq as usize & (self.count - 1);
        // SAFETY: `offset + index * len + len <= offset + count * len <= map.len()` (our
        // caller's promise), so the slot is inside the mapping; it is 64-byte aligned (the
        // mapping is page aligned, `offset` and `len` are multiples of 64).
        let start = unsafe { map.as_ptr().add(offset + index * self.len) };
        Slot {
            // SAFETY: the header is two u64 atomics at a 64-byte aligned address inside the
            // mapping; any bits are a valid value, and the peer's concurrent stores to them
            // are atomic value changes, not data races. `'m` ties it to the mapping.
            header: unsafe { &*start.cast::<SlotHeader>() },
            // SAFETY: the payload follows the header inside the same slot.
            payload: unsafe { start.add(HEADER_LEN) },
            capacity: self.capacity(),
        }
    }
}

/// Asks the CPU to bring the cache line at `at` closer. Only a hint: it reads nothing in the
/// language's sense and cannot fault, so any address will do.
pub(crate) fn prefetch(at: *const u8) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: PREFETCHT0 never faults and has no effect the program can observe besides timing;
    // SSE is part of every x86-64 CPU.
    unsafe {
        std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>(at.cast::<i8>());
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = at;
}

/// One slot: its header, and where its payload (of `capacity` bytes) starts.
pub(crate) struct Slot<'a> {
    pub header: &'a SlotHeader,
    pub payload: *mut u8,
    pub capacity: usize,
}
