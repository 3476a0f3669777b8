//! Zero copies: the sender writes each message straight into a slot of the shared mapping, the
//! receiver works on it where it lies and hands the same slot back. No byte is copied into or
//! out of the region; the answer to a message is the slot itself, coming home.
//!
//! The slots are those of the rings (`slots.rs`): a 16-byte header (`stamp`, `len`) and the
//! payload after it, whole cache lines each. Message `m` uses slot `m % count`, and its stamp
//! says who holds the slot:
//!
//! - `2m + 1`: the sender wrote message `m` and `len` (stored before it) and lent it out. Its
//!   Release store pairs with the receiver's Acquire load, which makes the payload visible.
//! - `2m + 2`: the receiver has finished with it (it may have changed bytes in place) and handed
//!   it back. Its Release store pairs with the sender's Acquire load, so the receiver's reads
//!   and writes happen before the sender reads the slot or fills it again for `m + count`.
//!
//! A stamp from the slot's previous use is `2(m - count) + 2` at most, never `2m + 1`, so an old
//! slot is never taken for a new message. The receiver checks `len` against the slot before it
//! makes a slice of it; the sender never reads `len` back (it remembers what it sent).
//! Both sides spin while they wait; peer death is noticed as for the rings (`waiting.rs`).

use std::io;
use std::slice;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use crate::SharedMapping;
use crate::slots::{HEADER_LEN, LINE, Slot, Slots, prefetch};
use crate::waiting::{self, Bell, Coordination, Liveness};

/// The side that fills slots and lends them out.
pub struct Sender {
    map: Arc<SharedMapping>,
    slots: Slots,
    /// messages lent out so far
    sent: u64,
    /// messages whose slot we have seen come back
    returned: u64,
    /// the length of the message last sent in each slot
    lens: Vec<usize>,
    live: Liveness,
}

/// The side that receives slots, works on them in place and hands them back.
pub struct Receiver {
    map: Arc<SharedMapping>,
    slots: Slots,
    /// the message we receive next
    next: u64,
    live: Liveness,
}

/// A connected sender and receiver for messages of up to `msg_size` bytes (1..=
/// [`crate::MAX_MSG_SIZE`]), in one `MAP_SHARED` anonymous mapping. Create it before `fork()`;
/// the parent keeps one side and drops the other, the child the reverse.
pub fn pair(msg_size: usize) -> io::Result<(Sender, Receiver)> {
    let slots = Slots::for_messages(msg_size, "zero-copy channel")?;
    let len = slots.count * slots.len;
    let (a, b) = waiting::liveness_pair()?;
    let map = Arc::new(SharedMapping::new(len)?);
    let sender = Sender {
        map: Arc::clone(&map),
        slots,
        sent: 0,
        returned: 0,
        lens: vec![0; slots.count],
        live: a,
    };
    let receiver = Receiver {
        map,
        slots,
        next: 0,
        live: b,
    };
    Ok((sender, receiver))
}

/// Waits (spinning) until `slot`'s stamp is `stamp`. Ok(false): the peer is gone and it is not.
/// Meanwhile it asks for the slot's second cache line, which a message longer than 48 bytes
/// reaches into, so that line travels alongside the stamp's instead of after it.
fn wait_for(live: &Liveness, slot: &Slot<'_>, stamp: u64) -> io::Result<bool> {
    // The bell is never rung: these sides spin.
    let unused = AtomicU32::new(0);
    let bell = Bell {
        seq: &unused,
        waiting: &unused,
    };
    waiting::until(Coordination::Spin, live, bell, || {
        if slot.capacity > LINE - HEADER_LEN {
            prefetch(slot.payload.wrapping_add(LINE - HEADER_LEN));
        }
        slot.header.stamp.load(Ordering::Acquire) == stamp
    })
}

/// The slot of message `m`.
fn slot(map: &SharedMapping, slots: Slots, m: u64) -> Slot<'_> {
    // SAFETY: the mapping is exactly the `count * len` bytes of slots (see `pair`), from 0.
    unsafe { slots.slot(map, 0, m) }
}

fn gone() -> io::Error {
    io::Error::new(
        io::ErrorKind::BrokenPipe,
        "zero-copy channel: the peer process is gone",
    )
}

