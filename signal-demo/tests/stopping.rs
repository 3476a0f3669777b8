//! End-to-end: a run stopped by a signal, a killed parent, a killed child, a closed stdout.
//! Whatever ends a run, it ends in one line (or none) and leaves no child behind.
#![allow(clippy::unwrap_used)]

mod common;

use std::io::Read;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};

use common::{BIN, children_of, finish};

#[test]
fn interrupted_at_random_points_leaves_no_child() {
    let seed: u64 = std::env::var("SIGNAL_DEMO_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap();
            u64::from(now.subsec_nanos()) ^ u64::from(std::process::id())
        });
    println!("interruption seed: {seed} (replay with SIGNAL_DEMO_SEED={seed})");
    let mut rng = StdRng::seed_from_u64(seed);
    for signal in [
        Signal::SIGINT,
        Signal::SIGTERM,
        Signal::SIGINT,
        Signal::SIGTERM,
    ] {
        let delay = Duration::from_millis(rng.random_range(20..1200));
        let child = Command::new(BIN)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn");
        std::thread::sleep(delay);
        let _ = kill(Pid::from_raw(child.id() as i32), signal);
        println!("seed {seed}: {signal} after {delay:?}");
        let output = finish(child, Duration::from_secs(3));
        let err = String::from_utf8_lossy(&output.stderr);
        let context = format!(
            "seed {seed}, {signal} after {delay:?}: {} {err}",
            output.status
        );
        use std::os::unix::process::ExitStatusExt;
        if output.status.code() == Some(128 + signal as i32) {
            // Stopped: every child killed and reaped, one line, the signal's exit status.
            assert_eq!(
                err,
                format!("signal-demo: stopped by {signal}\n"),
                "{context}"
            );
        } else if output.status.signal() == Some(signal as i32) {
            // Arrived before the stop flag was set up: the default action, nothing printed.
            assert_eq!(err, "", "{context}");
        } else {
            assert!(output.status.success(), "{context}");
        }
        assert!(!err.contains("panicked at"), "{context}");
    }
}

/// Mid-measurement (a million round trips), a stop signal ends the run within a second, in one
/// line, with the signal's status.
#[test]
fn a_long_measurement_stops_within_a_second() {
    for (step, signal) in [("cost", Signal::SIGTERM), ("who-pays", Signal::SIGINT)] {
        let run = Command::new(BIN)
            .args([step, "--rounds", "1000000"])
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn");
        let pid = run.id();
        let end = Instant::now() + Duration::from_secs(3);
        while children_of(pid).is_empty() {
            assert!(Instant::now() < end, "{step}: no child appeared");
            std::thread::sleep(Duration::from_millis(5));
        }
        std::thread::sleep(Duration::from_millis(100));
        kill(Pid::from_raw(pid as i32), signal).unwrap();
        let output = finish(run, Duration::from_secs(1));
        let err = String::from_utf8_lossy(&output.stderr);
        assert_eq!(
            output.status.code(),
            Some(128 + signal as i32),
            "{step}: {err}"
        );
        assert_eq!(err, format!("signal-demo: stopped by {signal}\n"), "{step}");
    }
}

/// SIGHUP (the terminal closed) and SIGQUIT (Ctrl-\\) end a run the way SIGINT and SIGTERM do:
/// one line naming the signal, 128 + its number, no child left. SIGHUP lands in the storm of
/// step 7, where one child may be stuck in its own handler; SIGQUIT mid-tour.
#[test]
fn sighup_and_sigquit_mid_run_stop_it_cleanly() {
    let cases: [(&[&str], Signal, u64); 2] = [
        (
            &["handler-safety", "--signals", "10000"],
            Signal::SIGHUP,
            300,
        ),
        (&[], Signal::SIGQUIT, 500),
    ];
    for (args, signal, after_ms) in cases {
        let run = Command::new(BIN)
            .args(args)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn");
        let pid = run.id();
        let end = Instant::now() + Duration::from_secs(3);
        while children_of(pid).is_empty() {
            assert!(Instant::now() < end, "{args:?}: no child appeared");
            std::thread::sleep(Duration::from_millis(5));
        }
        std::thread::sleep(Duration::from_millis(after_ms));
        kill(Pid::from_raw(pid as i32), signal).unwrap();
        let output = finish(run, Duration::from_secs(2));
        let err = String::from_utf8_lossy(&output.stderr);
        assert_eq!(
            output.status.code(),
            Some(128 + signal as i32),
            "{args:?}: {err}"
        );
        assert_eq!(
            err,
            format!("signal-demo: stopped by {signal}\n"),
            "{args:?}"
        );
    }
}

#[test]
fn children_die_with_a_killed_parent() {
    let mut parent = Command::new(BIN)
        .args(["cost", "--rounds", "1000000"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn");
    let pid = parent.id();
    let end = Instant::now() + Duration::from_secs(3);
    while children_of(pid).is_empty() {
        assert!(Instant::now() < end, "no child appeared");
        std::thread::sleep(Duration::from_millis(5));
    }
    kill(Pid::from_raw(pid as i32), Signal::SIGKILL).unwrap();
    parent.wait().unwrap();
    let end = Instant::now() + Duration::from_secs(2);
    while !children_of(pid).is_empty() {
        assert!(
            Instant::now() < end,
            "orphaned children still alive 2 s after the parent died"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn parent_reports_a_killed_child_within_2s() {
    let parent = Command::new(BIN)
        .args(["cost", "--rounds", "1000000"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let pid = parent.id();
    let end = Instant::now() + Duration::from_secs(3);
    let victim = loop {
        if let Some(&child) = children_of(pid).first() {
            break child;
        }
        assert!(Instant::now() < end, "no child appeared");
        std::thread::sleep(Duration::from_millis(5));
    };
    std::thread::sleep(Duration::from_millis(50));
    kill(Pid::from_raw(victim), Signal::SIGKILL).unwrap();
    let output = finish(parent, Duration::from_secs(2));
    let err = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("SIGKILL") || err.contains("died"), "{err}");
}

/// `signal-demo | head -1`: the reader of our stdout goes away early. It ends quietly, with the
/// status a shell shows for a program SIGPIPE ended (141).
#[test]
fn a_closed_stdout_ends_the_tour_quietly_with_141() {
    let mut tour = Command::new(BIN)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn signal-demo");
    let mut first = [0u8; 1];
    tour.stdout
        .as_mut()
        .expect("stdout")
        .read_exact(&mut first)
        .expect("first byte");
    drop(tour.stdout.take()); // what `head` does when it has enough
    let out = tour.wait_with_output().expect("wait");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(141), "{stderr}");
    assert_eq!(stderr, "", "a closed stdout ends without a word");
}
