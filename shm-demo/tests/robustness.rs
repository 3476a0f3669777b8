//! What every tour must survive: 80 columns, SIGHUP and SIGQUIT mid-run, and a parent that
//! left SIGCHLD ignored and every signal blocked.
#![allow(clippy::unwrap_used)]

mod common;

use std::io::{BufRead, BufReader, Read};
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use common::{BIN, dev_shm_matching, ensure_dead, processes_in_group, run, stderr, stdout};
use nix::sys::signal::{Signal, kill, killpg};
use nix::unistd::Pid;

#[test]
fn the_default_run_fits_80_columns() {
    let out = Command::new(BIN).env("COLUMNS", "80").output().unwrap();
    let text = stdout(&out);
    assert!(out.status.success(), "{text}{}", stderr(&out));
    testkit::assert_fits_80_columns(&text, |_| false);
    assert!(text.contains("\n12. "), "{text}");
}

#[test]
fn a_step_run_alone_keeps_its_tour_number() {
    let counter = stdout(&run(&["counter", "--increments", "1000"]));
    assert!(counter.starts_with("\n8. "), "{counter}");
    let ring = stdout(&run(&["ring", "--messages", "10"]));
    // Every line but a heading is indented, or blank (the line before a heading).
    let steps: Vec<&str> = ring
        .lines()
        .filter(|l| !l.is_empty() && !l.starts_with(' '))
        .collect();
    assert!(
        steps.len() == 2 && steps[0].starts_with("9. ") && steps[1].starts_with("10. "),
        "{ring}"
    );
}

/// Spawns shm-demo ARGS in a process group of its own; `inherit_hostile_signals` starts it
/// as a careless parent would: SIGCHLD ignored and every signal blocked.
fn spawn(args: &[&str], inherit_hostile_signals: bool) -> Child {
    let mut command = Command::new(BIN);
    command
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0);
    if inherit_hostile_signals {
        testkit::start_carelessly(&mut command);
    }
    command.spawn().expect("spawn shm-demo")
}

/// Starts a long tour, waits until it is in step 9 (children running), sends `signal` (to
/// the whole group, as a terminal does, or to the tour alone), and checks that it ends with
/// 128 + n and the one line, leaving no object and no process.
fn stopped_mid_run(signal: Signal, to_group: bool, inherit_hostile_signals: bool) {
    let what = format!("{signal} (group: {to_group}, hostile: {inherit_hostile_signals})");
    let args = ["--increments", "1000", "--messages", "10000000"];
    let mut tour = spawn(&args, inherit_hostile_signals);
    let pid = Pid::from_raw(tour.id() as i32);
    let mut lines = BufReader::new(tour.stdout.take().unwrap()).lines();
    let mut seen = String::new();
    while !seen.contains("\n9. ") {
        match lines.next() {
            Some(Ok(line)) => seen = format!("{seen}\n{line}"),
            _ => {
                ensure_dead(&mut tour);
                panic!("{what}: the tour ended before step 9: {seen}");
            }
        }
    }
    std::thread::sleep(Duration::from_millis(100));
    if to_group {
        killpg(pid, signal).unwrap();
    } else {
        kill(pid, signal).unwrap();
    }
    let status = testkit::wait_within(&mut tour, Duration::from_secs(5));
    ensure_dead(&mut tour);
    let mut err = String::new();
    tour.stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    let status = status.unwrap_or_else(|| panic!("{what}: still running 5 s later"));
    assert_eq!(status.code(), Some(128 + signal as i32), "{what}: {err}");
    assert_eq!(
        err,
        format!("shm-demo: stopped by {signal}; removed everything this run created\n"),
        "{what}"
    );
    let left = dev_shm_matching(&format!("ipc-tour-shm-{pid}-"));
    assert!(left.is_empty(), "{what}: left {left:?}");
    let left = processes_in_group(pid.as_raw());
    assert!(left.is_empty(), "{what}: left processes {left:?}");
}

#[test]
fn sighup_and_sigquit_mid_run_end_the_tour_cleanly() {
    stopped_mid_run(Signal::SIGHUP, true, false);
    stopped_mid_run(Signal::SIGQUIT, false, false);
    stopped_mid_run(Signal::SIGHUP, false, false);
    stopped_mid_run(Signal::SIGQUIT, true, false);
}

#[test]
fn sighup_and_sigquit_end_the_ring_role_cleanly() {
    for signal in [Signal::SIGHUP, Signal::SIGQUIT] {
        let mut ring = spawn(&["ring", "--messages", "1000000000"], false);
        let pid = Pid::from_raw(ring.id() as i32);
        // Keep the reading end open: a closed stdout would end the ring with 141 instead.
        let mut out = BufReader::new(ring.stdout.take().unwrap());
        common::read_child_pid(&mut out);
        std::thread::sleep(Duration::from_millis(50));
        killpg(pid, signal).unwrap();
        let status = testkit::wait_within(&mut ring, Duration::from_secs(5));
        ensure_dead(&mut ring);
        let mut err = String::new();
        ring.stderr
            .take()
            .unwrap()
            .read_to_string(&mut err)
            .unwrap();
        let status = status.unwrap_or_else(|| panic!("{signal}: still running 5 s later"));
        assert_eq!(status.code(), Some(128 + signal as i32), "{signal}: {err}");
        // The ring role owns no named object: it says only what stopped it.
        assert_eq!(err, format!("shm-demo: stopped by {signal}\n"));
        let left = processes_in_group(pid.as_raw());
        assert!(left.is_empty(), "{signal}: left processes {left:?}");
    }
}

#[test]
fn a_parent_that_ignores_sigchld_and_blocks_signals_does_not_break_the_tour() {
    // The children are reaped (waitpid with SIGCHLD ignored finds no child: ECHILD) ...
    let tour = spawn(&["--increments", "1000", "--messages", "100"], true);
    let pid = tour.id();
    let out = tour.wait_with_output().unwrap();
    let text = stdout(&out);
    assert!(out.status.success(), "{text}{}", stderr(&out));
    assert!(text.contains("\n12. shm_unlink"), "{text}");
    assert!(dev_shm_matching(&format!("ipc-tour-shm-{pid}-")).is_empty());
    // ... and a stop signal still stops it: the inherited mask was cleared.
    stopped_mid_run(Signal::SIGTERM, false, true);
    stopped_mid_run(Signal::SIGHUP, true, true);
}
