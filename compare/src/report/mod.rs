//! The report: the lecture's design-space table with this run's numbers. Measured numbers
//! only: a cell without one says why. What every format shares is here: the [`Row`], and how
//! sizes, times and placements are written. The formats: `header.rs` (what was measured, on
//! what), `tables.rs` and `cells.rs` (terminal and Markdown), `records.rs` (JSON and CSV).

pub mod bars;
pub mod cells;
pub mod header;
pub mod lessons;
pub mod pending;
pub mod plot;
pub mod records;
pub mod tables;

use comfy_table::Table;
use plumbing::stats::nearest_rank;

use crate::measure::harness::{Latency, Placement, Skip, Throughput};
use crate::measure::mechanisms::Mechanism;

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
}

/// A cell whose slowest round's p50 is more than this fraction above its headline is marked
/// unsteady, and the report says what that means in this run.
pub const UNSTEADY: f64 = 0.20;

/// Which round, counted from the best, a cell's headline comes from: the second best, or the
/// best when there are fewer than 4 rounds. This VM runs in a fast and a slow mode that switch
/// every few seconds (a same-core pipe round trip is 2.8 or 4.3 µs, whatever runs it), and at
/// times the fast mode comes only in blips; a median of the rounds jumps between the two modes
/// from run to run, and the single best round can be a fluke (a cross-core shm round of 0.18 µs
/// among rounds of 0.48-0.55). The second best of many short rounds spread over the run is the
/// machine in its quieter moments, which back-to-back runs repeat; `+` and the pooled p99 show
/// the rest.
pub fn headline_rank(rounds: usize) -> usize {
    if rounds >= 4 { 2 } else { 1 }
}

/// A cell's round trips, measured in several rounds spread over the run. Every round is a
/// measurement of its own (its own fork, pair and warm-up), so a slow stretch of the machine
/// lands on one round of every cell rather than on every round of one cell.
#[derive(Clone, Debug)]
pub struct RoundTrips {
    /// each round, in the order measured (never empty)
    pub rounds: Vec<Latency>,
}

impl RoundTrips {
    fn p50s(&self) -> impl Iterator<Item = u64> + '_ {
        self.rounds.iter().map(|l| l.summary.p50)
    }

    /// The round whose numbers are shown: the one with the `headline_rank`-th lowest p50 (of 40
    /// rounds, the second lowest). Its CPU time and batch time go with it.
    fn shown(&self) -> &Latency {
        let mut by_p50: Vec<&Latency> = self.rounds.iter().collect();
        by_p50.sort_by_key(|l| l.summary.p50);
        // `rounds` is never empty, and headline_rank(n) is at most n for every n >= 1.
        by_p50[headline_rank(by_p50.len()) - 1]
    }

    /// The headline: the p50 of the round shown (of 40 rounds, the second lowest).
    pub fn p50(&self) -> u64 {
        self.shown().summary.p50
    }

    /// Where the headline sits among the rounds, in words: "second best of 40".
    pub fn rank_words(&self) -> String {
        let n = self.rounds.len();
        match headline_rank(n) {
            1 => format!("best of {n}"),
            _ => format!("second best of {n}"),
        }
    }

    /// The lowest and the highest round p50.
    pub fn p50_range(&self) -> (u64, u64) {
        let low = self.p50s().min().unwrap_or(0);
        (low, self.p50s().max().unwrap_or(0))
    }

    /// (slowest round's p50 - headline) / headline: how far above the headline the rounds went.
    pub fn spread(&self) -> f64 {
        let p50 = self.p50().max(1);
        self.p50_range().1.saturating_sub(p50) as f64 / p50 as f64
    }

    pub fn unsteady(&self) -> bool {
        self.rounds.len() > 1 && self.spread() > UNSTEADY
    }

    /// The p99 of every sample of every round, pooled: the slow stretches count too.
    pub fn p99(&self) -> u64 {
        let mut all: Vec<u64> = self
            .rounds
            .iter()
            .flat_map(|l| l.samples.iter().copied())
            .collect();
        all.sort_unstable();
        nearest_rank(&all, 0.99).unwrap_or(0)
    }

    pub fn max(&self) -> u64 {
        self.rounds.iter().map(|l| l.summary.max).max().unwrap_or(0)
    }

    /// Timed round trips over all rounds.
    pub fn samples(&self) -> usize {
        self.rounds.iter().map(|l| l.summary.count).sum()
    }

    /// The batched time per round trip of the round shown, when batches were timed.
    pub fn batch_ns(&self) -> Option<f64> {
        self.shown().batch_ns
    }

    /// The CPU time per message of the round shown.
    pub fn cpu_us_per_msg(&self) -> f64 {
        self.shown().cpu_us_per_msg
    }
}

/// A cell's one-way throughput, measured in rounds like the round trips.
#[derive(Clone, Debug)]
pub struct Rates {
    /// each round (never empty)
    pub rounds: Vec<Throughput>,
}

