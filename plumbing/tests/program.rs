//! What every tour's `main` promises, checked through a real process (`plumbing-probe`).

use std::io::{BufRead, BufReader, Read};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

const PROBE: &str = env!("CARGO_BIN_EXE_plumbing-probe");

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

/// Runs the probe with `args`, reads one line of its stdout, then closes the pipe, as `| head -1`.
fn head_one(args: &[&str]) -> Output {
    let mut child = Command::new(PROBE)
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn probe");
    let mut first = String::new();
    BufReader::new(child.stdout.take().expect("stdout"))
        .read_line(&mut first)
        .expect("read a line");
    assert!(first.contains("line 0"), "{first:?}");
    finish(child)
}

#[test]
fn a_closed_stdout_ends_quietly_with_141() {
    for args in [&["print", "1000000"][..], &["child-print", "1000000"][..]] {
        let out = head_one(args);
        assert_eq!(out.status.code(), Some(141), "{args:?}");
        assert_eq!(String::from_utf8_lossy(&out.stderr), "", "{args:?}");
    }
}

#[test]
fn a_full_stdout_is_one_line_and_status_1() {
    let full = std::fs::OpenOptions::new()
        .write(true)
        .open("/dev/full")
        .expect("/dev/full");
    let out = Command::new(PROBE)
        .args(["print", "100000"])
        .stdout(full)
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.starts_with("plumbing-probe: cannot write to stdout: No space left"),
        "{err}"
    );
}

#[test]
fn usage_errors_and_errors_are_one_line() {
    let out = Command::new(PROBE)
        .args(["print", "ten"])
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.starts_with("plumbing-probe: invalid value 'ten'") && err.ends_with("; see --help\n"),
        "{err}"
    );

    let out = Command::new(PROBE).arg("fail").output().expect("run");
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "plumbing-probe: open /nowhere: No such file or directory\n"
    );

    let out = Command::new(PROBE).arg("--help").output().expect("run");
    assert_eq!(out.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&out.stdout).contains("Usage:"));
}

#[test]
fn every_terminal_signal_stops_a_run_cleanly() {
    for (signal, name) in [
        (libc::SIGHUP, "SIGHUP"),
        (libc::SIGINT, "SIGINT"),
        (libc::SIGQUIT, "SIGQUIT"),
        (libc::SIGTERM, "SIGTERM"),
    ] {
        let mut child = Command::new(PROBE)
            .arg("wait")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn probe");
        let mut ready = String::new();
        let mut stdout = BufReader::new(child.stdout.take().expect("stdout"));
        stdout.read_line(&mut ready).expect("read ready");
        assert_eq!(ready, "ready\n");
        // SAFETY: kill(2) on our own child, which has not been reaped.
        assert_eq!(unsafe { libc::kill(child.id() as i32, signal) }, 0);
        let out = finish(child);
        assert_eq!(out.status.code(), Some(128 + signal), "{name}");
        let mut rest = String::new();
        stdout.read_to_string(&mut rest).expect("read rest");
        assert_eq!(
            String::from_utf8_lossy(&out.stderr),
            format!("plumbing-probe: stopped by {name}; removed everything this run created\n")
        );
    }
}

/// The probe started as a daemon or a careless shell would start it: SIGCHLD ignored and
/// SIGTERM blocked, both of which survive exec.
fn started_carelessly(args: &[&str]) -> Child {
    use std::os::unix::process::CommandExt;
    let mut command = Command::new(PROBE);
    command
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    // SAFETY: between fork and exec only async-signal-safe calls (signal, sigprocmask).
    unsafe {
        command.pre_exec(|| {
            libc::signal(libc::SIGCHLD, libc::SIG_IGN);
            let mut set: libc::sigset_t = std::mem::zeroed();
            libc::sigemptyset(&mut set);
            libc::sigaddset(&mut set, libc::SIGTERM);
            libc::sigprocmask(libc::SIG_BLOCK, &set, std::ptr::null_mut());
            Ok(())
        })
    };
    command.spawn().expect("spawn probe")
}

#[test]
fn inherited_ignored_sigchld_and_blocked_signals_are_reset() {
    // With SIGCHLD ignored, waitpid would fail with ECHILD.
    let out = finish(started_carelessly(&["child-print", "2"]));
    assert_eq!(String::from_utf8_lossy(&out.stderr), "");
    assert!(out.status.success());

    // With SIGTERM blocked, it would never arrive and the probe would wait its 10 s.
    let mut child = started_carelessly(&["wait"]);
    let mut ready = String::new();
    BufReader::new(child.stdout.take().expect("stdout"))
        .read_line(&mut ready)
        .expect("read");
    assert_eq!(ready, "ready\n");
    // SAFETY: kill(2) on our own child, which has not been reaped.
    assert_eq!(unsafe { libc::kill(child.id() as i32, libc::SIGTERM) }, 0);
    let out = finish(child);
    assert_eq!(out.status.code(), Some(128 + libc::SIGTERM));
}
