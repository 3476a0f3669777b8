//! The hostile conditions, seen from the child: what a write to the closed or full stdout
//! meets, the limits a bounded child runs under, and what each check accepts and refuses.
#![allow(clippy::unwrap_used)]

use std::os::unix::process::ExitStatusExt;
use std::process::{Command, ExitStatus, Output, Stdio};
use std::time::Duration;

use nix::sys::resource::Resource;
use testkit::hostile::{
    ENDINGS, Stdout, assert_ended_cleanly, assert_ends_cleanly, assert_full_stdout_error,
    assert_no_panic, assert_quiet_sigpipe, bounded, closed_pipe, dev_full, limited,
    ready_for_ending, run_to_end,
};

const LIMIT: Duration = Duration::from_secs(20);

/// `sh -c SCRIPT` with `stdout`, run to the end.
fn sh(script: &str, stdout: Stdio) -> (Output, String) {
    run_to_end(
        Command::new("sh").args(["-c", script]).stdout(stdout),
        LIMIT,
        "sh",
    )
}

#[test]
fn a_write_to_the_closed_pipe_is_killed_by_sigpipe() {
    // `sh -c` restores nothing: the test harness leaves SIGPIPE at its default for children.
    let (out, stderr) = sh("echo hello", closed_pipe());
    assert_eq!(out.status.signal(), Some(libc::SIGPIPE), "{stderr}");
    let (out, _) = sh("echo hello", Stdout::Closed.stdio());
    assert_eq!(out.status.signal(), Some(libc::SIGPIPE));
}

#[test]
fn a_write_to_dev_full_fails_with_enospc() {
    let (out, stderr) = sh("exec /bin/echo hello", dev_full());
    assert!(!out.status.success());
    assert!(stderr.contains("No space left on device"), "{stderr}");
    let (out, _) = sh("echo hello", Stdout::Full.stdio());
    assert!(!out.status.success());
}

#[test]
fn the_piped_stdout_is_read_by_the_test() {
    let (out, stderr) = sh("echo hello; echo said >&2", Stdout::Piped.stdio());
    assert!(out.status.success());
    assert_eq!(out.stdout, b"hello\n");
    assert_eq!(stderr, "said\n");
}

#[test]
fn run_to_end_gives_the_child_an_empty_stdin() {
    let (out, _) = sh("cat; echo end", Stdio::piped());
    assert_eq!(out.stdout, b"end\n");
}

