//! What the test files need: run the real binary, make sure no child of a run outlives it,
//! and find a step's lines by its heading.
#![allow(dead_code)] // each test file uses a part

use std::io::Read;
use std::process::{Child, Output};
use std::time::Duration;

pub const BIN: &str = env!("CARGO_BIN_EXE_signal-demo");

/// Runs signal-demo with `args` to the end; the test fails if it has not exited within 60 s.
pub fn run(args: &[&str]) -> Output {
    testkit::run(BIN, args)
}

pub fn stdout_of(output: &Output) -> String {
    let (text, err) = (testkit::stdout(output), testkit::stderr(output));
    assert!(
        output.status.success(),
        "signal-demo failed: {}\n{text}\n{err}",
        output.status
    );
    assert!(!err.contains("panicked at"), "{err}");
    text
}

/// Processes that are children of the signal-demo run with this pid (by their command line,
/// `signal-demo child --parent <pid> ...`, which stays true even after re-parenting).
pub fn children_of(parent: u32) -> Vec<i32> {
    testkit::processes_mentioning(format!("\0--parent\0{parent}\0"))
}

/// Waits (bounded) for a signal-demo run to end, then fails if any of its children outlived it —
/// killing those first (they are ours: their command line names this run's pid), so a leak fails
/// the test instead of hanging it on a pipe the orphan still holds open.
pub fn finish(mut child: Child, limit: Duration) -> Output {
    let pid = child.id();
    let status = testkit::exit_within(&mut child, limit, "signal-demo");
    testkit::assert_none_left(&children_of(pid), &format!("children of {pid}"));
    let (mut stdout, mut stderr) = (Vec::new(), Vec::new());
    if let Some(mut out) = child.stdout.take() {
        out.read_to_end(&mut stdout).expect("read stdout");
    }
    if let Some(mut err) = child.stderr.take() {
        err.read_to_end(&mut stderr).expect("read stderr");
    }
    Output {
        status,
        stdout,
        stderr,
    }
}

/// A step's heading, "N. title": a number at the start of the line, then ". ".
pub fn is_heading(line: &str) -> bool {
    line.split_once(". ")
        .is_some_and(|(number, _)| number.parse::<u32>().is_ok())
}

/// The text of step `n`: from its heading to the next one (or the end).
pub fn step(text: &str, n: u32) -> &str {
    let start = text
        .find(&format!("\n{n}. "))
        .unwrap_or_else(|| panic!("no step {n} in:\n{text}"))
        + 1;
    let rest = &text[start..];
    // Up to the blank line before the next heading (a line that starts with its number).
    let end = rest
        .match_indices('\n')
        .map(|(at, _)| at)
        .find(|&at| rest[at + 1..].lines().next().is_some_and(is_heading))
        .unwrap_or(rest.len());
    &rest[..end]
}
