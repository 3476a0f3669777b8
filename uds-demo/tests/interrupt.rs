//! SIGINT and SIGTERM at seeded-random moments of the tour and of the long-running
//! subcommands: each exits promptly with 128+signal (or finishes), leaving no directory, socket,
//! abstract name, orphan or zombie. One test in this file: it makes this process the
//! subreaper, so orphans of the program under test become visible here.
#![allow(clippy::unwrap_used)]

mod common;

use std::os::unix::process::ExitStatusExt;
use std::process::{Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use common::BIN;
use nix::sys::signal::{Signal, kill};
use nix::sys::wait::{WaitPidFlag, WaitStatus, waitpid};
use nix::unistd::Pid;
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};

/// Processes whose parent is this test process (orphans land here: we are the subreaper).
fn our_children() -> Vec<i32> {
    let me = std::process::id().to_string();
    let mut pids = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        let after = &stat[stat.rfind(')').unwrap() + 2..];
        if after.split_whitespace().nth(1) == Some(me.as_str()) {
            pids.push(pid);
        }
    }
    pids
}

/// Leftovers named after `pid`: private directories and abstract socket names.
fn leftovers_of(pid: u32) -> Vec<String> {
    let prefix = format!("ipc-tour-uds-{pid}-");
    let mut found: Vec<String> = std::fs::read_dir(std::env::temp_dir())
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(&prefix))
        .collect();
    let unix = std::fs::read_to_string("/proc/net/unix").unwrap_or_default();
    found.extend(
        unix.lines()
            .filter(|l| l.contains(&format!("@{prefix}")))
            .map(String::from),
    );
    found
}

/// Runs `uds-demo ARGS`, sends `signal` after `delay`; checks the exit and that nothing is left.
/// Returns whether the signal arrived before the program finished.
fn interrupt(args: &[&str], signal: Signal, delay: Duration) -> bool {
    let mut child = Command::new(BIN)
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id();
    thread::sleep(delay);
    let finished_first = child.try_wait().unwrap().is_some();
    let _ = kill(Pid::from_raw(pid as i32), signal);
    let what = format!("uds-demo {args:?} after {signal}");
    let status = testkit::exit_within(&mut child, Duration::from_secs(3), &what);
    let stderr = std::io::read_to_string(child.stderr.take().unwrap()).unwrap();
    assert!(!stderr.contains("panicked"), "{stderr}");
    let code = 128 + signal as i32;
    let ok = status.code() == Some(code)
        || status.signal() == Some(signal as i32)
        || (finished_first && status.success());
    assert!(
        ok,
        "uds-demo {args:?} after {delay:?} {signal}: {status}; stderr: {stderr}"
    );
    if status.code() == Some(code) {
        assert_eq!(stderr.lines().count(), 1, "not one line: {stderr}");
    }
    // Orphans die on their own (PR_SET_PDEATHSIG) and are reaped here.
    let deadline = Instant::now() + Duration::from_secs(2);
    loop {
        while let Ok(WaitStatus::Exited(..) | WaitStatus::Signaled(..)) =
            waitpid(None, Some(WaitPidFlag::WNOHANG))
        {}
        let left = our_children();
        if left.is_empty() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "uds-demo {args:?} after {delay:?} {signal}: left processes {left:?}"
        );
        thread::sleep(Duration::from_millis(10));
    }
    let left = leftovers_of(pid);
    assert!(
        left.is_empty(),
        "uds-demo {args:?} after {delay:?} {signal} left {left:?}"
    );
    !finished_first
}

#[test]
fn sigint_and_sigterm_at_random_points_leave_nothing() {
    nix::sys::prctl::set_child_subreaper(true).unwrap();
    let seed: u64 = std::env::var("UDS_DEMO_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(rand::random);
    println!("seed {seed} (replay with UDS_DEMO_SEED={seed})");
    let mut rng = StdRng::seed_from_u64(seed);
    let mut interrupted = 0;
    for signal in [Signal::SIGINT, Signal::SIGTERM] {
        for _ in 0..4 {
            let delay = Duration::from_millis(rng.random_range(0..700));
            interrupted += interrupt(&[], signal, delay) as usize;
        }
        let name = format!("uds-demo-test-interrupt-{}", std::process::id());
        for args in [
            &["serve"][..],
            &["serve", "--abstract", &name],
            &["fd-recv"],
        ] {
            let delay = Duration::from_millis(rng.random_range(0..200));
            interrupt(args, signal, delay);
        }
    }
    println!("{interrupted} of 8 tours were interrupted mid-run");
    assert!(interrupted > 0, "no tour was interrupted mid-run");
}
