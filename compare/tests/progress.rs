//! The progress log compare writes on stderr when stderr is not a terminal (a log file, CI,
//! this test): one line per measurement, whole however long it is. (The line rewritten in
//! place on a terminal fits 80 columns: `compare.rs` checks that one through script(1).)
#![allow(clippy::unwrap_used)]

mod common;

use common::{compare, json_rows};
use testkit::stderr;

/// UDP over loopback: its throughput is n/a (no flow control), with a reason well over 80
/// columns, and so is a 64 KiB round trip (above the largest datagram, as root too).
const UDP_WITH_NA: [&str; 9] = [
    "--quick",
    "--only",
    "udp",
    "--sizes",
    "64,65536",
    "--placement",
    "same",
    "--format",
    "json",
];

/// The n/a reasons of `rows`, as the log words them: "n/a: " and the reason.
fn na_reasons(rows: &[serde_json::Value]) -> Vec<String> {
    let mut reasons = Vec::new();
    for row in rows {
        if let Some(note) = row["throughput_note"].as_str() {
            reasons.push(note.to_string());
        }
        if row["status"] == "n/a" {
            reasons.push(format!("n/a: {}", row["reason"].as_str().unwrap()));
        }
    }
    reasons
}

#[test]
fn a_long_n_a_reason_is_logged_whole() {
    let out = compare(&UDP_WITH_NA);
    let err = stderr(&out);
    assert!(out.status.success(), "{err}");
    let reasons = na_reasons(&json_rows(&out));
    assert!(reasons.len() >= 2, "expected two n/a cells: {reasons:?}");
    for reason in &reasons {
        let line = err
            .lines()
            .find(|l| l.contains("] ") && l.ends_with(&format!(": {reason}")))
            .unwrap_or_else(|| panic!("no whole line ending in {reason:?} in:\n{err}"));
        assert!(line.starts_with("compare: ["), "{line}");
        if reason.starts_with("n/a: UDP has no flow control") {
            assert!(line.chars().count() > 80, "too short to test a cut: {line}");
        }
    }
}
