//! A Rust engineer picks a crate, not a system call. What each peer crate
//! (`--features peers`) costs over the nearest kernel row (`Mechanism::wraps`: the row it is
//! set against, not one it is built on), at the reference size, in each placement both were
//! measured: the two p50s, and the crate's round trip over the row's in the same round, the
//! median over the rounds (`row::Ratio`, as the x pipe column: a slow moment touches both
//! alike). A crate that cannot be compared is named with the reason, never left out silently.

use crate::row::{Mechanism, Ratio, Row, mechanisms, placement_words, reference, rtt};
use crate::row::{size_words, us};

pub(super) fn crates(rows: &[Row]) -> Option<String> {
    let found = mechanisms(rows);
    let size = reference(rows);
    let mut compared = Vec::new();
    let mut skipped = Vec::new();
    for peer in &found {
        let Some(near) = peer.wraps else {
            continue;
        };
        let Some(kernel) = found.iter().find(|m| m.key == near.key) else {
            skipped.push(format!(
                "{}: not compared ({} not in this run; add `{}` to --only)",
                peer.label, near.key, near.key
            ));
            continue;
        };
        match against(rows, peer, kernel, size) {
            Some(places) => compared.push(format!(
                "{} against {}, {}: {places}",
                peer.label, kernel.label, near.why
            )),
            None => skipped.push(format!(
                "{}: not compared (no placement measured both it and {})",
                peer.label, kernel.label
            )),
        }
    }
    // No peer crate in this run.
    if compared.is_empty() && skipped.is_empty() {
        return None;
    }
    let mut line = String::from("A crate costs what it adds over the nearest kernel row");
    line += &match compared.is_empty() {
        true => ".".to_string(),
        false => format!(
            " (round by round: the median of the same rounds' ratios, which can differ from the \
             two p50s' ratio). A {} round trip over {}.",
            size_words(size),
            compared.join("; over ")
        ),
    };
    if !skipped.is_empty() {
        line += &format!(" {}.", skipped.join("; "));
    }
    Some(line)
}

/// `peer` against `kernel` at `size`, in each placement both were measured ("4.36 µs against
/// 3.06 µs, 1.51x round by round, same core"); None when no placement had both.
fn against(rows: &[Row], peer: &Mechanism, kernel: &Mechanism, size: usize) -> Option<String> {
    let mut places = Vec::new();
    for place in ["same", "split"] {
        let (Some(p), Some(k)) = (rtt(rows, peer, place, size), rtt(rows, kernel, place, size))
        else {
            continue;
        };
        let Some(ratio) = Ratio::new(p, k, size) else {
            continue;
        };
        places.push(format!(
            "{} µs against {} µs, {:.2}x round by round, {}",
            us(p.p50() as f64),
            us(k.p50() as f64),
            ratio.median(),
            placement_words(place)
        ));
    }
    (!places.is_empty()).then(|| places.join("; "))
}

#[cfg(test)]
mod tests {
    use plumbing::stats::Summary;

    use super::*;
    use crate::row::{Latency, Placement, RoundTrips, Skip, Wraps};

    fn mechanism(key: &'static str, label: &'static str, wraps: Option<Wraps>) -> Mechanism {
        Mechanism {
            key,
            label,
            design: pipe_demo::DESIGN_ROW,
            carries_bytes: true,
            wraps,
        }
    }

    /// A row of `m` on one core at 64 B: one round with this p50 (ns).
    fn row(m: Mechanism, p50: u64) -> Row {
        let summary = Summary {
            count: 1,
            p50,
            p99: p50,
            max: p50,
        };
        let round = Latency {
            summary,
            samples: vec![p50],
            batch_ns: None,
            cpu_us_per_msg: 1.0,
        };
        Row {
            mechanism: m,
            placement: Placement {
                name: "same",
                parent_cpu: 0,
                child_cpu: 0,
                possible: true,
            },
            size: 64,
            latency: Ok(RoundTrips {
                rounds: vec![round],
            }),
            throughput: Err(Skip::NotApplicable("made up".into())),
            stream: None,
            setup_us: Ok(1.0),
            probes: Vec::new(),
        }
    }

    #[test]
    fn a_crate_whose_kernel_row_is_missing_is_named_not_dropped() {
        let wraps = |key| Some(Wraps { key, why: "why" });
        let uds = mechanism("uds-stream", "UDS stream", None);
        let near = mechanism("interprocess", "interprocess", wraps("uds-stream"));
        let far = mechanism("ipc-channel", "ipc-channel", wraps("uds-datagram"));
        assert_eq!(crates(&[row(uds, 3000)]), None, "no crate, no line");
        let line = crates(&[row(far, 4000)]).unwrap_or_default();
        assert_eq!(
            line,
            "A crate costs what it adds over the nearest kernel row. ipc-channel: not compared \
             (uds-datagram not in this run; add `uds-datagram` to --only)."
        );
        let line = crates(&[row(uds, 3000), row(near, 4500), row(far, 4000)]);
        assert_eq!(
            line.unwrap_or_default(),
            "A crate costs what it adds over the nearest kernel row (round by round: the median \
             of the same rounds' ratios, which can differ from the two p50s' ratio). A 64 B \
             round trip over interprocess against UDS stream, why: 4.50 µs against 3.00 µs, \
             1.50x round by round, same core. ipc-channel: not compared (uds-datagram not in \
             this run; add `uds-datagram` to --only)."
        );
    }
}
