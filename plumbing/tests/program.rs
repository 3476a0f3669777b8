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

/// Runs the probe in `mode` in a process group of its own, stdout and stderr piped, and waits
/// for its "ready" line.
fn ready(mode: &str) -> (Child, BufReader<std::process::ChildStdout>) {
    use std::os::unix::process::CommandExt;
    let mut child = Command::new(PROBE)
        .arg(mode)
        .process_group(0)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn probe");
    let mut stdout = BufReader::new(child.stdout.take().expect("stdout"));
    let mut line = String::new();
    stdout.read_line(&mut line).expect("read ready");
    assert_eq!(line, "ready\n", "{mode}");
    (child, stdout)
}

/// The children of `pid`, from /proc.
fn children_of(pid: u32) -> Vec<i32> {
    std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children"))
        .unwrap_or_default()
        .split_whitespace()
        .filter_map(|p| p.parse().ok())
        .collect()
}

#[test]
fn a_stop_whose_last_error_is_a_child_s_death_still_exits_128_plus_the_signal() {
    // Without a stop, the child's death is an error of its own: status 1, said in one line.
    let (child, _stdout) = ready("stop-mid-read");
    let [grandchild] = children_of(child.id())[..] else {
        panic!("expected one child of the probe");
    };
    // SAFETY: kill(2) on the probe's child, which the probe has not reaped: it waits on it.
    assert_eq!(unsafe { libc::kill(grandchild, libc::SIGKILL) }, 0);
    let out = finish(child);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        format!("plumbing-probe: child {grandchild} closed its pipe after 0 bytes: it died\n")
    );

    // With a stop, the handler kills the child, and that death is the error that unwinds; the
    // stop decides the status and the line. To the probe alone, or to its whole process group
    // as Ctrl-C in a terminal does (the child then ends on its own flag).
    for (signal, name, group) in [
        (libc::SIGINT, "SIGINT", false),
        (libc::SIGINT, "SIGINT", true),
        (libc::SIGTERM, "SIGTERM", false),
        (libc::SIGHUP, "SIGHUP", true),
        (libc::SIGQUIT, "SIGQUIT", false),
    ] {
        let (child, _stdout) = ready("stop-mid-read");
        let pid = child.id() as i32;
        let target = if group { -pid } else { pid };
        // SAFETY: kill(2) on our own child (or its process group), which has not been reaped.
        assert_eq!(unsafe { libc::kill(target, signal) }, 0);
        let out = finish(child);
        assert_eq!(
            out.status.code(),
            Some(128 + signal),
            "{name}, group {group}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        // It owns no names: the line says only that it stopped.
        assert_eq!(
            String::from_utf8_lossy(&out.stderr),
            format!("plumbing-probe: stopped by {name}\n"),
            "group {group}"
        );
    }
}

#[test]
fn a_panic_is_a_bug_status_101_with_rust_s_report_and_a_child_s_is_told_by_the_parent() {
    let spawn = |mode: &str| {
        Command::new(PROBE)
            .arg(mode)
            .env("RUST_BACKTRACE", "0")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn probe")
    };
    let out = finish(spawn("panic"));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(101), "{err}");
    assert!(
        err.contains("panicked at") && err.contains("a bug in the probe"),
        "{err}"
    );

    // A child's panic is status 101 too, which its parent reports in its own one line.
    let out = finish(spawn("child-panic"));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("a bug in the probe's child"), "{err}");
    let last = err.lines().last().unwrap_or("");
    assert!(
        last.starts_with("plumbing-probe: child ") && last.ends_with(" exited with status 101"),
        "{err}"
    );
}
