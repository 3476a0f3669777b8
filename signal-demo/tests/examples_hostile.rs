//! The signal examples under the conditions a copied program meets: stdout closed
//! (`| head -1`) or full (`> /dev/full`), and started with every signal blocked and SIGCHLD
//! ignored, as a careless parent leaves them. None may panic or become unstoppable.

use std::fs::OpenOptions;
use std::io::{BufRead, BufReader};
use std::os::unix::process::ExitStatusExt;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use testkit::Finished;

fn example(name: &str) -> Command {
    let mut command = Command::new(testkit::example(env!("CARGO_MANIFEST_DIR"), name));
    command.stdin(Stdio::null());
    command
}

/// Each example with arguments that make it print and end (catch_signals is ended by the
/// write that fails, or by the test after its first line).
fn printing_examples() -> Vec<(&'static str, Vec<String>)> {
    let me = std::process::id().to_string();
    vec![
        ("catch_signals", vec![]),
        ("send_signal", vec![me, "0".into()]),
        ("signal_enum", vec![]),
    ]
}

fn run(name: &str, args: &[String], stdout: Stdio) -> Finished {
    let child = example(name)
        .args(args)
        .stdout(stdout)
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("spawn {name}: {e}"));
    Finished::from(testkit::output_within(child, testkit::LIMIT, name))
}

#[test]
fn closed_stdout_ends_each_example_quietly_by_sigpipe() {
    for (name, args) in printing_examples() {
        let (read_end, write_end) = nix::unistd::pipe().expect("pipe");
        drop(read_end); // what `| head -1` leaves once head has exited
        let done = run(name, &args, Stdio::from(write_end));
        assert_eq!(
            done.status.signal(),
            Some(libc::SIGPIPE),
            "{name}: {}\n{}",
            done.status,
            done.stderr
        );
        assert_eq!(
            done.stderr, "",
            "{name} should end quietly, like a C program"
        );
    }
}

#[test]
fn full_stdout_is_an_error_naming_the_write_not_a_panic() {
    for (name, args) in printing_examples() {
        let full = OpenOptions::new().write(true).open("/dev/full");
        let done = run(name, &args, Stdio::from(full.expect("open /dev/full")));
        assert_eq!(
            done.status.code(),
            Some(1),
            "{name}: {}\n{}",
            done.status,
            done.stderr
        );
        assert!(
            done.stderr
                .contains("write stdout: No space left on device"),
            "{name}: {}",
            done.stderr
        );
    }
}

#[test]
fn catch_signals_started_with_every_signal_blocked_still_catches_and_stops() {
    let mut child = testkit::start_carelessly(&mut example("catch_signals"))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn catch_signals");
    let guard = testkit::KillAfter::new(&child, testkit::LIMIT);
    let (tx, lines) = mpsc::channel();
    let stdout = child.stdout.take().expect("stdout piped");
    thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let next = || {
        lines
            .recv_timeout(Duration::from_secs(5))
            .expect("a line from catch_signals within 5 s")
    };
    assert!(next().starts_with("pid "), "the readiness line comes first");
    next(); // the hint
    let pid = Pid::from_raw(i32::try_from(child.id()).expect("pid"));
    kill(pid, Signal::SIGUSR1).expect("kill -USR1");
    assert_eq!(next(), format!("caught SIGUSR1 ({})", libc::SIGUSR1));
    kill(pid, Signal::SIGTERM).expect("kill -TERM");
    let status = testkit::exit_within(&mut child, Duration::from_secs(5), "catch_signals");
    drop(guard);
    assert_eq!(status.code(), Some(0), "{status}");
}
