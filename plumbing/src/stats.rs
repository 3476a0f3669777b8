//! Percentiles by sorting: no mean, no histogram buckets, nothing interpolated. Every number
//! reported is one of the measured samples.

/// Latency of one measurement, in the unit of its samples.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Summary {
    pub p50: u64,
    pub p99: u64,
    pub max: u64,
    pub count: usize,
}

/// Sorts `samples` and picks p50 / p99 / max by nearest rank; `None` when there are none.
pub fn summarize(samples: &mut [u64]) -> Option<Summary> {
    samples.sort_unstable();
    Some(Summary {
        p50: nearest_rank(samples, 0.50)?,
        p99: nearest_rank(samples, 0.99)?,
        max: *samples.last()?,
        count: samples.len(),
    })
}

/// The smallest of the `sorted` samples that at least a fraction `p` of them do not exceed.
pub fn nearest_rank<T: Copy>(sorted: &[T], p: f64) -> Option<T> {
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
        assert_eq!(nearest_rank(&[1.5, 2.5, 3.5], 0.5), Some(2.5));
    }
}
