//! The progress log compare writes on stderr when stderr is not a terminal (a log file, CI,
//! this test): one line per measurement, whole however long it is, and a closing line that
//! counts to the total, also when the last measurements were skipped (a cell n/a in its first
//! round is not measured again, and gets no line). (The line rewritten in place on a terminal
//! fits 80 columns: `compare.rs` checks that one through script(1).)
#![allow(clippy::unwrap_used)]

mod common;

use common::{compare, json_rows};
use testkit::stderr;

/// UDP over loopback: its throughput is n/a (no flow control), with a reason well over 80
/// columns, and so is a 64 KiB round trip (above the largest datagram, as root too). A round
/// is throughput, 64 B, 64 KiB: from the second round on, its last measurement is skipped.
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

/// The n/a reasons of `rows`, as the log words them: "n/a: " and the reason, one per n/a
/// cell (every row of a placement repeats its throughput cell's note; these differ).
fn na_reasons(rows: &[serde_json::Value]) -> Vec<String> {
    let mut reasons = Vec::new();
    for row in rows {
        if let Some(note) = row["throughput_note"].as_str()
            && !reasons.iter().any(|r| r == note)
        {
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

/// "compare: [ i/n] rest" as (i, n, rest).
fn counted(line: &str) -> Option<(usize, usize, &str)> {
    let (count, rest) = line.strip_prefix("compare: [")?.split_once("] ")?;
    let (i, n) = count.trim().split_once('/')?;
    Some((i.parse().ok()?, n.parse().ok()?, rest))
}

/// The number before `words` in `text` ("6" before " not measured again"), 0 if none.
fn number_before(text: &str, words: &str) -> usize {
    text.split(", ")
        .find_map(|part| part.strip_suffix(words)?.rsplit(' ').next()?.parse().ok())
        .unwrap_or(0)
}

#[test]
fn the_log_ends_at_its_total_with_what_was_skipped() {
    let out = compare(&UDP_WITH_NA);
    let err = stderr(&out);
    assert!(out.status.success(), "{err}");
    let lines: Vec<(usize, usize, &str)> = err.lines().filter_map(counted).collect();
    let Some((&(i, n, closing), measured)) = lines.split_last() else {
        panic!("no counted line in:\n{err}");
    };
    // The case this test is for: the last measured line falls short of the total.
    let (before, ..) = measured.last().unwrap();
    assert!(
        *before < n,
        "the last cells were measured, not skipped:\n{err}"
    );
    assert_eq!((i, n), (n, 9), "the log ends at [{i}/{n}]:\n{err}");
    assert_eq!(
        err.lines().last().and_then(counted),
        Some((i, n, closing)),
        "not the last line:\n{err}"
    );
    // Its words add up: the lines above, and the n/a cells of rounds 2 and 3 not run again.
    let logged = closing
        .strip_prefix("done: ")
        .and_then(|rest| rest.split(' ').next()?.parse::<usize>().ok())
        .unwrap_or_else(|| panic!("not \"done: N logged above...\": {closing}"));
    let skipped = number_before(closing, " not measured again (n/a already known)");
    assert_eq!(logged, measured.len(), "{closing}:\n{err}");
    assert_eq!(logged + skipped, n, "{closing}:\n{err}");
    let na_cells = na_reasons(&json_rows(&out)).len();
    assert_eq!(skipped, 2 * na_cells, "{closing}:\n{err}");
}
