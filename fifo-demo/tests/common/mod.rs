//! Helpers shared by the end-to-end tests: they run the real binary, as a user would.
#![allow(dead_code)]

use std::fs;
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::thread;
use std::time::{Duration, Instant};

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
    let child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run fifo-demo");
    output_within(child, Duration::from_secs(60), "fifo-demo")
}

pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
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

/// Live (not zombie) processes whose command line mentions `needle`: the tour passes its FIFO
/// path to every child, so this finds the children of a tour run in a test's directory.
pub fn processes_mentioning(needle: &Path) -> Vec<u32> {
    let needle = needle.to_string_lossy().into_owned();
    let mut found = Vec::new();
    for entry in fs::read_dir("/proc").expect("read /proc").flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(cmdline) = fs::read(entry.path().join("cmdline")) else {
            continue;
        };
        let Ok(stat) = fs::read_to_string(entry.path().join("stat")) else {
            continue;
        };
        let zombie = stat
            .rsplit_once(") ")
            .is_some_and(|(_, rest)| rest.starts_with('Z'));
        if !zombie && text(&cmdline).contains(&needle) {
            found.push(pid);
        }
    }
    found
}

/// Waits up to `limit` until no live process mentions `needle`; kills any left, and fails.
pub fn assert_no_process_mentions(needle: &Path, limit: Duration) {
    let end = Instant::now() + limit;
    loop {
        let left = processes_mentioning(needle);
        if left.is_empty() {
            return;
        }
        if Instant::now() >= end {
            // Kill them so that a failing test still leaves nothing behind.
            for &pid in &left {
                let _ = nix::sys::signal::kill(
                    nix::unistd::Pid::from_raw(pid as i32),
                    nix::sys::signal::Signal::SIGKILL,
                );
            }
            panic!("processes left running: {left:?}");
        }
        thread::sleep(Duration::from_millis(20));
    }
}

pub fn mkfifo(path: &Path) {
    nix::unistd::mkfifo(path, nix::sys::stat::Mode::from_bits_truncate(0o600)).expect("mkfifo");
}

pub fn send(child: &Child, signal: nix::sys::signal::Signal) {
    let pid = nix::unistd::Pid::from_raw(i32::try_from(child.id()).expect("pid"));
    nix::sys::signal::kill(pid, signal).expect("kill");
}

/// A seed from FIFO_DEMO_SEED, or a fresh one; printed so a failure can be replayed.
pub fn seed() -> u64 {
    let seed = std::env::var("FIFO_DEMO_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(1, |d| d.as_nanos() as u64)
        });
    println!("seed {seed} (replay with FIFO_DEMO_SEED={seed})");
    seed
}
