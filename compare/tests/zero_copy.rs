//! The `shm (zero-copy)` row through the `compare` binary: it carries the large sizes, and a
//! killed child fails it within 2 s. (A corrupted echo failing it: `compare.rs`, with the
//! other rows.)
#![allow(clippy::unwrap_used)]

use std::io::{BufRead, BufReader};
use std::os::unix::process::CommandExt;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
use testkit::exit_within;

const BIN: &str = env!("CARGO_BIN_EXE_compare");

fn compare(args: &[&str]) -> Output {
    Command::new(BIN).args(args).output().expect("run compare")
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn json_rows(out: &Output) -> Vec<Value> {
    // {"run": {...}, "rows": [...], "lessons": [...]}
    let json = serde_json::from_slice::<Value>(&out.stdout).expect("stdout is JSON");
    match &json["rows"] {
        Value::Array(rows) => rows.clone(),
        other => panic!("expected a rows array, got {other}"),
    }
}

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
        let rounds = row["rounds"].as_u64().unwrap();
        assert_eq!(row["samples"].as_u64(), Some(20 * rounds), "{row}");
        assert!(row["throughput_mib_s"].as_f64().unwrap() > 0.0, "{row}");
    }
}

/// Processes whose process group is `pgid`.
fn group_members(pgid: i32) -> Vec<i32> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
            continue;
        };
        let Some((_, after)) = stat.rsplit_once(") ") else {
            continue;
        };
        if after.split_whitespace().nth(2).and_then(|g| g.parse().ok()) == Some(pgid) {
            found.push(pid);
        }
    }
    found
}

#[test]
fn a_killed_child_fails_the_row_within_2s() {
    let mut run = Command::new(BIN)
        .args(["--only", "shm-zero-copy", "--placement", "same"])
        .args(["--sizes", "64", "--iters", "5000000"])
        .process_group(0)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = run.id() as i32;
    let mut lines = BufReader::new(run.stderr.take().unwrap()).lines();
    let mut before = Vec::new();
    for line in lines.by_ref() {
        let line = line.unwrap();
        if line.contains("throughput") {
            break; // the long round-trip measurement starts next
        }
        before.push(line);
    }
    let deadline = Instant::now() + Duration::from_secs(3);
    let echo = loop {
        if let Some(&p) = group_members(pid).iter().find(|&&p| p != pid) {
            break p;
        }
        if Instant::now() > deadline {
            let _ = run.kill();
            panic!("no echo child appeared; compare said: {before:?}");
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    std::thread::sleep(Duration::from_millis(100));
    let killed_at = Instant::now();
    // SAFETY: kill takes two integers; `echo` is a member of our child's process group.
    assert_eq!(unsafe { libc::kill(echo, libc::SIGKILL) }, 0);
    let status = exit_within(
        &mut run,
        Duration::from_secs(5),
        "compare (its echo killed)",
    );
    let took = killed_at.elapsed();
    let rest: Vec<String> = lines.map(|l| l.unwrap()).collect();
    assert!(took < Duration::from_secs(2), "took {took:?}: {rest:?}");
    assert_eq!(status.code(), Some(1), "{rest:?}");
    let last = rest.last().unwrap();
    assert!(
        last.contains("shm (zero-copy)") && last.contains("SIGKILL"),
        "{rest:?}"
    );
    assert!(group_members(pid).is_empty(), "left running");
}
