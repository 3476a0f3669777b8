//! The whole tour, as a user runs it: what it prints, two at once, and interrupted anywhere.
#![allow(clippy::unwrap_used)]

mod common;

use std::os::unix::process::ExitStatusExt;
use std::process::Output;
use std::time::Duration;

use common::{dev_shm_matching, processes_in_group, spawn_in_own_group, stderr, stdout};
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};

const SMALL: [&str; 4] = ["--increments", "20000", "--messages", "300"];

/// Step `n` of the tour's output, its lines joined by spaces (a step wraps to fit 80 columns).
pub fn step(text: &str, n: usize) -> String {
    let next = format!("{}. ", n + 1);
    text.lines()
        .skip_while(|l| !l.starts_with(&format!("{n}. ")))
        .take_while(|l| !l.starts_with(&next))
        .map(str::trim)
        .collect::<Vec<_>>()
        .join(" ")
}

fn check_tour(out: &Output, pid: u32) {
    let text = stdout(out);
    assert!(out.status.success(), "tour failed: {}{text}", stderr(out));
    for n in 1..=12 {
        assert!(
            text.contains(&format!("\n{n}. ")),
            "step {n} missing:\n{text}"
        );
    }
    let has = |n: usize, needle: &str| {
        assert!(
            step(&text, n).contains(needle),
            "step {n}: no {needle}:\n{text}"
        );
    };
    has(3, "32 bytes, mode 0600");
    has(
        4,
        "\"opened the existing $OBJ; stored temperature: 42 (update #1)\"",
    );
    has(4, "own mapping from step 3 shows temperature: 42 too");
    has(
        5,
        "another process ran `shm-demo read $OBJ`: \"temperature: 42 ",
    );
    has(
        6,
        "of text: magic is \"another \", not \"shmdemo\" (another program's object)",
    );
    has(6, "given 4096 bytes: object is 4096 bytes, not 32");
    has(12, "gone from /dev/shm");
    has(12, "No such file or directory");
    assert_eq!(text.matches("verified both ways").count(), 2, "{text}");
    assert_eq!(text.matches("a slow sensor, ").count(), 2, "{text}");
    assert_eq!(
        text.matches("read returned end of file").count(),
        2,
        "{text}"
    );
    assert!(
        dev_shm_matching(&format!("ipc-tour-shm-{pid}-")).is_empty(),
        "tour left its object"
    );
}

fn run_tour() -> (Output, u32) {
    let child = spawn_in_own_group(&SMALL);
    let pid = child.id();
    let out = child.wait_with_output().expect("wait for tour");
    (out, pid)
}

#[test]
fn tour_prints_every_step_and_leaves_nothing() {
    let (out, pid) = run_tour();
    println!("{}", stdout(&out));
    check_tour(&out, pid);
    assert!(
        processes_in_group(pid as i32).is_empty(),
        "tour left processes behind"
    );
}

#[test]
fn two_tours_at_once_both_succeed() {
    let a = std::thread::spawn(run_tour);
    let (out_b, pid_b) = run_tour();
    let (out_a, pid_a) = a.join().unwrap();
    check_tour(&out_a, pid_a);
    check_tour(&out_b, pid_b);
}

#[test]
fn interrupted_anywhere_leaves_nothing() {
    let seed = std::env::var("SHM_DEMO_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(rand::random::<u64>);
    println!("seed {seed} (replay with SHM_DEMO_SEED={seed})");
    let mut rng = StdRng::seed_from_u64(seed);
    let mut interrupted = 0;
    for round in 0..6 {
        // SIGINT to the whole group, as Ctrl-C in a terminal does; SIGTERM to the tour alone.
        let (signal, to_group) = if round % 2 == 0 {
            (nix::sys::signal::Signal::SIGINT, true)
        } else {
            (nix::sys::signal::Signal::SIGTERM, false)
        };
        let delay = Duration::from_millis(rng.random_range(0..350));
        let mut tour = spawn_in_own_group(&SMALL);
        let pid = nix::unistd::Pid::from_raw(tour.id() as i32);
        std::thread::sleep(delay);
        if to_group {
            nix::sys::signal::killpg(pid, signal).unwrap();
        } else {
            nix::sys::signal::kill(pid, signal).unwrap();
        }
        let status = testkit::wait_within(&mut tour, Duration::from_secs(3));
        common::ensure_dead(&mut tour);
        let out = tour.wait_with_output().unwrap();
        let what = format!("{signal} after {delay:?} (seed {seed})");
        let status = status.unwrap_or_else(|| panic!("{what}: tour did not exit within 3 s"));
        let err = stderr(&out);
        assert!(!err.contains("panicked"), "{what}: {err}");
        match status.code() {
            Some(0) => {} // it finished first
            Some(code) => {
                assert_eq!(code, 128 + signal as i32, "{what}: {err}");
                assert_eq!(
                    err,
                    format!("shm-demo: stopped by {signal}; removed everything this run created\n"),
                    "{what}"
                );
                interrupted += 1;
            }
            // A signal that lands before the tour has registered its handlers (delay 0, or a
            // slow exec on a loaded machine) takes the default action; the tour had printed
            // nothing, so it had created nothing yet either.
            None if status.signal() == Some(signal as i32) && out.stdout.is_empty() => {}
            None => panic!("{what}: killed by a signal instead of cleaning up: {status}"),
        }
        assert!(
            dev_shm_matching(&format!("ipc-tour-shm-{pid}-")).is_empty(),
            "{what}: left an object in /dev/shm"
        );
        let left = processes_in_group(pid.as_raw());
        assert!(left.is_empty(), "{what}: left processes {left:?}");
        println!("{what}: exit {status}, nothing left");
    }
    // A tour that ignored the signals would finish every time and pass everything above.
    assert!(interrupted > 0, "no round was interrupted (seed {seed})");
}

#[test]
fn tour_works_for_an_unprivileged_user() {
    // CI runs as root; real users are not. As an ordinary user the other tests already show it.
    if !nix::unistd::geteuid().is_root() {
        println!("not root: every other test already ran unprivileged");
        return;
    }
    let out = common::run_as_nobody(&SMALL);
    assert!(
        out.status.success(),
        "as uid 65534: {}{}",
        stdout(&out),
        stderr(&out)
    );
    assert!(stdout(&out).contains("12. shm_unlink"), "{}", stdout(&out));
}

#[test]
fn stdout_closed_early_ends_quietly_with_141_and_leaves_nothing() {
    // `shm-demo | head -3`: read three lines, then close the pipe.
    let mut tour = spawn_in_own_group(&SMALL);
    let pid = tour.id();
    let mut lines = std::io::BufRead::lines(std::io::BufReader::new(tour.stdout.take().unwrap()));
    for _ in 0..3 {
        lines.next().unwrap().unwrap();
    }
    drop(lines);
    let status = testkit::wait_within(&mut tour, Duration::from_secs(20));
    common::ensure_dead(&mut tour);
    let out = tour.wait_with_output().unwrap();
    let status = status.expect("the tour did not stop after its stdout closed");
    // As if SIGPIPE had ended it (128 + 13), and not a word: the reader asked for 3 lines.
    assert_eq!(status.code(), Some(141), "{status}: {}", stderr(&out));
    assert_eq!(stderr(&out), "");
    assert!(
        dev_shm_matching(&format!("ipc-tour-shm-{pid}-")).is_empty(),
        "left an object in /dev/shm"
    );
    let left = processes_in_group(pid as i32);
    assert!(left.is_empty(), "left processes {left:?}");
}
