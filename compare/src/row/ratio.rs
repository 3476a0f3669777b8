//! A row against the pipe, round by round: the "x pipe" column. On this VM the whole machine
//! switches between a fast and a slow mode every few seconds, so a cell's p50 moves from run
//! to run; but a round measures every cell within a fraction of a second, so a slow moment
//! touches the row and the pipe of the same round alike, and their ratio holds where the p50s
//! move. Each round's ratio pairs cells by round number: `RoundTrips::rounds[k]` is round
//! k + 1 of the run for every cell that has round trips (`measure/rounds.rs` keeps a cell's
//! rounds only while every one of them succeeded).

use crate::row::{RoundTrips, Row, find, reference, size_words};

/// Half of a row's per-round ratios lay more than this fraction from their median: its
/// x pipe is marked unsteady. Half the p50's threshold (`UNSTEADY`), because the spread of a
/// ratio is measured around its middle, not from its best round to its worst.
pub const RATIO_UNSTEADY: f64 = 0.10;

/// A doorbell carries no bytes; it is set against a pipe message of at most this size, whose
/// copy costs little beside the wakeup both pay, and against no larger one.
pub const DOORBELL_PIPE_MAX: usize = 64;

/// A row's round trips divided by the pipe's, round by round.
#[derive(Clone, Debug)]
pub struct Ratio {
    /// per round, in the order measured: this row's p50 / the pipe's p50 in the same round
    pub rounds: Vec<f64>,
    /// the pipe's message size it was set against: the row's own, or for a doorbell the
    /// reference size
    pub pipe_size: usize,
}

impl Ratio {
    /// Pairs the rounds of `row` with the pipe's by round number; None when their counts
    /// differ (they cannot be paired) or there are none.
    pub fn new(row: &RoundTrips, pipe: &RoundTrips, pipe_size: usize) -> Option<Ratio> {
        if row.rounds.len() != pipe.rounds.len() || row.rounds.is_empty() {
            return None;
        }
        let rounds = row.rounds.iter().zip(&pipe.rounds);
        Some(Ratio {
            rounds: rounds
                .map(|(r, p)| r.summary.p50 as f64 / p.summary.p50.max(1) as f64)
                .collect(),
            pipe_size,
        })
    }

    /// The headline: the median of the rounds' ratios. Not the second best, as for a p50:
    /// noise only adds to a round trip, so its quiet rounds are its fastest, but a slow moment
    /// on the row's cell raises a round's ratio and one on the pipe's lowers it. Noise goes
    /// both ways, so the middle of the rounds is the estimate, and a median is not moved by a
    /// round that caught a blip on one side.
    pub fn median(&self) -> f64 {
        median(self.rounds.clone())
    }

    /// How far the rounds spread around the median, as a fraction of it: half the rounds'
    /// ratios lay within this of the median (the median absolute deviation), so one wild
    /// round does not decide it, as it would the slowest-round spread of a p50.
    pub fn spread(&self) -> f64 {
        let m = self.median();
        let off = self.rounds.iter().map(|r| (r - m).abs()).collect();
        match m > 0.0 {
            true => median(off) / m,
            false => 0.0,
        }
    }

    /// Half the rounds' ratios lay more than `RATIO_UNSTEADY` from the median.
    pub fn unsteady(&self) -> bool {
        self.rounds.len() > 1 && self.spread() > RATIO_UNSTEADY
    }
}

/// The middle value, or the mean of the two middle ones (0 for none).
fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    let n = values.len();
    match n {
        0 => 0.0,
        _ if n % 2 == 1 => values[n / 2],
        _ => (values[n / 2 - 1] + values[n / 2]) / 2.0,
    }
}

/// `row` against the pipe of `rows` in the same placement at the same size (a doorbell: at
/// the reference size, when that is at most `DOORBELL_PIPE_MAX`), or why there is none.
pub fn x_pipe(rows: &[Row], row: &Row) -> Result<Ratio, String> {
    let Some(pipe) = rows.iter().find(|r| r.mechanism.key == "pipe") else {
        return Err("the pipe was not measured in this run".into());
    };
    let size = match row.size {
        0 => reference(rows),
        size => size,
    };
    if row.size == 0 && size > DOORBELL_PIPE_MAX {
        return Err(format!(
            "a ring carries no bytes: it is set against a pipe message of {} or less, and this \
             run's smallest is {}",
            size_words(DOORBELL_PIPE_MAX),
            size_words(size)
        ));
    }
    let (Ok(mine), Some(Ok(theirs))) = (
        &row.latency,
        find(rows, &pipe.mechanism, &row.placement, size).map(|p| &p.latency),
    ) else {
        return Err("no round trips to pair with the pipe's here".into());
    };
    Ratio::new(mine, theirs, size).ok_or_else(|| "its rounds do not pair with the pipe's".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ratio(each: &[f64]) -> Ratio {
        Ratio {
            rounds: each.to_vec(),
            pipe_size: 64,
        }
    }

    #[test]
    fn the_headline_is_the_median_of_the_rounds_ratios() {
        assert_eq!(ratio(&[3.0, 1.0, 2.0]).median(), 2.0);
        // an even count: the mean of the two middle ratios, whatever the outer ones did
        assert_eq!(ratio(&[9.0, 1.0, 2.0, 4.0]).median(), 3.0);
        assert_eq!(ratio(&[1.5]).median(), 1.5);
    }

    /// The spread is the median distance from the median: half the rounds lie within it.
    /// Marked only over 10%; one wild round of five does not mark it.
    #[test]
    fn a_ratio_is_marked_when_half_its_rounds_lay_over_a_tenth_from_the_median() {
        let wild = ratio(&[1.0, 1.02, 0.98, 1.01, 3.0]); // median 1.01; distances .01 .03 .01 0 1.99
        assert!(
            (wild.spread() - 0.01 / 1.01).abs() < 1e-12,
            "{}",
            wild.spread()
        );
        assert!(!wild.unsteady());
        let over = ratio(&[1.0, 1.11, 0.89]); // median 1.0, distances 0 .11 .11: MAD .11
        assert!((over.spread() - 0.11).abs() < 1e-12);
        assert!(over.unsteady());
        let under = ratio(&[1.0, 1.09, 0.91]);
        assert!(!under.unsteady());
        assert!(
            !ratio(&[5.0]).unsteady(),
            "one round has nothing to disagree with"
        );
    }

    #[test]
    fn rounds_that_cannot_be_paired_give_no_ratio() {
        use plumbing::stats::Summary;
        let cell = |p50s: &[u64]| RoundTrips {
            rounds: p50s
                .iter()
                .map(|&p50| crate::row::Latency {
                    summary: Summary {
                        p50,
                        p99: p50,
                        max: p50,
                        count: 1,
                    },
                    samples: vec![p50],
                    batch_ns: None,
                    cpu_us_per_msg: 0.0,
                })
                .collect(),
        };
        let (row, pipe) = (cell(&[300, 200, 900]), cell(&[100, 200, 300]));
        // round by round: 3, 1, 3; not a ratio of headlines (200 / 100 = 2)
        let paired = Ratio::new(&row, &pipe, 64).expect("three rounds each");
        assert_eq!(paired.rounds, vec![3.0, 1.0, 3.0]);
        assert_eq!(paired.median(), 3.0);
        assert!(Ratio::new(&row, &cell(&[100, 200]), 64).is_none());
    }
}
