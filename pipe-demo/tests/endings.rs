//! End-to-end runs of `pipe-demo` that end early or badly: a stop signal, a child killed
//! mid-step, a closed or full stdout. Each checks the exit status, what stderr says, and that
//! no process of the run is left behind. Each test spawns the binary as a user would; nothing
//! here forks.
#![allow(clippy::unwrap_used)]

use std::fs;
use std::io;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use std::os::unix::process::{CommandExt, ExitStatusExt};

const BIN: &str = env!("CARGO_BIN_EXE_pipe-demo");

/// Processes whose process group is `pgid`: the tour and every child it started.
fn group_members(pgid: u32) -> Vec<PathBuf> {
    let mut members = Vec::new();
    for entry in fs::read_dir("/proc").unwrap().flatten() {
        let stat = fs::read_to_string(entry.path().join("stat")).unwrap_or_default();
        // Fields after "(comm)": state, ppid, pgrp, ...
        let fields: Vec<&str> = stat
            .rsplit(')')
            .next()
            .unwrap_or("")
            .split_whitespace()
            .collect();
        if fields.get(2) == Some(&pgid.to_string().as_str()) {
            members.push(entry.path());
        }
    }
    members
}

/// The members of group `pgid` still there after up to 2 s: a child killed when its parent
/// died (PR_SET_PDEATHSIG) may take a moment to be gone.
fn members_left(pgid: u32) -> Vec<PathBuf> {
    let deadline = Instant::now() + Duration::from_secs(2);
    while !group_members(pgid).is_empty() && Instant::now() < deadline {
        thread::sleep(Duration::from_millis(20));
    }
    group_members(pgid)
}

#[test]
fn interrupting_the_tour_leaves_no_process_behind() {
    let seed = std::process::id();
    println!("seed {seed}");
    // Ctrl-C, kill, the terminal closing, and Ctrl-\\.
    let signals = [
        Signal::SIGINT,
        Signal::SIGTERM,
        Signal::SIGHUP,
        Signal::SIGQUIT,
    ];
    for (i, signal) in signals.into_iter().enumerate() {
        // A cheap reproducible spread of moments across the ~0.4 s tour.
        let delay_ms =
            u64::from((seed.wrapping_mul(2_654_435_761).rotate_left(i as u32 * 7)) % 400);
        let mut command = Command::new(BIN);
        command.process_group(0).stdout(Stdio::null());
        testkit::without_core_dumps(&mut command); // no core file from SIGQUIT
        let mut tour = command.spawn().unwrap();
        let pgid = tour.id();
        thread::sleep(Duration::from_millis(delay_ms));
        kill(Pid::from_raw(i32::try_from(pgid).unwrap()), signal).unwrap();
        let guard = testkit::KillAfter::new(&tour, Duration::from_secs(10));
        let status = tour.wait().unwrap();
        drop(guard);
        // No stop flag: the signal's default action ends the tour at once (unless the tour
        // had already finished).
        assert!(
            status.signal() == Some(signal as i32) || status.success(),
            "{signal} after {delay_ms} ms: {status}"
        );
        assert_eq!(
            members_left(pgid),
            Vec::<PathBuf>::new(),
            "{signal} after {delay_ms} ms"
        );
    }
}

/// The writer of step 3 is SIGKILLed while it is blocked: the parent must not wait for it
/// forever, but say what happened and exit 1.
#[test]
fn a_child_killed_mid_step_ends_the_tour_with_a_clear_error() {
    let mut tour = Command::new(BIN)
        .args(["buffer", "--pipe-size", "100000"])
        .process_group(0)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(5);
    let writer = loop {
        let asleep_in_write = group_members(tour.id())
            .into_iter()
            .find(|p| fs::read_to_string(p.join("wchan")).is_ok_and(|w| w.contains("pipe_write")));
        if let Some(proc_dir) = asleep_in_write {
            break proc_dir;
        }
        assert!(Instant::now() < deadline, "no writer blocked in step 3");
        thread::sleep(Duration::from_millis(1));
    };
    let pid: i32 = writer
        .file_name()
        .unwrap()
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    kill(Pid::from_raw(pid), Signal::SIGKILL).unwrap();
    let killed = Instant::now();
    while tour.try_wait().unwrap().is_none() {
        if killed.elapsed() > Duration::from_secs(2) {
            let _ = kill(
                Pid::from_raw(-i32::try_from(tour.id()).unwrap()),
                Signal::SIGKILL,
            );
            panic!("the tour still runs 2 s after its child was killed");
        }
        thread::sleep(Duration::from_millis(10));
    }
    let out = testkit::output_within(tour, Duration::from_secs(10), "pipe-demo");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.contains(&format!("child {pid}")) && stderr.contains("SIGKILL"),
        "{stderr}"
    );
}

