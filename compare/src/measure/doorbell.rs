//! Measuring a signal-based doorbell: no bytes, only "it rang". The parent rings the child and
//! waits for the ring back; there is nothing to verify but that every ring is answered.

use std::io;
use std::sync::atomic::Ordering;
use std::time::Duration;

use nix::unistd::{Pid, getppid};

use crate::measure::harness::{
    CHILD_IO, CHILD_PEER_GONE, SharedWord, child_says, io_failed, session, time_round_trips,
};
use crate::row::{Latency, Placement, Plan, Skip};

/// How long a doorbell waits for its answer before the row fails.
const ANSWER_TIMEOUT: Duration = Duration::from_secs(2);

/// A signal-based doorbell: no bytes, only "it rang".
#[derive(Clone, Copy)]
pub struct Doorbell {
    /// block the doorbell signal (before fork, so neither side can miss a ring)
    pub block: fn() -> io::Result<()>,
    pub ring: fn(Pid) -> io::Result<()>,
    /// Ok(false) on timeout
    pub wait: fn(Duration) -> io::Result<bool>,
}

/// Round trips of a doorbell: the parent rings the child, the child rings back. Nothing to
/// verify but that every ring is answered (a ring is never sent before the last one is).
pub fn latency(
    label: &str,
    bell: Doorbell,
    placement: Placement,
    plan: &Plan,
    watchdog: u32,
) -> Result<Latency, Skip> {
    (bell.block)().map_err(|e| Skip::Failed(format!("blocking the doorbell signal: {e}")))?;
    // A late answer from an earlier, failed session may still be queued: take it now, or
    // every round trip of this one would be answered by the ring before.
    while (bell.wait)(Duration::ZERO)
        .map_err(|e| Skip::Failed(format!("draining old rings: {e}")))?
    {}
    // A ring carries nothing, so "the end" is a flag in a shared word that the child reads
    // when it wakes (both processes use the same page: it is no one's end to drop).
    let done = SharedWord::new()?;
    let (timed, child_cpu) = session(
        label,
        placement,
        watchdog,
        (),
        |parent| answer_rings(bell, parent, &done, label),
        |child, ()| {
            let timed = time_round_trips(plan, |seq| {
                (bell.ring)(child).map_err(|e| io_failed("ring", seq, e))?;
                match (bell.wait)(ANSWER_TIMEOUT) {
                    Ok(true) => Ok(()),
                    Ok(false) => Err(Skip::Failed(format!(
                        "ring {seq}: no answer within {} s",
                        ANSWER_TIMEOUT.as_secs()
                    ))),
                    Err(e) => Err(io_failed("wait", seq, e)),
                }
            })?;
            // Release: pairs with the child's Acquire load after the ring that follows.
            done.get().store(1, Ordering::Release);
            (bell.ring)(child).map_err(|e| io_failed("ring", timed.round_trips, e))?;
            Ok(timed)
        },
    )?;
    let messages = 2 * timed.round_trips + 1; // and the last ring
    Ok(timed.latency(child_cpu, messages))
}

/// The doorbell child: answer every ring until one comes with the end flag set (or the parent
/// dies).
fn answer_rings(bell: Doorbell, parent: Pid, done: &SharedWord, label: &str) -> i32 {
    loop {
        match (bell.wait)(Duration::from_millis(250)) {
            Ok(true) if done.get().load(Ordering::Acquire) != 0 => return 0,
            Ok(true) => {
                if let Err(e) = (bell.ring)(parent) {
                    child_says(label, &format!("ring back: {e}"));
                    return CHILD_IO;
                }
            }
            Ok(false) if getppid() != parent => return CHILD_PEER_GONE,
            Ok(false) => {}
            Err(e) => {
                child_says(label, &format!("wait: {e}"));
                return CHILD_IO;
            }
        }
    }
}
