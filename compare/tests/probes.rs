//! The design-space table observed: every probe's fact, per row, as this machine gives it (a
//! Linux kernel); the UDP row measured and checked like the others; nothing left behind.
#![allow(clippy::unwrap_used)]

mod common;

use serde_json::Value;
use testkit::stderr;

use common::{compare, json_rows};

/// What each row's probes must find on Linux: (key, column, fact).
const FACTS: [(&str, &str, &str); 30] = [
    ("pipe", "structure", "stream"),
    ("pipe", "direction", "one_way"),
    ("pipe", "naming", "no_name"),
    ("fifo", "structure", "stream"),
    ("fifo", "direction", "one_way"),
    ("fifo", "naming", "by_name"),
    ("fifo", "persistence", "outlived"),
    ("signal", "naming", "by_name"),
    ("mq", "structure", "messages"),
    ("mq", "direction", "no_ends"),
    ("mq", "naming", "by_name"),
    ("mq", "persistence", "outlived"),
    ("sysv-mq", "structure", "messages"),
    ("sysv-mq", "direction", "no_ends"),
    ("shm-spin", "direction", "both_ways"),
    ("shm-spin", "naming", "by_name"),
    ("shm-spin", "persistence", "outlived"),
    ("shm-zero-copy", "persistence", "outlived"),
    ("uds-stream", "structure", "stream"),
    ("uds-stream", "direction", "both_ways"),
    ("uds-stream", "naming", "by_name"),
    ("uds-stream", "persistence", "name_only"),
    ("uds-datagram", "structure", "messages"),
    ("uds-datagram", "persistence", "name_only"),
    ("tcp", "structure", "stream"),
    ("tcp", "direction", "both_ways"),
    ("tcp", "persistence", "gone"),
    ("udp", "structure", "messages"),
    ("udp", "direction", "both_ways"),
    ("udp", "persistence", "gone"),
];

/// Names in `dir` starting with `prefix` whose pid (the word after it) is no longer running:
/// what a finished run would have left.
fn left_by_the_dead(dir: &str, prefix: &str) -> Vec<String> {
    let dead = |name: &str| {
        let pid = name[prefix.len()..].split('-').next().unwrap_or("");
        pid.parse::<i32>()
            .is_ok_and(|p| !std::path::Path::new(&format!("/proc/{p}")).exists())
    };
    std::fs::read_dir(dir)
        .map(|d| {
            d.filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| n.starts_with(prefix) && dead(n))
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn every_probe_finds_what_this_kernel_does_and_leaves_nothing() {
    let out = compare(&["--quick", "--placement", "same", "--format", "json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let rows = json_rows(&out);
    let row = |key: &str| rows.iter().find(|r| r["key"] == key).unwrap().clone();
    for (key, column, fact) in FACTS {
        let found = &row(key)["probes"][column];
        assert_eq!(found["fact"], fact, "{key} {column}: {found}");
        assert!(!found["seen"].as_str().unwrap().is_empty());
        assert_eq!(row(key)[format!("probe_{column}")], found["seen"], "{key}");
    }
    // Columns no probe answers carry nothing (the table says "(as documented)").
    assert_eq!(row("signal")["probes"]["direction"], Value::Null);
    assert!(
        row("pipe")["probes"]["naming"]["seen"]
            .as_str()
            .unwrap()
            .contains("pipe:[")
    );
    let json = serde_json::from_slice::<Value>(&out.stdout).unwrap();
    assert!(json["verdicts"].as_array().is_some_and(|v| !v.is_empty()));
    // A finished run leaves no queue, no shm object, no private directory.
    let temp = std::env::temp_dir().to_string_lossy().into_owned();
    for (dir, prefix) in [
        ("/dev/shm", "ipc-tour-cmp-"),
        ("/dev/mqueue", "ipc-tour-mq-"),
        (temp.as_str(), "ipc-tour-compare-"),
    ] {
        let left = left_by_the_dead(dir, prefix);
        assert!(left.is_empty(), "{dir}: {left:?}");
    }
}

#[test]
fn the_table_shows_each_word_with_what_was_seen_and_ends_with_the_verdicts() {
    let out = compare(&["--quick", "--only", "pipe,signal,udp"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("write on read end: EBADF"), "{text}");
    assert!(text.contains("(as documented)"), "{text}");
    let block = text
        .split("\nThe lecture, checked on this machine\n")
        .nth(1)
        .unwrap_or_else(|| panic!("no verdict block:\n{text}"));
    assert!(block.lines().all(|l| l.chars().count() <= 80), "{block}");
    assert!(block.contains("the table's Pipe row"), "{block}");
    assert!(block.contains("the table's UDP (sockets) row"), "{block}");
    assert!(
        !block.contains("\nThis run"),
        "the block comes last:\n{block}"
    );
}

#[test]
fn the_udp_row_carries_checked_bytes_and_fails_on_a_corrupted_one() {
    let out = compare(&[
        "--quick", "--only", "udp", "--sizes", "64,65536", "--format", "json",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let rows = json_rows(&out);
    let ok: Vec<&Value> = rows.iter().filter(|r| r["status"] == "ok").collect();
    assert!(!ok.is_empty(), "{rows:?}");
    for r in &ok {
        assert_eq!(r["mechanism"], "UDP loopback");
        assert_eq!(r["verified"], true);
        assert_eq!(r["size"], 64);
        assert!(r["setup_us"].as_f64().unwrap() > 0.0);
        assert!(
            r["throughput_note"]
                .as_str()
                .unwrap()
                .contains("no flow control")
        );
    }
    let big = rows.iter().find(|r| r["size"] == 65536).unwrap();
    assert_eq!(big["status"], "n/a", "{big}");
    let out = compare(&[
        "--quick",
        "--only",
        "udp",
        "--placement",
        "same",
        "--corrupt-after",
        "5",
    ]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.lines()
            .last()
            .unwrap()
            .contains("message 5 came back changed"),
        "{err}"
    );
}
