//! End to end: the examples in signal-demo/examples, run as the binaries cargo built, each
//! as its own process, the way a reader runs them from two terminals.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc::{Receiver, channel};
use std::time::{Duration, Instant};

use rand::RngExt;

const TIMEOUT: Duration = Duration::from_secs(20);

/// target/debug/examples/NAME, no older than its source.
fn example(name: &str) -> PathBuf {
    testkit::example(env!("CARGO_MANIFEST_DIR"), name)
}

/// Kills and reaps the child if the test ends early, so no process outlives a failure.
struct Reaped(Child);

impl Drop for Reaped {
    fn drop(&mut self) {
        if let Ok(None) = self.0.try_wait() {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}

/// Waits at most TIMEOUT for the child to exit; kills and reaps it and fails otherwise.
fn wait_bounded(child: &mut Child, what: &str) -> std::process::ExitStatus {
    testkit::exit_within(child, TIMEOUT, what)
}

/// Runs an example to completion (bounded) and returns what it printed.
fn run(name: &str, args: &[&str]) -> Output {
    testkit::run_example(env!("CARGO_MANIFEST_DIR"), name, args)
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Waits (bounded) for the next line of `lines` that contains `needle`.
fn expect_line(lines: &Receiver<String>, needle: &str, seen: &mut Vec<String>) -> String {
    let deadline = Instant::now() + TIMEOUT;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match lines.recv_timeout(left) {
            Ok(line) => {
                seen.push(line.clone());
                if line.contains(needle) {
                    return line;
                }
            }
            Err(e) => panic!(
                "no line with {needle:?} ({e}); output so far:\n{}",
                seen.join("\n")
            ),
        }
    }
}

fn send(pid: u32, signal: &str) {
    let out = run("send_signal", &[&pid.to_string(), signal]);
    assert!(
        out.status.success(),
        "send_signal {pid} {signal} failed: {}{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    assert!(
        text(&out.stdout).starts_with("sent SIG"),
        "{}",
        text(&out.stdout)
    );
}

#[test]
fn catch_signals_prints_each_signal_and_sigterm_ends_it_cleanly() {
    let child = Command::new(example("catch_signals"))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("spawn catch_signals");
    let mut child = Reaped(child);
    let stdout = child.0.stdout.take().expect("piped stdout");
    let (tx, lines) = channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let mut seen = Vec::new();

    // The pid line is the readiness handshake: it is printed after the handlers exist.
    let pid_line = expect_line(&lines, "pid ", &mut seen);
    let pid: u32 = pid_line
        .trim_start_matches("pid ")
        .split(':')
        .next()
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no pid in {pid_line:?}"));
    assert_eq!(
        pid,
        child.0.id(),
        "catch_signals printed someone else's pid"
    );
    expect_line(&lines, &format!("kill -USR1 {pid}"), &mut seen);

    // Signal 0 checks that the pid exists and is ours, and delivers nothing.
    let probe = run("send_signal", &[&pid.to_string(), "0"]);
    let probe_out = text(&probe.stdout);
    assert!(
        probe.status.success() && probe_out.contains("exists"),
        "{probe_out}"
    );

    // By name, then by number; wait for each before the next, since two pending
    // SIGUSR1 would merge into one.
    send(pid, "USR1");
    expect_line(
        &lines,
        &format!("caught SIGUSR1 ({})", libc::SIGUSR1),
        &mut seen,
    );
    send(pid, &libc::SIGUSR1.to_string());
    expect_line(&lines, "caught SIGUSR1", &mut seen);
    send(pid, "SIGTERM");
    expect_line(&lines, "caught SIGTERM", &mut seen);

    let status = wait_bounded(&mut child.0, "catch_signals after SIGTERM");
    assert_eq!(status.code(), Some(0), "catch_signals exit: {status}");
}

#[test]
fn signal_enum_prints_this_platforms_numbers() {
    let out = run("signal_enum", &[]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    let expected = [
        ("SIGINT", libc::SIGINT, "yes"),
        ("SIGKILL", libc::SIGKILL, "no"),
        ("SIGTERM", libc::SIGTERM, "yes"),
        ("SIGCHLD", libc::SIGCHLD, "yes"),
        ("SIGSTOP", libc::SIGSTOP, "no"),
        ("SIGUSR1", libc::SIGUSR1, "yes"),
    ];
    let rows: Vec<Vec<&str>> = stdout
        .lines()
        .skip(1)
        .map(|l| l.split_whitespace().collect())
        .collect();
    assert_eq!(rows.len(), expected.len(), "{stdout}");
    for (row, (name, number, catchable)) in rows.iter().zip(expected) {
        assert_eq!(row.first(), Some(&name), "lecture order:\n{stdout}");
        assert_eq!(row.get(1), Some(&number.to_string().as_str()), "{stdout}");
        assert_eq!(row.last(), Some(&catchable), "{stdout}");
    }
}

/// The pid of a child we spawned and reaped: it names no process now, so a faulty
/// send_signal cannot hit anything with it.
fn dead_pid() -> String {
    let mut gone = Command::new(example("signal_enum"))
        .stdout(Stdio::null())
        .spawn()
        .expect("spawn signal_enum");
    gone.wait().expect("wait signal_enum");
    gone.id().to_string()
}

#[test]
fn send_signal_to_a_dead_pid_fails_with_one_line() {
    let out = run("send_signal", &[&dead_pid(), "USR1"]);
    assert!(!out.status.success(), "kill of a dead pid succeeded");
    assert!(out.stdout.is_empty(), "{}", text(&out.stdout));
    let err = text(&out.stderr);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("no such process"), "{err}");
}

#[test]
fn send_signal_rejects_an_unknown_name_with_one_line() {
    let out = run("send_signal", &[&dead_pid(), "NOPE"]);
    assert!(!out.status.success());
    let err = text(&out.stderr);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("unknown signal name 'NOPE'"), "{err}");
}

// Fed by the test: signals chosen per run, sent to a process the test owns, so an example
// that reports a fixed signal, or sends none, fails.

#[test]
fn send_signal_delivers_the_chosen_signal_to_a_process_of_the_tests() {
    use std::os::unix::process::ExitStatusExt;
    let mut rng = rand::rng();
    // Signals whose default action ends a process (and that a shell leaves at default).
    let choices = [libc::SIGUSR1, libc::SIGUSR2, libc::SIGTERM, libc::SIGALRM];
    // Two different ones, each to its own target: a sender with a fixed signal fails.
    let first = rng.random_range(0..choices.len());
    let second = (first + rng.random_range(1..choices.len())) % choices.len();
    for number in [choices[first], choices[second]] {
        let name = nix::sys::signal::Signal::try_from(number)
            .expect("signal")
            .as_str();
        let spelled = match rng.random_range(0..3) {
            0 => name.to_string(),
            1 => name.trim_start_matches("SIG").to_ascii_lowercase(),
            _ => number.to_string(),
        };
        let target = Command::new("sleep")
            .arg("60")
            .stdin(Stdio::null())
            .spawn()
            .expect("spawn sleep");
        let mut target = Reaped(target);
        let pid = target.0.id();

        let probe = run("send_signal", &[&pid.to_string(), "0"]);
        assert!(probe.status.success(), "{}", text(&probe.stderr));
        assert!(testkit::alive(pid as i32), "signal 0 ended the target");
        let out = run("send_signal", &[&pid.to_string(), &spelled]);
        assert!(out.status.success(), "{}", text(&out.stderr));
        assert_eq!(
            text(&out.stdout),
            format!("sent {name} ({number}) to pid {pid}\n")
        );
        let status = wait_bounded(&mut target.0, "sleep after send_signal");
        assert_eq!(status.signal(), Some(number), "sent {spelled}: {status}");
    }
}

#[test]
fn catch_signals_reports_each_signal_the_test_sends() {
    use nix::sys::signal::{Signal, kill};
    let mut rng = rand::rng();
    let child = Command::new(example("catch_signals"))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("spawn catch_signals");
    let mut child = Reaped(child);
    let lines = testkit::line_channel(child.0.stdout.take().expect("piped stdout"));
    let mut seen = Vec::new();
    expect_line(&lines, "kill -USR1", &mut seen);
    let pid = testkit::pid(&child.0);

    // One at a time (two pending of a kind merge), each line waited for before the next.
    let caught = [Signal::SIGUSR1, Signal::SIGUSR2, Signal::SIGHUP];
    let mut sent: Vec<Signal> = (0..rng.random_range(1..=6))
        .map(|_| caught[rng.random_range(0..caught.len())])
        .collect();
    sent.push(if rng.random() {
        Signal::SIGINT
    } else {
        Signal::SIGTERM
    });
    for (i, &signal) in sent.iter().enumerate() {
        kill(pid, signal).expect("kill");
        let ending = if i + 1 == sent.len() {
            ", shutting down..."
        } else {
            ""
        };
        let want = format!("caught {} ({}){ending}", signal.as_str(), signal as i32);
        let line = expect_line(&lines, "caught", &mut seen);
        assert_eq!(line, want, "sent {sent:?}");
    }
    let status = wait_bounded(&mut child.0, "catch_signals after its last signal");
    assert_eq!(status.code(), Some(0), "catch_signals exit: {status}");
}
