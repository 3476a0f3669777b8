//! How much the run measures: how many forked measurements a round makes, and how much each
//! round of one does, from the command line's asks and the time budget.

use std::time::Duration;

use crate::measure::mechanisms::{Entry, Transport};
use crate::row::{Placement, Plan};

/// How many forked measurements one round makes: per placement that can be honoured, one
/// round-trip measurement per size and one throughput measurement (with `streams`, one per
/// size more) per byte mechanism, one round-trip measurement per doorbell.
pub fn count(
    mechanisms: &[Entry],
    sizes: &[usize],
    placements: &[Placement],
    streams: bool,
) -> usize {
    let per_byte_mechanism = 1 + sizes.len() * if streams { 2 } else { 1 };
    let per_placement: usize = mechanisms
        .iter()
        .map(|m| match m.transport {
            Transport::Bytes { .. } | Transport::InPlace(_) => per_byte_mechanism,
            Transport::Doorbell(_) => 1,
        })
        .sum();
    per_placement * placements.iter().filter(|p| p.possible).count()
}

/// What a default run (and a --quick run) aims to spend measuring, shared among its rounds:
/// the cap of each round (at least 5 ms); warm-ups and setup come on top.
const BUDGET: Duration = Duration::from_secs(10);
const QUICK_BUDGET: Duration = Duration::from_millis(1600);

/// How much one round of one measurement does: without --iters, the 5000 samples (300 with
/// --quick) of a measurement are shared by its rounds, and every round stops early when its
/// share of the time budget is used up. `sessions`: the forked measurements of the whole run
/// (`count` per round, times `rounds`); `corrupt_after` is the test-only --corrupt-after.
pub fn plan(
    quick: bool,
    iters: Option<u64>,
    rounds: usize,
    sessions: usize,
    corrupt_after: Option<u64>,
) -> Plan {
    let total = if quick { 300 } else { 5000 };
    let per_round = match iters {
        Some(iters) => iters as usize,
        None => (total / rounds).max(100),
    };
    let budget = if quick { QUICK_BUDGET } else { BUDGET };
    let cap = match iters {
        Some(_) => None, // asked for N samples: take N
        None => Some(
            (budget / sessions.max(1) as u32)
                .clamp(Duration::from_millis(5), Duration::from_secs(1)),
        ),
    };
    // A round's stream is at least a few MiB after its warm-up: shorter, a fast row's rate
    // is mostly the time to fill and drain the transport's buffers.
    let (stream_bytes, least): (u64, u64) = match quick {
        true => (4 << 20, 1 << 20),
        false => (64 << 20, 4 << 20),
    };
    Plan {
        iters: per_round,
        warmup: (per_round / 10).clamp(10, 500),
        cap,
        stream_bytes: (stream_bytes / rounds as u64).max(least),
        setup_reps: if quick { 5 } else { 25 },
        corrupt_after,
    }
}
