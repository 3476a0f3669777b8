//! The `shm (zero-copy)` row through the `compare` binary: it carries the large sizes, and a
//! killed child fails it within 2 s. (A corrupted echo failing it: `compare.rs`, with the
//! other rows.)
#![allow(clippy::unwrap_used)]

mod common;

use common::{compare, json_rows, kill_the_echo_mid_run};
use testkit::{processes_in_group, stderr};

#[test]
fn the_row_carries_every_size_up_to_16_mib_verified() {
    let sizes = [64u64, 1 << 20, 16 << 20];
    let out = compare(&[
        "--quick",
        "--only",
        "shm-zero-copy",
        "--placement",
        "same",
        "--sizes",
        "64,1048576,16777216",
        "--iters",
        "20",
        "--format",
        "json",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let rows = json_rows(&out);
    let got: Vec<u64> = rows.iter().map(|r| r["size"].as_u64().unwrap()).collect();
    assert_eq!(got, sizes);
    for row in rows {
        assert_eq!(row["mechanism"], "shm (zero-copy)", "{row}");
        assert_eq!(row["status"], "ok", "{row}");
        assert_eq!(row["verified"], true, "{row}");
        // --iters is per round.
        let rounds = row["rounds"]
            .as_u64()
            .unwrap_or_else(|| panic!("no rounds: {row}"));
        assert_eq!(row["samples"].as_u64(), Some(20 * rounds), "{row}");
        assert!(row["throughput_mib_s"].as_f64().unwrap() > 0.0, "{row}");
    }
}

#[test]
fn a_killed_child_fails_the_row_within_2s() {
    let run = kill_the_echo_mid_run("shm-zero-copy");
    run.assert_row_failed("shm (zero-copy)");
    assert!(processes_in_group(run.pgid).is_empty(), "left running");
}
