//! Step 8's verdict on the lecture's "local edges are faster than remote ones": the rounds
//! of p50s the step timed, decided against how much they moved from round to round.

use plumbing::verdict::{Verdict, judge};

use super::ECHOES;

/// One round of step 8: the p50 round trip of the same echoes across the veth pair (the
/// remote edge) and over the server namespace's loopback (the local one), in whole µs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Round {
    pub remote_us: u64,
    pub local_us: u64,
}

impl Round {
    /// Remote p50 over local p50: above 1, the local edge was the faster. A p50 under 1 µs
    /// counts as 1 µs, the clients' resolution.
    fn ratio(self) -> f64 {
        self.remote_us as f64 / self.local_us.max(1) as f64
    }
}

/// The lecture: edges between local processes are faster than edges between hosts; here a
/// veth pair stands for the remote edge. Decided by the median of the rounds' ratios against
/// their spread: the median distance of a ratio from that median (one slow round moves
/// neither), but never less than what 1 µs does to a ratio (the clients print whole µs).
/// CONFIRMED when local won all rounds but at most one and the median exceeds 1 by more
/// than the spread; REFUTED when remote won all but one and the median falls short of 1 by
/// the spread or more; else QUALIFIED: the difference is within the noise. A round with
/// p50s equal to the µs is won by neither; both numbers count as shown, to two decimals.
pub fn local_claim(rounds: &[Round]) -> (Verdict, String) {
    let ratios: Vec<f64> = rounds.iter().map(|r| r.ratio()).collect();
    let ratio = median(&ratios);
    let deviation = median(&ratios.iter().map(|r| (r - ratio).abs()).collect::<Vec<_>>());
    let local: Vec<f64> = rounds.iter().map(|r| r.local_us.max(1) as f64).collect();
    let one_us = 1.0 / median(&local);
    let spread = deviation.max(one_us);
    let n = rounds.len();
    let local_won = rounds.iter().filter(|r| r.remote_us > r.local_us).count();
    let remote_won = rounds.iter().filter(|r| r.remote_us < r.local_us).count();
    let nearly_all = n.saturating_sub(1).max(1);
    // Decided on the hundredths the claim shows, so a reader can redo it (and 8/7 - 1/7 is
    // not left to a float's last bit).
    let (ratio_c, spread_c) = ((ratio * 100.0).round(), (spread * 100.0).round());
    let confirmed = local_won >= nearly_all && ratio_c - spread_c > 100.0;
    let refuted = remote_won >= nearly_all && ratio_c + spread_c <= 100.0;
    let v = judge(!refuted, !confirmed);
    let by = if deviation < one_us {
        " (floored at 1 µs, the clients' resolution)"
    } else {
        ""
    };
    let measured = format!(
        "p50 veth pair / loopback, median of {n} rounds of {ECHOES} echoes {ratio:.2}x, \
         spread ±{spread:.2}{by}"
    );
    let because = match v {
        Verdict::Confirmed => format!("{measured}; loopback faster in {local_won} of {n}"),
        Verdict::Refuted => format!("{measured}; the veth pair faster in {remote_won} of {n}"),
        Verdict::Qualified => format!(
            "{measured}: within the spread, as one kernel serves both ends and a veth pair \
             is a software cable; a real remote edge adds a NIC and a wire"
        ),
    };
    (v, because)
}

