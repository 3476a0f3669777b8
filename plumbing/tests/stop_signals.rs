//! Every signal whose default action would end a run, sent to a program that holds a named
//! object (`plumbing-probe hold`: a FIFO in a private directory), ends it cleanly: exit status
//! 128 + n, one line on stderr, and nothing left. The list is written out here, not taken from
//! `plumbing::stop`, so that a signal dropped from plumbing's list fails this test.
//!
//! No root needed: the FIFO lives in a private directory of ours under the temp dir.

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdout, Command, Output, Stdio};
use std::time::{Duration, Instant};

const PROBE: &str = env!("CARGO_BIN_EXE_plumbing-probe");

/// signal(7)'s "Term" and "Core" signals that a handler can catch, minus the faults a program
/// raises in itself (SEGV, BUS, ILL, FPE, TRAP, SYS, ABRT) and SIGPIPE (Rust ignores it).
const STANDARD: [(i32, &str); 14] = [
    (libc::SIGHUP, "SIGHUP"),
    (libc::SIGINT, "SIGINT"),
    (libc::SIGQUIT, "SIGQUIT"),
    (libc::SIGTERM, "SIGTERM"),
    (libc::SIGUSR1, "SIGUSR1"),
    (libc::SIGUSR2, "SIGUSR2"),
    (libc::SIGALRM, "SIGALRM"),
    (libc::SIGVTALRM, "SIGVTALRM"),
    (libc::SIGPROF, "SIGPROF"),
    (libc::SIGXCPU, "SIGXCPU"),
    (libc::SIGXFSZ, "SIGXFSZ"),
    (libc::SIGPWR, "SIGPWR"),
    (libc::SIGSTKFLT, "SIGSTKFLT"),
    (libc::SIGIO, "SIGIO"),
];

/// The standard ones above, then SIGRTMIN..=SIGRTMAX, each with the name the program prints.
fn terminating() -> Vec<(i32, String)> {
    let (min, max) = (libc::SIGRTMIN(), libc::SIGRTMAX());
    let real_time = (min..=max).map(|n| {
        let name = match n - min {
            0 => "SIGRTMIN".to_string(),
            _ if n == max => "SIGRTMAX".to_string(),
            k => format!("SIGRTMIN+{k}"),
        };
        (n, name)
    });
    (STANDARD.iter().map(|&(n, name)| (n, name.to_string())))
        .chain(real_time)
        .collect()
}

/// Waits at most 10 s for `child`, killing it and failing the test after that.
fn finish(mut child: Child) -> Output {
    let deadline = Instant::now() + Duration::from_secs(10);
    while child.try_wait().expect("try_wait").is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("plumbing-probe did not exit within 10 s");
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    child.wait_with_output().expect("wait_with_output")
}

/// A probe holding its FIFO (`hold`, with `extra` arguments), and the FIFO's path, once it
/// has said "ready". Its stdout is returned too: dropping it early would make the probe's
/// next line a closed-stdout exit instead of the outcome under test.
fn holder(extra: &[&str]) -> (Child, PathBuf, BufReader<ChildStdout>) {
    let mut child = Command::new(PROBE)
        .arg("hold")
        .args(extra)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn probe");
    let mut stdout = BufReader::new(child.stdout.take().expect("stdout"));
    let (mut path, mut ready) = (String::new(), String::new());
    stdout.read_line(&mut path).expect("read the FIFO's path");
    stdout.read_line(&mut ready).expect("read ready");
    assert_eq!(ready, "ready\n", "after {path:?}");
    let path = PathBuf::from(path.trim_end());
    assert!(path.exists(), "{} does not exist", path.display());
    (child, path, stdout)
}

/// kill(2) on our own child, which has not been reaped.
fn send(child: &Child, signal: i32) {
    let pid = i32::try_from(child.id()).expect("pid");
    // SAFETY: kill(2) takes two integers; the pid is our unreaped child, so not reused.
    assert_eq!(unsafe { libc::kill(pid, signal) }, 0, "kill {signal}");
}

/// The signals caught by process `pid`, as the SigCgt mask of /proc/PID/status.
fn caught_mask(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("status");
    let hex = status
        .lines()
        .find_map(|l| l.strip_prefix("SigCgt:"))
        .expect("SigCgt line");
    u64::from_str_radix(hex.trim(), 16).expect("hex mask")
}

fn bit(signal: i32) -> u64 {
    1 << (signal - 1)
}

/// The private directory holding the FIFO, which the probe must have removed too.
fn dir_of(fifo: &Path) -> &Path {
    fifo.parent().expect("the FIFO's directory")
}

/// Removes the probe's directory if a failing test leaves it, so a failure leaves nothing.
struct Sweep(PathBuf);

impl Drop for Sweep {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(dir_of(&self.0));
    }
}

#[test]
fn every_terminating_signal_stops_a_holder_and_leaves_nothing() {
    for (signal, name) in terminating() {
        let (child, fifo, mut stdout) = holder(&[]);
        let _sweep = Sweep(fifo.clone());
        send(&child, signal);
        let out = finish(child);
        let mut rest = String::new();
        let _ = stdout.read_to_string(&mut rest);
        assert_eq!(out.status.code(), Some(128 + signal), "{name}: {out:?}");
        assert_eq!(
            String::from_utf8_lossy(&out.stderr),
            format!("plumbing-probe: stopped by {name}; removed everything this run created\n")
        );
        assert!(!dir_of(&fifo).exists(), "{name} left {}", fifo.display());
    }
}

#[test]
fn a_signal_the_program_uses_itself_keeps_its_disposition() {
    let (child, fifo, _stdout) = holder(&["--uses", &libc::SIGALRM.to_string()]);
    let _sweep = Sweep(fifo.clone());
    let caught = caught_mask(child.id());
    for (signal, name) in terminating() {
        let expected = signal != libc::SIGALRM;
        assert_eq!(
            caught & bit(signal) != 0,
            expected,
            "{name} caught: {caught:x}"
        );
    }
    send(&child, libc::SIGTERM);
    let out = finish(child);
    assert_eq!(out.status.code(), Some(128 + libc::SIGTERM));
    assert!(!dir_of(&fifo).exists(), "left {}", fifo.display());
}

#[test]
fn a_child_that_restores_defaults_catches_none_of_them() {
    let out = Command::new(PROBE)
        .arg("caught-masks")
        .output()
        .expect("run probe");
    assert!(out.status.success(), "{out:?}");
    let text = String::from_utf8_lossy(&out.stdout);
    let masks: Vec<u64> = (text.lines())
        .map(|l| u64::from_str_radix(l, 16).expect("hex mask"))
        .collect();
    let [parent, child] = masks[..] else {
        panic!("two masks expected: {text}");
    };
    for (signal, name) in terminating() {
        assert!(parent & bit(signal) != 0, "parent does not catch {name}");
        assert!(child & bit(signal) == 0, "child still catches {name}");
    }
}
