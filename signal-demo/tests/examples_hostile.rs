//! The signal examples under the conditions a copied program meets: stdout closed
//! (`| head -1`) or full (`> /dev/full`), and started with every signal blocked and SIGCHLD
//! ignored, as a careless parent leaves them. None may panic or become unstoppable.

use std::process::{Command, Stdio};
use std::time::Duration;

use nix::sys::signal::Signal;
use testkit::Finished;
use testkit::hostile::{
    assert_full_stdout_error, assert_quiet_sigpipe, closed_pipe, dev_full, run_to_end,
};

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
    let (out, _) = run_to_end(
        example(name).args(args).stdout(stdout),
        testkit::LIMIT,
        name,
    );
    Finished::from(out)
}

#[test]
fn closed_stdout_ends_each_example_quietly_by_sigpipe() {
    for (name, args) in printing_examples() {
        let done = run(name, &args, closed_pipe());
        assert_quiet_sigpipe(name, done.status, &done.stderr);
    }
}

#[test]
fn full_stdout_is_an_error_naming_the_write_not_a_panic() {
    for (name, args) in printing_examples() {
        let done = run(name, &args, dev_full());
        assert_full_stdout_error(name, done.status, &done.stderr);
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
    let lines = testkit::line_channel(child.stdout.take().expect("stdout piped"));
    let next = || {
        lines
            .recv_timeout(Duration::from_secs(5))
            .expect("a line from catch_signals within 5 s")
    };
    assert!(next().starts_with("pid "), "the readiness line comes first");
    next(); // the hint
    testkit::send(&child, Signal::SIGUSR1);
    assert_eq!(next(), format!("caught SIGUSR1 ({})", libc::SIGUSR1));
    testkit::send(&child, Signal::SIGTERM);
    let status = testkit::exit_within(&mut child, Duration::from_secs(5), "catch_signals");
    drop(guard);
    assert_eq!(status.code(), Some(0), "{status}");
}