/// The middle of `values` (the mean of the two middle ones for an even count); NaN for none.
fn median(values: &[f64]) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let mid = sorted.len() / 2;
    match (sorted.len() % 2, sorted.get(mid)) {
        (_, None) => f64::NAN,
        (1, Some(&middle)) => middle,
        (_, Some(&upper)) => (sorted[mid - 1] + upper) / 2.0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Rounds from (remote, local) p50 pairs, in µs.
    fn rounds(pairs: &[(u64, u64)]) -> Vec<Round> {
        let round = |&(remote_us, local_us)| Round {
            remote_us,
            local_us,
        };
        pairs.iter().map(round).collect()
    }

    #[test]
    fn a_clear_win_of_loopback_confirms() {
        let won = rounds(&[(12, 7), (13, 7), (12, 7), (14, 7), (12, 7), (13, 7)]);
        let (v, because) = local_claim(&won);
        assert_eq!(v, Verdict::Confirmed);
        assert_eq!(
            because,
            "p50 veth pair / loopback, median of 6 rounds of 50 echoes 1.79x, spread ±0.14 \
             (floored at 1 µs, the clients' resolution); loopback faster in 6 of 6"
        );
    }

    #[test]
    fn a_clear_win_of_the_veth_pair_refutes() {
        let lost = rounds(&[(5, 9), (6, 9), (5, 8), (5, 9), (6, 9), (5, 9)]);
        let (v, because) = local_claim(&lost);
        assert_eq!(v, Verdict::Refuted);
        assert!(
            because.ends_with("the veth pair faster in 6 of 6"),
            "{because}"
        );
        // 3 µs faster in five rounds, as fast in one: 0.70x, spread ±0.10 (1 µs in 10).
        let tied = rounds(&[(7, 10), (10, 10), (7, 10), (7, 10), (7, 10), (7, 10)]);
        let (v, because) = local_claim(&tied);
        assert_eq!(v, Verdict::Refuted);
        assert!(
            because.contains("0.70x, spread ±0.10 (floored at 1 µs, the clients' resolution);"),
            "{because}"
        );
        // A tie to the µs is won by neither: faster in only four of six is not nearly all.
        let two_ties = rounds(&[(7, 10), (10, 10), (7, 10), (10, 10), (7, 10), (7, 10)]);
        assert_eq!(local_claim(&two_ties).0, Verdict::Qualified);
    }

    #[test]
    fn a_difference_within_the_spread_qualifies_and_says_why() {
        let close = rounds(&[(7, 6), (7, 7), (7, 6), (6, 6), (7, 7), (8, 7)]);
        let (v, because) = local_claim(&close);
        assert_eq!(v, Verdict::Qualified);
        assert_eq!(
            because,
            "p50 veth pair / loopback, median of 6 rounds of 50 echoes 1.07x, spread ±0.15 \
             (floored at 1 µs, the clients' resolution): within the spread, as one kernel \
             serves both ends and a veth pair is a software cable; a real remote edge adds a \
             NIC and a wire"
        );
        // Equal in every round: no difference the clients' 1 µs can show, either way.
        assert_eq!(local_claim(&rounds(&[(7, 7); 6])).0, Verdict::Qualified);
        // Local won every round, by the 1 µs the clients resolve: 1.14x, spread ±0.14.
        let by_one = rounds(&[(8, 7), (8, 7), (7, 6), (8, 7), (8, 7), (7, 6)]);
        let (v, because) = local_claim(&by_one);
        assert_eq!(v, Verdict::Qualified);
        assert!(
            because.contains("1.14x, spread ±0.14 (floored at 1 µs, the clients' resolution):"),
            "{because}"
        );
    }

    #[test]
    fn one_outlier_round_decides_nothing() {
        // A slow moment on the veth pair in one round of six equal ones (seen here: 56 µs).
        let spike = rounds(&[(7, 7), (56, 7), (7, 7), (6, 6), (7, 7), (7, 7)]);
        assert_eq!(local_claim(&spike).0, Verdict::Qualified);
        // A slow moment on loopback in one round of a clear win.
        let slow = rounds(&[(12, 7), (13, 7), (12, 40), (14, 7), (12, 7), (13, 7)]);
        let (v, because) = local_claim(&slow);
        assert_eq!(v, Verdict::Confirmed);
        assert!(because.ends_with("loopback faster in 5 of 6"), "{because}");
        // Two such rounds are more than "nearly every round".
        let two = rounds(&[(12, 7), (13, 40), (12, 40), (14, 7), (12, 7), (13, 7)]);
        assert_eq!(local_claim(&two).0, Verdict::Qualified);
    }

    #[test]
    fn no_rounds_or_a_zero_p50_cannot_panic() {
        assert_eq!(local_claim(&[]).0, Verdict::Qualified);
        assert_eq!(local_claim(&rounds(&[(7, 0); 3])).0, Verdict::Confirmed);
        assert_eq!(median(&[3.0, 1.0, 2.0, 10.0]), 2.5);
    }
}
