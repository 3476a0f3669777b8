//! Measuring a signal-based doorbell: no bytes, only "it rang". The parent rings the child and
//! waits for the ring back; there is nothing to verify but that every ring is answered.

use std::io;
use std::rc::Rc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use nix::unistd::{Pid, getppid};
use plumbing::child::ExitReason;

use crate::measure::sides::{Child, Ping, SharedWord, child_says, io_failed};
use crate::row::Skip;

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

/// The parent's side: rings the child and waits for the ring back.
pub struct Ringer {
    bell: Doorbell,
    done: Rc<SharedWord>,
}

/// The child's side: answers every ring (see [`answer_rings`]).
pub struct Answerer {
    bell: Doorbell,
    done: Rc<SharedWord>,
}

/// The two sides of a doorbell's round trips: the parent rings the child, the child rings
/// back. Nothing to verify but that every ring is answered (a ring is never sent before the
/// last one is).
pub fn round_trips(bell: Doorbell) -> Result<(Ringer, Answerer), Skip> {
    (bell.block)().map_err(|e| Skip::Failed(format!("blocking the doorbell signal: {e}")))?;
    // A late answer from an earlier, failed session may still be queued: take it now, or
    // every round trip of this one would be answered by the ring before.
    while (bell.wait)(Duration::ZERO)
        .map_err(|e| Skip::Failed(format!("draining old rings: {e}")))?
    {}
    // A ring carries nothing, so "the end" is a flag in a shared word that the child reads
    // when it wakes (both processes use the same page: it is no one's end to drop).
    let done = Rc::new(SharedWord::new()?);
    let answerer = Answerer {
        bell,
        done: Rc::clone(&done),
    };
    Ok((Ringer { bell, done }, answerer))
}

impl Ping for Ringer {
    fn round_trip(&mut self, child: Pid, seq: u64) -> Result<(), Skip> {
        (self.bell.ring)(child).map_err(|e| io_failed("ring", seq, e))?;
        match (self.bell.wait)(ANSWER_TIMEOUT) {
            Ok(true) => Ok(()),
            Ok(false) => Err(Skip::Failed(format!(
                "ring {seq}: no answer within {} s",
                ANSWER_TIMEOUT.as_secs()
            ))),
            Err(e) => Err(io_failed("wait", seq, e)),
        }
    }

    /// The last ring, with the end flag set.
    fn end(&mut self, child: Pid, seq: u64) -> Result<(), Skip> {
        // Release: pairs with the child's Acquire load after the ring that follows.
        self.done.get().store(1, Ordering::Release);
        (self.bell.ring)(child).map_err(|e| io_failed("ring", seq, e))
    }
}

impl Child for Answerer {
    fn run(self, parent: Pid, label: &str) -> ExitReason {
        answer_rings(self.bell, parent, &self.done, label)
    }
}

/// The doorbell child: answer every ring until one comes with the end flag set (or the parent
/// dies).
fn answer_rings(bell: Doorbell, parent: Pid, done: &SharedWord, label: &str) -> ExitReason {
    loop {
        match (bell.wait)(Duration::from_millis(250)) {
            Ok(true) if done.get().load(Ordering::Acquire) != 0 => return ExitReason::Done,
            Ok(true) => {
                if let Err(e) = (bell.ring)(parent) {
                    child_says(label, &format!("ring back: {e}"));
                    return ExitReason::Io;
                }
            }
            Ok(false) if getppid() != parent => return ExitReason::PeerGone,
            Ok(false) => {}
            Err(e) => {
                child_says(label, &format!("wait: {e}"));
                return ExitReason::Io;
            }
        }
    }
}
