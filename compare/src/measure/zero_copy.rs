//! Measuring messages that are never copied: shm-demo's zero-copy slots. The parent fills a slot
//! of the shared region with the message pattern in place and lends it; the child checks it in
//! place and hands the same slot back, which is the echo; the parent checks it in place again.
//! The payload work is the one every row does (`pattern::fill` once, `pattern::check` by both
//! processes); only the copies into and out of the mechanism are gone.

use shm_demo::zero_copy::{Receiver, Sender};
use std::io;

use crate::measure::harness::{
    CHILD_IO, CHILD_MISMATCH, CHILD_PEER_GONE, Step, child_says, io_failed, pair_failed, session,
    stream, time_round_trips,
};
use crate::measure::pattern;
use crate::row::{Latency, Placement, Plan, Skip, Throughput};

/// What `shm_demo::zero_copy::pair` is: a connected sender and receiver for `msg_size` bytes.
pub type PairFn = fn(usize) -> io::Result<(Sender, Receiver)>;

/// Creates the pair for `size`, sorting "cannot carry this size" from real failures.
fn create(pair: PairFn, size: usize) -> Result<(Sender, Receiver), Skip> {
    pair(size).map_err(|e| pair_failed(size, e))
}

/// Fills the next slot with message `seq` and lends it to the child.
fn send(sender: &mut Sender, size: usize, seq: u64) -> Result<(), Skip> {
    sender
        .send(size, |msg| pattern::fill(msg, seq))
        .map_err(|e| io_failed("send", seq, e))
}

/// Round-trip latency: message `seq` goes out in a slot, comes back as the same slot, checked.
pub fn latency(
    label: &str,
    pair: PairFn,
    size: usize,
    placement: Placement,
    plan: &Plan,
    watchdog: u32,
) -> Result<Latency, Skip> {
    let (sender, mut receiver) = create(pair, size)?;
    let corrupt_after = plan.corrupt_after;
    let (timed, child_cpu) = session(
        label,
        placement,
        watchdog,
        sender,
        move |_| echo(&mut receiver, corrupt_after, label),
        |_, sender| {
            let timed = time_round_trips(plan, |seq| {
                send(sender, size, seq)?;
                sender
                    .returned(|msg| pattern::check(msg, seq))
                    .map_err(|e| io_failed("wait for the slot to come back", seq, e))?
                    .map_err(|m| Skip::Failed(format!("message {seq} came back changed: {m}")))
            })?;
            send(sender, size, pattern::END)?;
            Ok(timed)
        },
    )?;
    let messages = 2 * timed.round_trips + 1; // and the end message
    Ok(timed.latency(child_cpu, messages))
}

/// The child: check each message in place (and, under `--corrupt-after`, change one byte of
/// it), hand the slot back, stop at the end message (whose slot, handed back, is the
/// acknowledgement of a throughput run).
fn echo(receiver: &mut Receiver, corrupt_after: Option<u64>, label: &str) -> i32 {
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
            Ok(Some(Ok(true))) => return 0,
            Ok(Some(Ok(false))) => {}
            Ok(Some(Err(m))) => {
                child_says(label, &format!("message {seq} arrived changed: {m}"));
                return CHILD_MISMATCH;
            }
            Ok(None) => return CHILD_PEER_GONE,
            Err(e) => {
                child_says(label, &format!("message {seq}: receive: {e}"));
                return CHILD_IO;
            }
        }
    }
    0
}

/// One-way throughput: the parent fills and lends `chunk`-byte slots as fast as they come
/// home, the child checks each in place and hands it back; the clock runs from the moment the
/// warm-up's slots are all home (nothing in flight, the child running) to the end message's
/// slot coming back.
pub fn throughput(
    label: &str,
    pair: PairFn,
    chunk: usize,
    placement: Placement,
    plan: &Plan,
    watchdog: u32,
) -> Result<Throughput, Skip> {
    let (sender, mut receiver) = create(pair, chunk)?;
    let ((sent, elapsed), _) = session(
        label,
        placement,
        watchdog,
        sender,
        move |_| echo(&mut receiver, None, label),
        |_, sender| {
            let (sent, started) = stream(plan, chunk, |step| match step {
                Step::Send(seq) => send(sender, chunk, seq),
                Step::Drain { last } => all_home(sender, last),
            })?;
            send(sender, chunk, pattern::END)?;
            all_home(sender, pattern::END)?;
            Ok((sent, started.elapsed()))
        },
    )?;
    Ok(Throughput::new(sent, elapsed, chunk))
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
