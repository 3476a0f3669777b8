//! What compare's end-to-end tests share: run the real binary, read its JSON, and kill a
//! row's echo child in the middle of a measurement.
// Each test file uses a part of this module.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::os::unix::process::CommandExt;
use std::process::{Command, ExitStatus, Output, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use serde_json::Value;

pub const BIN: &str = env!("CARGO_BIN_EXE_compare");

/// Runs compare with `args` to the end, stdin empty and output captured; the test fails if
/// it has not exited within 60 s.
pub fn compare(args: &[&str]) -> Output {
    testkit::run(BIN, args)
}

/// The `rows` of compare's JSON (`{"run": {...}, "rows": [...], "lessons": [...]}`).
pub fn json_rows(out: &Output) -> Vec<Value> {
    let json = serde_json::from_slice::<Value>(&out.stdout).expect("stdout is JSON");
    match &json["rows"] {
        Value::Array(rows) => rows.clone(),
        other => panic!("expected an array of rows, got {other} in {json}"),
    }
}

/// How a run went after [`kill_the_echo_mid_run`] killed its echo child.
pub struct KilledEcho {
    /// compare's pid, which is also its process group's id.
    pub pgid: i32,
    pub status: ExitStatus,
    /// From the SIGKILL to the line on stderr that says the row failed. (compare goes on to
    /// the row's other measurements after that, so its exit comes later, by how much depends
    /// on the machine's load.)
    pub took: Duration,
    /// compare's stderr after the throughput line.
    pub rest: Vec<String>,
}

/// Runs compare on row `key` alone (same core, 64 B, iterations enough for minutes) in a
/// process group of its own, waits for the long round-trip measurement (it follows the
/// throughput line on stderr), SIGKILLs the echo child 100 ms into it, times how soon
/// compare says the row failed, and waits at most 10 s for compare to exit.
pub fn kill_the_echo_mid_run(key: &str) -> KilledEcho {
    let mut run = Command::new(BIN)
        .args(["--only", key, "--placement", "same"])
        .args(["--sizes", "64", "--iters", "5000000"])
        .process_group(0)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn compare");
    let pgid = i32::try_from(run.id()).expect("pid");
    let mut lines = BufReader::new(run.stderr.take().expect("stderr")).lines();
    let mut before = Vec::new();
    // A hung cell must not hang the suite, whatever compare's own watchdog does.
    let guard = testkit::KillAfter::new(&run, Duration::from_secs(60));
    for line in lines.by_ref() {
        let line = line.expect("read stderr");
        if line.contains("throughput") {
            break; // the long round-trip measurement starts next
        }
        before.push(line);
    }
    drop(guard);
    let deadline = Instant::now() + Duration::from_secs(3);
    let echo = loop {
        if let Some(&p) = testkit::processes_in_group(pgid)
            .iter()
            .find(|&&p| p != pgid)
        {
            break p;
        }
        if Instant::now() > deadline {
            testkit::kill_and_reap(&mut run);
            panic!("{key}: no echo child appeared; compare said: {before:?}");
        }
        thread::sleep(Duration::from_millis(5));
    };
    thread::sleep(Duration::from_millis(100));
    let killed_at = Instant::now();
    kill(Pid::from_raw(echo), Signal::SIGKILL).expect("kill the echo child");
    // The failed row's progress line comes first; reading it is bounded by the guard.
    let guard = testkit::KillAfter::new(&run, Duration::from_secs(10));
    let mut rest = Vec::new();
    let mut took = None;
    for line in lines.by_ref() {
        let line = line.expect("read stderr");
        if took.is_none() && line.contains("FAILED") {
            took = Some(killed_at.elapsed());
        }
        rest.push(line);
    }
    drop(guard);
    let what = format!("{key}: compare after its echo was killed");
    let status = testkit::exit_within(&mut run, Duration::from_secs(10), &what);
    let took = took.unwrap_or_else(|| panic!("{key}: no FAILED line after the kill: {rest:?}"));
    KilledEcho {
        pgid,
        status,
        took,
        rest,
    }
}

impl KilledEcho {
    /// Asserts the peer-death contract: compare noticed within 2 s and exited 1, its last
    /// line naming the row (`label`, as the table prints it) and SIGKILL.
    pub fn assert_row_failed(&self, label: &str) {
        let KilledEcho {
            status, took, rest, ..
        } = self;
        assert!(
            *took < Duration::from_secs(2),
            "{label}: the peer-death bound is 2 s; noticed after {took:?}: {rest:?}"
        );
        assert_eq!(status.code(), Some(1), "{label}: {rest:?}");
        let last = rest.last().map_or("", String::as_str);
        assert!(
            last.contains(label) && last.contains("SIGKILL"),
            "{label}: {rest:?}"
        );
    }
}
