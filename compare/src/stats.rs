//! Percentiles by sorting: no mean, no histogram buckets, nothing interpolated.

/// Latency of one row: every number is one of the measured samples.
#[derive(Clone, Copy, Debug)]
pub struct Summary {
    pub p50: u64,
    pub p99: u64,
    pub max: u64,
    pub count: usize,
}

/// Sorts `samples` (nanoseconds) and picks p50 / p99 / max by nearest rank.
pub fn summarize(samples: &mut [u64]) -> Option<Summary> {
    samples.sort_unstable();
    Some(Summary {
        p50: nearest_rank(samples, 0.50)?,
        p99: nearest_rank(samples, 0.99)?,
        max: *samples.last()?,
        count: samples.len(),
    })
}

/// The smallest sample that at least `p` of the samples do not exceed.
fn nearest_rank(sorted: &[u64], p: f64) -> Option<u64> {
    let rank = (p * sorted.len() as f64).ceil() as usize;
    sorted.get(rank.max(1) - 1).copied()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_on_one_to_hundred() {
        let mut s: Vec<u64> = (1..=100).rev().collect();
        let sum = summarize(&mut s).expect("non-empty");
        assert_eq!((sum.p50, sum.p99, sum.max, sum.count), (50, 99, 100, 100));
        assert!(summarize(&mut []).is_none());
        let one = summarize(&mut [7]).expect("one sample");
        assert_eq!((one.p50, one.p99), (7, 7));
    }
}
