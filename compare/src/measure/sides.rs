//! What a kind of mechanism gives the harness, and what both use. A kind (`bytes.rs`,
//! `doorbell.rs`, `zero_copy.rs`) makes the two sides of a measurement before the fork: the
//! parent's ([`Ping`] for round trips, [`OneWay`] for a stream) and the child's ([`Child`]).
//! The harness (`harness.rs`, with `session.rs`) forks, pins, times and reaps, and calls the
//! sides; a kind never calls the harness. The message size goes one way, down: the run hands it
//! to the kind, which makes its pair and buffers for it.

use std::io;
use std::sync::atomic::AtomicU64;

use nix::unistd::Pid;
use plumbing::child::ExitReason;
use plumbing::program;

use crate::row::Skip;

/// The parent's side of a round-trip measurement.
pub trait Ping {
    /// Once, after the fork and before the warm-up, outside the clock and the CPU count: an
    /// end that can only be opened in its own process (a peer crate's node and ports) opens
    /// here and waits for its peer.
    fn open(&mut self, _child: Pid) -> Result<(), Skip> {
        Ok(())
    }

    /// One round trip: message `seq` to the child, its answer back and checked.
    fn round_trip(&mut self, child: Pid, seq: u64) -> Result<(), Skip>;

    /// After the last round trip (`seq` would be the next): tell the child to end.
    fn end(&mut self, child: Pid, seq: u64) -> Result<(), Skip>;
}

/// The parent's side of a one-way stream (see `harness::stream`).
pub trait OneWay {
    /// Once, after the fork and before the warm-up, outside the clock (as [`Ping::open`]).
    fn open(&mut self) -> Result<(), Skip> {
        Ok(())
    }

    /// Sends message `seq`.
    fn send(&mut self, seq: u64) -> Result<(), Skip>;

    /// Returns once the receiver has taken every message up to `last`, the last warm-up
    /// message: nothing is in flight.
    fn drain(&mut self, last: u64) -> Result<(), Skip>;

    /// Sends the end message and returns once the receiver has acknowledged it: every message
    /// has been taken.
    fn end(&mut self) -> Result<(), Skip>;
}

/// The child's side: answers until the end message (or until the parent is gone), then
/// returns why it ended, which becomes its exit status. `label` names the measurement in the
/// child's one line on stderr, which it prints before any reason but `Done` and `PeerGone`.
pub trait Child {
    /// Once, after the fork and before the child's CPU count starts (as [`Ping::open`]); an
    /// error is the child's exit status, after its one line on stderr.
    fn open(&mut self, _parent: Pid, _label: &str) -> Result<(), ExitReason> {
        Ok(())
    }

    fn run(self, parent: Pid, label: &str) -> ExitReason;
}

/// A pair that could not be made for `size`-byte messages: "cannot carry this size"
/// (InvalidInput, with the mechanism's reason) is not applicable, anything else a failure.
pub fn pair_failed(size: usize, e: io::Error) -> Skip {
    match e.kind() {
        io::ErrorKind::InvalidInput => Skip::NotApplicable(e.to_string()),
        _ => Skip::Failed(format!("creating the pair for {size} B messages: {e}")),
    }
}

/// The untimed start of every one-way stream: the child's start and the first pass through
/// the transport's buffers (and, for a stream of small messages, at least 16 of them).
const STREAM_WARMUP: u64 = 1 << 20;

/// How many messages of `chunk` bytes a stream sends before its clock starts (both sides
/// work it out: the receiver answers the last of them, see `harness::stream`).
pub fn warmup_messages(chunk: usize) -> u64 {
    (STREAM_WARMUP / chunk as u64).max(16)
}

/// A child's one line on stderr: "compare: child (pipe, 64 B, ...): what".
pub fn child_says(label: &str, what: &str) {
    program::say(&format!("child ({label}): {what}"));
}

/// A message that failed on the way, as a row's reason.
pub fn io_failed(what: &str, seq: u64, e: io::Error) -> Skip {
    Skip::Failed(format!("message {seq}: {what}: {e}"))
}

/// One 64-bit word in a zero-filled page shared across a fork: how a session's two processes
/// pass a number (the child's CPU time) or a flag (a doorbell's end) without a channel.
pub struct SharedWord(shm_demo::SharedMapping);

impl SharedWord {
    pub fn new() -> Result<Self, Skip> {
        shm_demo::SharedMapping::new(size_of::<AtomicU64>())
            .map(SharedWord)
            .map_err(|e| Skip::Failed(format!("a shared page for the session: {e}")))
    }

    pub fn get(&self) -> &AtomicU64 {
        // SAFETY: the mapping is at least 8 bytes, page-aligned and lives as long as `self`;
        // an AtomicU64 is valid for any bits, and atomics make the two processes' accesses
        // value changes, not data races.
        unsafe { &*self.0.as_ptr().cast::<AtomicU64>() }
    }
}
