//! A cell's rounds and the statistic over them. Every cell is measured in several rounds
//! spread over the run; the headline is the second best round (`headline_rank`), the spread
//! says how far the others ran from it, and the p99 pools every sample of every round.

use std::time::Duration;

use plumbing::stats::{Summary, nearest_rank};

/// One round of a round-trip cell.
#[derive(Clone, Debug)]
pub struct Latency {
    pub summary: Summary,
    /// every timed round trip, in ns, sorted: rounds pool them for their p99
    pub samples: Vec<u64>,
    /// median over batches of 100 round trips, per round trip (fast rows only)
    pub batch_ns: Option<f64>,
    /// user + system CPU of both processes per message (a round trip is two messages)
    pub cpu_us_per_msg: f64,
}

/// One round of a throughput cell.
#[derive(Clone, Copy, Debug)]
pub struct Throughput {
    pub mib_s: f64,
    /// bytes per message
    pub chunk: usize,
    pub bytes: u64,
}

/// One round's one-way throughput: `bytes` in `chunk`-byte messages over `elapsed`.
impl Throughput {
    pub fn new(bytes: u64, elapsed: Duration, chunk: usize) -> Self {
        Throughput {
            mib_s: bytes as f64 / (1024.0 * 1024.0) / elapsed.as_secs_f64(),
            chunk,
            bytes,
        }
    }
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

/// Which round the headline is, in words: "second best", or "best" with fewer than 4 rounds.
pub fn headline_words(rounds: usize) -> &'static str {
    match headline_rank(rounds) {
        1 => "best",
        _ => "second best",
    }
}

/// A cell's round trips, measured in several rounds spread over the run. Every round is a
/// measurement of its own (its own fork, pair and warm-up), so a slow stretch of the machine
/// lands on one round of every cell rather than on every round of one cell.
#[derive(Clone, Debug)]
pub struct RoundTrips {
    /// each round, in the order measured (never empty): `rounds[k]` is round k + 1 of the run,
    /// in every cell, as a cell keeps its rounds only while every one succeeded; so two cells'
    /// rounds pair by index (`Ratio`, the "x pipe" column)
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
        format!("{} of {n}", headline_words(n))
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
