//! Helpers shared by the end-to-end tests: they run the real binary, as a user would.
#![allow(dead_code)]

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::thread;
use std::time::{Duration, Instant};

#[allow(unused_imports)] // not every test file waits on a child of its own
pub use testkit::output_within;

pub const BIN: &str = env!("CARGO_BIN_EXE_fifo-demo");

/// A directory private to one test, used as TMPDIR and for hand-made FIFOs; removed on drop.
pub type TestDir = testkit::TempDir;

/// The tour with its private directory under `tmpdir`.
pub fn tour(tmpdir: &Path) -> Command {
    let mut cmd = Command::new(BIN);
    cmd.env("TMPDIR", tmpdir).stdin(Stdio::null());
    cmd
}

/// Runs `cmd` to the end and returns its output; fails the test after 60 s.
pub fn run(cmd: &mut Command) -> Output {
    testkit::output(cmd.stdin(Stdio::null()), "fifo-demo")
}

/// Every number that directly follows `marker` on a line of `out`, in order.
pub fn numbers_after(out: &str, marker: &str) -> Vec<f64> {
    out.lines()
        .filter_map(|line| line.split_once(marker))
        .filter_map(|(_, rest)| {
            let number: String = rest
                .chars()
                .take_while(|c| c.is_ascii_digit() || *c == '.')
                .collect();
            number.parse().ok()
        })
        .collect()
}

/// Waits up to `limit` until no live process mentions `needle` (the tour passes its FIFO path
/// to every child, so this is every child of a tour run in a test's directory); kills any
/// left, and fails.
pub fn assert_no_process_mentions(needle: &Path, limit: Duration) {
    let end = Instant::now() + limit;
    loop {
        let left = testkit::processes_mentioning(needle);
        if left.is_empty() || Instant::now() >= end {
            return testkit::assert_none_left(&left, "the tour's children");
        }
        thread::sleep(Duration::from_millis(20));
    }
}

pub fn mkfifo(path: &Path) {
    nix::unistd::mkfifo(path, nix::sys::stat::Mode::from_bits_truncate(0o600)).expect("mkfifo");
}
