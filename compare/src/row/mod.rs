//! The ground floor: the data every report needs and every measurement produces. A [`Row`] is
//! one mechanism (its key, label and the lecture's design-space row, copied from its demo
//! crate), one placement and one message size, with what was measured (or why nothing was).
//! Nothing here measures and nothing prints: `measure/` fills rows, `report/` reads them, and
//! neither imports the other.
//!
//! Files: this one (the row, the mechanism as data, why a cell has no number); `rounds.rs`
//! (a cell's rounds and the statistic over them: the headline rank, the spread, the pooled
//! p99); `words.rs` (how sizes, times and placements are written, and the reference size);
//! `ratio.rs` (a row against the pipe, round by round: the "x pipe" column); `run.rs` (the
//! facts of the run: the machine, the placements, the plan); `probe.rs` (what the probes of
//! the design-space table found).

mod probe;
mod ratio;
mod rounds;
mod run;
mod words;

use plumbing::design;

pub use probe::{Fact, PROBED, Probe, probe};
pub use ratio::{DOORBELL_PIPE_MAX, RATIO_UNSTEADY, Ratio, x_pipe};
pub use rounds::{Latency, Rates, RoundTrips, Throughput, UNSTEADY, headline_words};
pub use run::{LONGEST_ROUND, MIN_SAMPLES, Machine, Placement, Plan, Run};
pub use words::{
    fit, placement_words, reference_size, short_placement, sig3, size_words, times, us,
};

/// Throughput message size: 64 KiB, or a mechanism's largest message if that is smaller.
pub const STREAM_CHUNK: usize = 64 << 10;

/// Why a measurement has no number.
#[derive(Clone, Debug)]
pub enum Skip {
    /// The mechanism cannot do this (a size above its limit, one CPU for "split"): the reason.
    NotApplicable(String),
    /// It should have worked and did not: what went wrong.
    Failed(String),
    /// A stop signal (SIGINT, SIGTERM, SIGHUP, SIGQUIT) arrived.
    Stopped,
}

/// A mechanism as the report sees it: plain data, nothing that moves a byte.
#[derive(Clone, Copy)]
pub struct Mechanism {
    /// the name on the command line (`--only pipe,shm-spin`)
    pub key: &'static str,
    /// the name in the table
    pub label: &'static str,
    /// the lecture's qualitative columns, from the demo crate
    pub design: design::Row,
    /// Does every message carry bytes (a checked pattern)? A doorbell (signals) carries none.
    pub carries_bytes: bool,
    /// A peer crate's row (`--features peers`): the lecture's row it is set against. None for
    /// the lecture's own mechanisms, which alone the lessons and verdicts about the lecture
    /// look at ([`lecture_mechanisms`]).
    pub wraps: Option<Wraps>,
}

/// What a peer crate is set against: the key of a lecture row, and why that one.
#[derive(Clone, Copy)]
pub struct Wraps {
    pub key: &'static str,
    pub why: &'static str,
}

/// One mechanism, one placement, one message size.
pub struct Row {
    pub mechanism: Mechanism,
    pub placement: Placement,
    /// message size in bytes; 0 for a doorbell, which carries none
    pub size: usize,
    pub latency: Result<RoundTrips, Skip>,
    /// one-way throughput of this mechanism and placement (the same for every size)
    pub throughput: Result<Rates, Skip>,
    /// one-way throughput of messages of this row's size, when asked for (--plot-throughput)
    pub stream: Option<Result<Rates, Skip>>,
    /// setup cost of this mechanism (the same for every placement and size)
    pub setup_us: Result<f64, Skip>,
    /// what the probes of the design-space table found of this mechanism (the same for every
    /// placement and size); empty when none applies
    pub probes: Vec<Probe>,
}

impl Row {
    /// Does every message carry a checked pattern? (A doorbell has no bytes to check.)
    pub fn payload_checked(&self) -> bool {
        self.mechanism.carries_bytes
    }

    pub fn verification(&self) -> &'static str {
        match self.payload_checked() {
            true => "per-message pattern checked by both processes",
            false => "no payload: every ring answered before the next is sent",
        }
    }
}

/// The round trips of `m` in placement `place` ("same" / "split") at `size`, if measured.
pub fn rtt<'a>(rows: &'a [Row], m: &Mechanism, place: &str, size: usize) -> Option<&'a RoundTrips> {
    rows.iter()
        .find(|r| r.mechanism.key == m.key && r.placement.name == place && r.size == size)?
        .latency
        .as_ref()
        .ok()
}

/// The size the lines compare at (`reference_size` of the sizes measured), or 0 for a doorbell
/// alone.
pub fn reference(rows: &[Row]) -> usize {
    reference_size(rows.iter().map(|r| r.size).filter(|s| *s > 0)).unwrap_or(0)
}

/// Every mechanism of `rows` once, in the rows' order.
pub fn mechanisms(rows: &[Row]) -> Vec<Mechanism> {
    let mut found: Vec<Mechanism> = Vec::new();
    for row in rows {
        if !found.iter().any(|m| m.key == row.mechanism.key) {
            found.push(row.mechanism);
        }
    }
    found
}

/// The lecture's mechanisms of `rows` (no peer crate's), once each, in the rows' order.
pub fn lecture_mechanisms(rows: &[Row]) -> Vec<Mechanism> {
    let mut found = mechanisms(rows);
    found.retain(|m| m.wraps.is_none());
    found
}

pub fn find<'a>(rows: &'a [Row], m: &Mechanism, p: &Placement, size: usize) -> Option<&'a Row> {
    rows.iter()
        .find(|r| r.mechanism.key == m.key && r.placement.name == p.name && r.size == size)
}