impl Sender {
    /// Payload bytes one slot holds.
    pub fn capacity(&self) -> usize {
        self.slots.capacity()
    }

    /// Messages lent out and not yet seen back.
    pub fn in_flight(&self) -> u64 {
        self.sent - self.returned
    }

    /// Takes the next slot (waiting for it to come home if every slot is lent out), lets `fill`
    /// write `len` bytes of message into it in place, and lends it to the receiver.
    pub fn send(&mut self, len: usize, fill: impl FnOnce(&mut [u8])) -> io::Result<()> {
        if len == 0 || len > self.capacity() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!(
                    "zero-copy send: {len} bytes, a slot holds 1 to {}",
                    self.capacity()
                ),
            ));
        }
        if self.in_flight() == self.slots.count as u64 {
            self.returned(|_| ())?;
        }
        let m = self.sent;
        let slot = slot(&self.map, self.slots, m);
        // SAFETY: the slot is ours: it is fresh, or its last message came back (stamp 2m' + 2,
        // Acquired). Following the protocol the receiver does not touch it until we store
        // 2m + 1 below, and `len <= capacity` keeps the slice inside it. A buggy peer writing
        // anyway could only change `u8`s, valid for any bits.
        fill(unsafe { slice::from_raw_parts_mut(slot.payload, len) });
        slot.header.len.store(len as u64, Ordering::Relaxed);
        // Release: the payload and `len` are visible to whoever Acquires this stamp.
        slot.header.stamp.store(2 * m + 1, Ordering::Release);
        self.lens[m as usize & (self.slots.count - 1)] = len;
        self.sent = m + 1;
        Ok(())
    }

    /// Waits for the oldest message lent out to come back and lets `look` see its slot in place,
    /// as the receiver left it. `BrokenPipe` if the receiver is gone first.
    pub fn returned<T>(&mut self, look: impl FnOnce(&[u8]) -> T) -> io::Result<T> {
        if self.in_flight() == 0 {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "zero-copy: no message is out, so none can come back",
            ));
        }
        let m = self.returned;
        let slot = slot(&self.map, self.slots, m);
        if !wait_for(&self.live, &slot, 2 * m + 2)? {
            return Err(gone());
        }
        let len = self.lens[m as usize & (self.slots.count - 1)];
        // SAFETY: the receiver handed the slot back (stamp 2m + 2, Acquired) and does not touch
        // it again; `len` is what we sent, at most the slot's capacity.
        let seen = look(unsafe { slice::from_raw_parts(slot.payload, len) });
        self.returned = m + 1;
        Ok(seen)
    }
}

impl Receiver {
    /// Waits for the next message, lets `work` read and change it in place, then hands the slot
    /// back. Ok(None): the sender is gone and no message is left.
    pub fn receive<T>(&mut self, work: impl FnOnce(&mut [u8]) -> T) -> io::Result<Option<T>> {
        let m = self.next;
        let slot = slot(&self.map, self.slots, m);
        if !wait_for(&self.live, &slot, 2 * m + 1)? {
            return Ok(None);
        }
        let len = slot.header.len.load(Ordering::Relaxed);
        if len == 0 || len > slot.capacity as u64 {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!(
                    "zero-copy: message {m} claims {len} bytes in a {}-byte slot: the peer \
                     broke the protocol",
                    slot.capacity
                ),
            ));
        }
        // SAFETY: the sender lent us the slot (stamp 2m + 1, Acquired) and does not touch it
        // until we store 2m + 2; `len` was checked against the slot's capacity just above.
        let result = work(unsafe { slice::from_raw_parts_mut(slot.payload, len as usize) });
        // Release: our reads and writes of the slot happen before the sender sees it back.
        slot.header.stamp.store(2 * m + 2, Ordering::Release);
        self.next = m + 1;
        Ok(Some(result))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_length_past_the_slot_is_refused() {
        let (s, mut r) = pair(64).expect("pair");
        let slot = slot(&s.map, s.slots, 0);
        slot.header.len.store(u64::MAX, Ordering::Relaxed);
        slot.header.stamp.store(1, Ordering::Release);
        let err = r.receive(|_| ()).expect_err("must refuse");
        assert_eq!(err.kind(), io::ErrorKind::InvalidData, "{err}");
    }
}
