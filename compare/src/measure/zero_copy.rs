//! Measuring messages that are never copied: shm-demo's zero-copy slots. The parent fills a slot
//! of the shared region with the message pattern in place and lends it; the child checks it in
//! place and hands the same slot back, which is the echo; the parent checks it in place again.
//! The payload work is the one every row does (`pattern::fill` once, `pattern::check` by both
//! processes); only the copies into and out of the mechanism are gone.

use std::io;

use nix::unistd::Pid;
use plumbing::child::ExitReason;
use shm_demo::zero_copy::{Receiver, Sender};

use crate::measure::sides::{Child, OneWay, Ping, child_says, io_failed, pair_failed};
use crate::measure::{bytes, pattern};
use crate::row::Skip;

/// What `shm_demo::zero_copy::pair` is: a connected sender and receiver for `msg_size` bytes.
pub type PairFn = fn(usize) -> io::Result<(Sender, Receiver)>;

/// Creates the pair for `size`, sorting "cannot carry this size" from real failures.
fn create(pair: PairFn, size: usize) -> Result<(Sender, Receiver), Skip> {
    pair(size).map_err(|e| pair_failed(size, e))
}

/// Fills the next slot with message `seq` and lends it to the child (`bytes::fill`: the
/// pattern, and under the test-only `--corrupt-to-child N` one byte of message N flipped in
/// the slot, for the child to catch).
fn send(sender: &mut Sender, size: usize, seq: u64) -> Result<(), Skip> {
    sender
        .send(size, |msg| bytes::fill(msg, seq))
        .map_err(|e| io_failed("send", seq, e))
}

/// The parent's side: the sender, lending `size`-byte slots.
pub struct Lender {
    sender: Sender,
    size: usize,
}

/// The child's side: the receiver, handing every slot back (see [`echo`]).
pub struct SlotEcho {
    receiver: Receiver,
    corrupt_after: Option<u64>,
}

/// The two sides of a round-trip measurement: message `seq` goes out in a slot, comes back as
/// the same slot, checked. `corrupt_after`: test only, the child alters that message.
pub fn round_trips(
    pair: PairFn,
    size: usize,
    corrupt_after: Option<u64>,
) -> Result<(Lender, SlotEcho), Skip> {
    let (sender, receiver) = create(pair, size)?;
    let echo = SlotEcho {
        receiver,
        corrupt_after,
    };
    Ok((Lender { sender, size }, echo))
}

impl Ping for Lender {
    fn round_trip(&mut self, _: Pid, seq: u64) -> Result<(), Skip> {
        send(&mut self.sender, self.size, seq)?;
        self.sender
            .returned(|msg| pattern::check(msg, seq))
            .map_err(|e| io_failed("wait for the slot to come back", seq, e))?
            .map_err(|m| Skip::Failed(format!("message {seq} came back changed: {m}")))
    }

    fn end(&mut self, _: Pid, _: u64) -> Result<(), Skip> {
        send(&mut self.sender, self.size, pattern::END)
    }
}

impl Child for SlotEcho {
    fn run(mut self, _: Pid, label: &str) -> ExitReason {
        echo(&mut self.receiver, self.corrupt_after, label)
    }
}

/// The child: check each message in place (and, under `--corrupt-after`, change one byte of
/// it), hand the slot back, stop at the end message (whose slot, handed back, is the
/// acknowledgement of a throughput run).
fn echo(receiver: &mut Receiver, corrupt_after: Option<u64>, label: &str) -> ExitReason {
    for seq in 0u64.. {
        let verdict = receiver.receive(|msg| -> Result<bool, pattern::Mismatch> {
            if pattern::is_end(msg) {
                return Ok(true);
            }
            pattern::check(msg, seq)?;
            if corrupt_after == Some(seq) {
                let middle = msg.len() / 2;
                msg[middle] ^= 0x01; // test only (--corrupt-after): the parent must catch this
            }
            Ok(false)
        });
        match verdict {
            Ok(Some(Ok(true))) => return ExitReason::Done,
            Ok(Some(Ok(false))) => {}
            Ok(Some(Err(m))) => {
                child_says(label, &format!("message {seq} arrived changed: {m}"));
                return ExitReason::Mismatch;
            }
            Ok(None) => return ExitReason::PeerGone,
            Err(e) => {
                child_says(label, &format!("message {seq}: receive: {e}"));
                return ExitReason::Io;
            }
        }
    }
    ExitReason::Done
}

/// The two sides of a one-way throughput measurement: the parent fills and lends `chunk`-byte
/// slots as fast as they come home, the child checks each in place and hands it back; the
/// clock runs from the moment the warm-up's slots are all home (nothing in flight, the child
/// running) to the end message's slot coming back.
pub fn stream(pair: PairFn, chunk: usize) -> Result<(Lender, SlotEcho), Skip> {
    round_trips(pair, chunk, None)
}

impl OneWay for Lender {
    fn send(&mut self, seq: u64) -> Result<(), Skip> {
        send(&mut self.sender, self.size, seq)
    }

    fn drain(&mut self, last: u64) -> Result<(), Skip> {
        all_home(&mut self.sender, last)
    }

    fn end(&mut self) -> Result<(), Skip> {
        send(&mut self.sender, self.size, pattern::END)?;
        all_home(&mut self.sender, pattern::END)
    }
}

/// Waits until every lent slot has come home, the last being message `last` (checked when it
/// is the end message, which the child hands back as it is).
fn all_home(sender: &mut Sender, last: u64) -> Result<(), Skip> {
    while sender.in_flight() > 0 {
        let check_end = last == pattern::END && sender.in_flight() == 1;
        sender
            .returned(|msg| match check_end {
                true => pattern::check(msg, pattern::END),
                false => Ok(()),
            })
            .map_err(|e| io_failed("wait for the slots to come home", last, e))?
            .map_err(|m| Skip::Failed(format!("the acknowledgement came back changed: {m}")))?;
    }
    Ok(())
}