impl Rates {
    /// The `headline_rank`-th highest of the rounds' MiB/s (of 40 rounds, the second highest),
    /// for the reason the round trips' headline is the second lowest.
    pub fn mib_s(&self) -> f64 {
        let mut rates: Vec<f64> = self.rounds.iter().map(|t| t.mib_s).collect();
        rates.sort_by(|a, b| b.total_cmp(a));
        rates
            .get(headline_rank(rates.len()) - 1)
            .copied()
            .unwrap_or(0.0)
    }

    pub fn mib_s_range(&self) -> (f64, f64) {
        let each = || self.rounds.iter().map(|t| t.mib_s);
        (each().fold(f64::MAX, f64::min), each().fold(0.0, f64::max))
    }

    /// (headline - slowest round) / headline: how far below the headline the rounds went.
    pub fn spread(&self) -> f64 {
        let shown = self.mib_s();
        match shown > 0.0 {
            true => (shown - self.mib_s_range().0).max(0.0) / shown,
            false => 0.0,
        }
    }

    /// The slowest round ran more than `UNSTEADY` below the headline (as `RoundTrips::unsteady`).
    pub fn unsteady(&self) -> bool {
        self.rounds.len() > 1 && self.spread() > UNSTEADY
    }

    /// Bytes per message (the same in every round).
    pub fn chunk(&self) -> usize {
        self.rounds.first().map_or(0, |t| t.chunk)
    }

    /// Bytes streamed over all rounds.
    pub fn bytes(&self) -> u64 {
        self.rounds.iter().map(|t| t.bytes).sum()
    }
}

impl Row {
    /// Does every message carry a checked pattern? (A doorbell has no bytes to check.)
    pub fn payload_checked(&self) -> bool {
        self.mechanism.transport.carries_bytes()
    }

    pub fn verification(&self) -> &'static str {
        match self.payload_checked() {
            true => "per-message pattern checked by both processes",
            false => "no payload: every ring answered before the next is sent",
        }
    }
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

pub fn placement_words(name: &str) -> &'static str {
    match name {
        "same" => "same core",
        _ => "different cores",
    }
}

/// Microseconds with about three significant digits.
pub fn us(ns: f64) -> String {
    let us = ns / 1000.0;
    match us {
        u if u < 10.0 => format!("{u:.2}"),
        u if u < 100.0 => format!("{u:.1}"),
        u => format!("{u:.0}"),
    }
}

pub fn size_words(size: usize) -> String {
    match size {
        0 => "no payload".to_string(),
        s if s >= 1024 && s % 1024 == 0 => format!("{} KiB", s / 1024),
        s => format!("{s} B"),
    }
}

/// The terminal report's full layout needs this many columns; it is also the width used when
/// stdout is not a terminal and COLUMNS is not set (a pipe, a file).
pub const FULL_WIDTH: usize = 120;

/// The width the terminal report is laid out for: COLUMNS when it is set (a shell sets it for
/// its terminal; a user may set it for a file), else the terminal's width when stdout is one,
/// else `FULL_WIDTH`; never more than `FULL_WIDTH` nor less than 40.
pub fn width() -> usize {
    let columns = std::env::var("COLUMNS")
        .ok()
        .and_then(|c| c.trim().parse::<usize>().ok())
        .filter(|w| *w > 0);
    columns
        .or_else(|| Table::new().width().map(usize::from))
        .unwrap_or(FULL_WIDTH)
        .clamp(40, FULL_WIDTH)
}

pub fn find<'a>(rows: &'a [Row], m: &Mechanism, p: &Placement, size: usize) -> Option<&'a Row> {
    rows.iter()
        .find(|r| r.mechanism.key == m.key && r.placement.name == p.name && r.size == size)
}

/// `first` then `text` wrapped at spaces into lines of at most `width` characters, lines after
/// the first indented by `indent` spaces. A word longer than a line gets a line of its own.
pub fn wrap(first: &str, text: &str, indent: usize, width: usize) -> String {
    let mut out = String::new();
    let mut line = first.to_string();
    let mut empty = true; // no word on this line yet
    for word in text.split(' ').filter(|w| !w.is_empty()) {
        let len = line.chars().count();
        if !empty && len + 1 + word.chars().count() > width {
            out += line.trim_end();
            out.push('\n');
            line = " ".repeat(indent);
            empty = true;
        }
        if !empty {
            line.push(' ');
        }
        line += word;
        empty = false;
    }
    out += line.trim_end();
    out.push('\n');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rates(each: &[f64]) -> Rates {
        let round = |&mib_s: &f64| Throughput {
            mib_s,
            chunk: 65536,
            bytes: 1 << 20,
        };
        Rates {
            rounds: each.iter().map(round).collect(),
        }
    }

    /// Throughput is marked like a round trip, mirrored: the slowest round more than 20% below
    /// the headline, which is the second highest round from 4 rounds up.
    #[test]
    fn a_throughput_is_marked_when_its_slowest_round_ran_over_a_fifth_below() {
        let marked = rates(&[100.0, 95.0, 90.0, 75.0]); // 75 is 21% below 95
        assert_eq!(marked.mib_s(), 95.0);
        assert!(marked.unsteady());
        let steady = rates(&[100.0, 95.0, 90.0, 77.0]); // 19% below
        assert!(!steady.unsteady());
        assert!(
            !rates(&[50.0]).unsteady(),
            "one round has nothing to disagree with"
        );
    }
}