/// The soft limit of `what` as the child sees it (`ulimit`).
fn ulimit(command: &mut Command, flag: &str) -> String {
    let out = command
        .args(["-c", &format!("ulimit {flag}")])
        .output()
        .unwrap();
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

#[test]
fn bounded_caps_address_space_and_cpu_in_the_child() {
    let mut limits = Command::new("sh");
    bounded(&mut limits, 256 << 20, 7);
    assert_eq!(ulimit(&mut limits, "-v"), (256 << 10).to_string()); // in KiB
    let mut limits = Command::new("sh");
    bounded(&mut limits, 256 << 20, 7);
    assert_eq!(ulimit(&mut limits, "-t"), "7");
}

#[test]
fn limited_sets_each_limit_of_its_list() {
    let mut limits = Command::new("sh");
    limited(&mut limits, vec![(Resource::RLIMIT_NOFILE, 16)]);
    assert_eq!(ulimit(&mut limits, "-n"), "16");
}

#[test]
fn a_limit_that_cannot_be_set_fails_the_spawn() {
    // Above the hard limit this process has: only root may raise it, and not past nr_open.
    let mut sh = Command::new("sh");
    limited(&mut sh, vec![(Resource::RLIMIT_NOFILE, u64::MAX - 1)]);
    assert!(sh.arg("-c").arg("true").status().is_err());
}

fn exited(code: i32) -> ExitStatus {
    ExitStatus::from_raw(code << 8)
}

fn killed(signal: i32) -> ExitStatus {
    ExitStatus::from_raw(signal)
}

fn output(status: ExitStatus) -> Output {
    Output {
        status,
        stdout: Vec::new(),
        stderr: Vec::new(),
    }
}

#[test]
fn ended_cleanly_is_a_quiet_sigpipe_or_status_1_with_a_word() {
    assert_ended_cleanly("x", &output(killed(libc::SIGPIPE)), "");
    assert_ended_cleanly("x", &output(exited(1)), "write stdout: EPIPE");
}

#[test]
#[should_panic(expected = "exit 1 without a word")]
fn ended_cleanly_refuses_a_silent_status_1() {
    assert_ended_cleanly("x", &output(exited(1)), "");
}

#[test]
#[should_panic(expected = "SIGPIPE, yet said")]
fn ended_cleanly_refuses_a_sigpipe_with_words() {
    assert_ended_cleanly("x", &output(killed(libc::SIGPIPE)), "oops");
}

#[test]
#[should_panic]
fn ended_cleanly_refuses_success() {
    assert_ended_cleanly("x", &output(exited(0)), "");
}

#[test]
#[should_panic]
fn ended_cleanly_refuses_an_abort() {
    assert_ended_cleanly("x", &output(killed(libc::SIGABRT)), "");
}

#[test]
#[should_panic(expected = "x: ")]
fn ended_cleanly_refuses_a_panic() {
    assert_ended_cleanly("x", &output(exited(1)), "thread 'main' panicked at");
}

#[test]
fn no_panic_accepts_any_other_ending() {
    assert_no_panic("x", exited(1), "error");
    assert_no_panic("x", killed(libc::SIGPIPE), "");
    assert_no_panic("x", exited(0), "");
}

#[test]
#[should_panic(expected = "x panicked")]
fn no_panic_refuses_status_101() {
    assert_no_panic("x", exited(101), "");
}

#[test]
#[should_panic(expected = "x panicked")]
fn no_panic_refuses_panicked_on_stderr() {
    assert_no_panic("x", exited(1), "thread 'main' panicked at");
}

#[test]
fn quiet_sigpipe_and_full_stdout_accept_what_they_name() {
    assert_quiet_sigpipe("x", killed(libc::SIGPIPE), "");
    assert_full_stdout_error("x", exited(1), "write stdout: No space left on device");
}

#[test]
#[should_panic(expected = "should end quietly")]
fn quiet_sigpipe_refuses_words() {
    assert_quiet_sigpipe("x", killed(libc::SIGPIPE), "broken pipe");
}

#[test]
#[should_panic]
fn quiet_sigpipe_refuses_status_1() {
    assert_quiet_sigpipe("x", exited(1), "");
}

#[test]
#[should_panic]
fn full_stdout_error_refuses_another_error() {
    assert_full_stdout_error("x", exited(1), "write stdout: Broken pipe");
}

#[test]
#[should_panic]
fn full_stdout_error_refuses_sigpipe() {
    assert_full_stdout_error(
        "x",
        killed(libc::SIGPIPE),
        "write stdout: No space left on device",
    );
}

#[test]
fn assert_ends_cleanly_runs_with_the_stdout_it_is_given() {
    let mut sh = Command::new("sh");
    sh.args(["-c", "echo hello"]);
    let (out, stderr) = assert_ends_cleanly(&mut sh, Stdout::Closed, "echo");
    assert_eq!(out.status.signal(), Some(libc::SIGPIPE));
    assert_eq!(stderr, "");
    let mut sh = Command::new("sh");
    sh.args(["-c", "exec /bin/echo hello"]);
    let (_, stderr) = assert_ends_cleanly(&mut sh, Stdout::Full, "echo");
    assert!(stderr.contains("No space left on device"), "{stderr}");
}

#[test]
#[should_panic(expected = "echo: ")]
fn assert_ends_cleanly_fails_on_a_success() {
    let mut sh = Command::new("sh");
    sh.args(["-c", "echo hello"]);
    assert_ends_cleanly(&mut sh, Stdout::Piped, "echo");
}

#[test]
fn ready_for_ending_drops_core_dumps_and_blocks_signals_only_if_asked() {
    let blocked_mask = |blocked: bool| {
        let mut cat = Command::new("cat");
        ready_for_ending(&mut cat, blocked);
        let out = cat.arg("/proc/self/status").output().unwrap();
        let text = String::from_utf8(out.stdout).unwrap();
        let line = text.lines().find(|l| l.starts_with("SigBlk:")).unwrap();
        u64::from_str_radix(line["SigBlk:".len()..].trim(), 16).unwrap()
    };
    assert_eq!(blocked_mask(false), 0);
    assert_ne!(blocked_mask(true) & (1 << (libc::SIGTERM - 1)), 0);
    let mut sh = Command::new("sh");
    ready_for_ending(&mut sh, false);
    assert_eq!(ulimit(&mut sh, "-c"), "0");
}

#[test]
fn the_endings_are_hup_quit_and_a_blocked_term() {
    let signals: Vec<(i32, bool)> = ENDINGS.iter().map(|&(s, b)| (s as i32, b)).collect();
    assert_eq!(
        signals,
        [
            (libc::SIGHUP, false),
            (libc::SIGQUIT, false),
            (libc::SIGTERM, true)
        ]
    );
}