/// Runs pipe-demo with `args`, reads its stdout up to the end of the first line holding
/// `marker`, then closes it, as `head` does when it has enough. Returns what the run ended
/// with, once no process of its group is left (or 2 s have passed).
fn run_until_stdout_closes(args: &[&str], marker: &str) -> (Output, Vec<PathBuf>) {
    let mut tour = Command::new(BIN)
        .args(args)
        .process_group(0)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let (mut seen, mut byte) = (Vec::new(), [0u8; 1]);
    while !(String::from_utf8_lossy(&seen).contains(marker) && byte[0] == b'\n') {
        io::Read::read_exact(tour.stdout.as_mut().unwrap(), &mut byte).unwrap();
        seen.push(byte[0]);
    }
    drop(tour.stdout.take());
    let pgid = tour.id();
    let out = testkit::output_within(tour, Duration::from_secs(10), "pipe-demo");
    (out, members_left(pgid))
}

/// `pipe-demo | head -1`: the reader goes away early. The tour ends quietly, as if SIGPIPE
/// had ended it: nothing on stderr, exit status 141, and no process left behind.
#[test]
fn a_closed_stdout_ends_the_tour_quietly() {
    let (out, left) = run_until_stdout_closes(&[], "");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(141), "{stderr}");
    assert_eq!(
        stderr, "",
        "a closed stdout must end the tour without a word"
    );
    assert_eq!(left, Vec::<PathBuf>::new(), "children left");
}

/// `pipe-demo > /dev/full`: stdout fails for another reason than a closed pipe. One line says
/// so, exit status 1, never a panic.
#[test]
fn a_full_stdout_is_one_clear_error() {
    let child = Command::new(BIN)
        .arg("cat")
        .stdout(fs::File::create("/dev/full").unwrap())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let out = testkit::output_within(child, Duration::from_secs(10), "pipe-demo");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.starts_with("pipe-demo: cannot write to stdout: "),
        "{stderr}"
    );
}

/// `pipe-demo buffer | head -4`: the reader goes away just after the parent's "3b. writer"
/// line, so the first to find stdout closed is the forked writer (it prints once the parent
/// has drained, 200 ms later). The tour still ends quietly with 141.
#[test]
fn a_closed_stdout_seen_by_a_child_ends_the_tour_quietly() {
    let (out, left) = run_until_stdout_closes(&["buffer", "--pipe-size", "100000"], "3b. writer");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(141), "{stderr}");
    assert_eq!(
        stderr, "",
        "a closed stdout must end the tour without a word"
    );
    assert_eq!(left, Vec::<PathBuf>::new(), "children left");
}

/// Started as a daemon or a careless shell would start it: SIGCHLD ignored (waitpid would
/// fail with ECHILD) and every signal blocked. The tour resets both at start and runs as usual.
#[test]
fn the_tour_works_with_sigchld_ignored_and_signals_blocked() {
    let mut command = Command::new(BIN);
    testkit::start_carelessly(&mut command);
    let out = testkit::output(&mut command, "pipe-demo");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}\n{stdout}");
    assert!(stdout.contains("exited with status 0"), "{stdout}");
    assert!(stdout.contains("killed by SIGPIPE"), "{stdout}");
    assert!(stdout.contains("; the shell: "), "{stdout}");
}

/// `pipe-demo fork | head -3`: the child may be the first to find stdout closed, and then the
/// parent's next write to it fails too. Either way the run ends quietly with 141.
#[test]
fn a_closed_stdout_in_step_2_ends_quietly_whoever_meets_it_first() {
    for _ in 0..5 {
        let (out, left) = run_until_stdout_closes(&["fork"], "forked child");
        let stderr = String::from_utf8_lossy(&out.stderr);
        // 0 when the whole step was already in the pipe before we closed it; what must never
        // happen is an error (status 1, "write to child ...: Broken pipe").
        assert!(
            matches!(out.status.code(), Some(141 | 0)),
            "{:?}: {stderr}",
            out.status
        );
        assert_eq!(
            stderr, "",
            "a closed stdout must end the run without a word"
        );
        assert_eq!(left, Vec::<PathBuf>::new(), "children left");
    }
}
