//! The cost verdicts on made-up rows: each follows its numbers, and a changed number changes it.
#![allow(clippy::unwrap_used)]

use plumbing::stats::Summary;
use plumbing::verdict::Verdict;

use super::*;
use crate::row::{Latency, Placement, RoundTrips, Skip};

fn mechanism(key: &'static str, label: &'static str, data: &'static str) -> Mechanism {
    Mechanism {
        key,
        label,
        design: plumbing::design::Row {
            data,
            ..pipe_demo::DESIGN_ROW
        },
        carries_bytes: key != "signal",
        wraps: None,
    }
}

/// A row of `m` in `place` at `size`: one round with this p50 (ns) and CPU per message.
fn row(m: Mechanism, place: &'static str, size: usize, p50: u64, cpu: f64, setup: f64) -> Row {
    let summary = Summary {
        count: 1,
        p50,
        p99: p50,
        max: p50,
    };
    Row {
        mechanism: m,
        placement: Placement {
            name: place,
            parent_cpu: 0,
            child_cpu: usize::from(place == "split"),
            possible: true,
        },
        size,
        latency: Ok(RoundTrips {
            rounds: vec![Latency {
                summary,
                samples: vec![p50],
                batch_ns: None,
                cpu_us_per_msg: cpu,
            }],
        }),
        throughput: Err(Skip::NotApplicable("made up".into())),
        stream: None,
        setup_us: Ok(setup),
        probes: Vec::new(),
    }
}

fn verdict(claims: Vec<Claim>, starts: &str) -> Option<Verdict> {
    claims
        .iter()
        .find(|c| c.claim.starts_with(starts))
        .map(|c| c.verdict)
}

#[test]
fn the_setup_verdict_follows_the_numbers() {
    let pipe = mechanism("pipe", "pipe", "copy through kernel");
    let sysv = mechanism("sysv-mq", "SysV mq", "copy through kernel");
    let rows = |sysv_us| {
        vec![
            row(pipe, "same", 64, 2000, 1.0, 4.0),
            row(sysv, "same", 64, 2000, 1.0, sysv_us),
        ]
    };
    assert_eq!(
        verdict(claims(&rows(5.0)), "pipes"),
        Some(Verdict::Confirmed)
    );
    assert_eq!(
        verdict(claims(&rows(3.5)), "pipes"),
        Some(Verdict::Qualified)
    );
    let refuted = claims(&rows(2.0));
    assert_eq!(verdict(refuted.clone(), "pipes"), Some(Verdict::Refuted));
    let line = refuted
        .iter()
        .find(|c| c.claim.starts_with("pipes"))
        .unwrap();
    assert!(
        line.because
            .contains("pipe 4.0 µs; lighter: SysV mq 2.0 µs (0.50x)"),
        "{line:?}"
    );
}

#[test]
fn the_signal_verdict_weighs_time_and_cpu() {
    let pipe = mechanism("pipe", "pipe", "copy through kernel");
    let bell = mechanism("signal", "signal", "notification only");
    let rows = |p50, cpu| {
        vec![
            row(pipe, "same", 64, 2000, 1.0, 4.0),
            row(bell, "same", 0, p50, cpu, 1.0),
        ]
    };
    let light = "signals are the lightest";
    assert_eq!(
        verdict(claims(&rows(1500, 0.5)), light),
        Some(Verdict::Confirmed)
    );
    assert_eq!(
        verdict(claims(&rows(2500, 0.5)), light),
        Some(Verdict::Qualified)
    );
    assert_eq!(
        verdict(claims(&rows(2500, 1.5)), light),
        Some(Verdict::Refuted)
    );
}

#[test]
fn shared_memory_zero_copy_and_sockets_follow_their_placements() {
    let pipe = mechanism("pipe", "pipe", "copy through kernel");
    let shm = mechanism(
        "shm-zero-copy",
        "shm (zero-copy)",
        "shared region, in place",
    );
    let uds = mechanism("uds-stream", "UDS stream", "copy through kernel");
    let tcp = mechanism("tcp", "TCP loopback", "copy through network stack");
    let rows = |shm_same: u64, tcp_split: u64| {
        let mut all = Vec::new();
        for size in [64, 65536] {
            all.push(row(pipe, "same", size, 3000, 1.0, 4.0));
            all.push(row(pipe, "split", size, 40_000, 1.0, 4.0));
            all.push(row(shm, "same", size, shm_same, 1.0, 9.0));
            all.push(row(shm, "split", size, 500, 1.0, 9.0));
            all.push(row(uds, "same", size, 4000, 1.0, 9.0));
            all.push(row(uds, "split", size, 45_000, 1.0, 9.0));
            all.push(row(tcp, "same", size, 5000, 1.0, 9.0));
            all.push(row(tcp, "split", size, tcp_split, 1.0, 9.0));
        }
        all
    };
    let (fastest, copies, sockets) = ("shared memory is", "shared memory without", "a Unix");
    let all = claims(&rows(2000, 50_000));
    assert_eq!(verdict(all.clone(), fastest), Some(Verdict::Confirmed));
    assert_eq!(verdict(all.clone(), copies), Some(Verdict::Confirmed));
    assert_eq!(verdict(all, sockets), Some(Verdict::Confirmed));
    let all = claims(&rows(30_000, 44_000));
    assert_eq!(verdict(all.clone(), fastest), Some(Verdict::Qualified));
    assert_eq!(verdict(all.clone(), copies), Some(Verdict::Qualified));
    assert_eq!(verdict(all, sockets), Some(Verdict::Qualified));
}

#[test]
fn fastest_is_judged_only_where_a_row_outside_shared_memory_was_measured() {
    let pipe = mechanism("pipe", "pipe", "copy through kernel");
    let spin = mechanism("shm-spin", "shm (spin)", "shared region, no kernel");
    let blocking = mechanism("shm-blocking", "shm (blocking)", "shared region, no kernel");
    let fastest = "shared memory is the fastest";
    let shm_only = vec![
        row(spin, "split", 64, 500, 1.0, 9.0),
        row(blocking, "split", 64, 40_000, 1.0, 9.0),
        row(spin, "same", 64, 30_000, 1.0, 9.0),
        row(blocking, "same", 64, 2000, 1.0, 9.0),
    ];
    assert_eq!(verdict(claims(&shm_only), fastest), None);
    // The pipe on one core only: that placement alone is judged (and there the pipe wins).
    let mut rows = shm_only;
    rows.push(row(pipe, "same", 64, 1500, 1.0, 4.0));
    let all = claims(&rows);
    let line = all.iter().find(|c| c.claim.starts_with(fastest)).unwrap();
    assert_eq!(line.verdict, Verdict::Refuted, "{line:?}");
    assert_eq!(
        line.because, "64 B round trips: same core: fastest pipe 1.50 µs",
        "{line:?}"
    );
}
