//! Each helper does what its doc comment says, seen from the child: /proc/self of a `cat`
//! started through it, or the fate of a `sleep` that outlives its limit.
#![allow(clippy::unwrap_used)]

use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::ExitStatusExt;
use std::process::{Command, Stdio};
use std::sync::mpsc::RecvTimeoutError;
use std::time::{Duration, Instant};

/// The value of `field` in `/proc/self/status` as the started `cat` sees it.
fn status_field(command: &mut Command, field: &str) -> String {
    let out = command.arg("/proc/self/status").output().unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    let line = text.lines().find(|l| l.starts_with(field)).unwrap();
    line[field.len()..].trim().to_string()
}

#[test]
fn start_carelessly_ignores_sigchld_and_blocks_every_signal() {
    let mut cat = Command::new("cat");
    testkit::start_carelessly(&mut cat);
    let ignored = u64::from_str_radix(&status_field(&mut cat, "SigIgn:"), 16).unwrap();
    assert_ne!(
        ignored & (1 << (libc::SIGCHLD - 1)),
        0,
        "SIGCHLD not ignored"
    );
    let mut cat = Command::new("cat");
    testkit::start_carelessly(&mut cat);
    let blocked = u64::from_str_radix(&status_field(&mut cat, "SigBlk:"), 16).unwrap();
    for signal in [libc::SIGINT, libc::SIGTERM, libc::SIGHUP, libc::SIGCHLD] {
        assert_ne!(
            blocked & (1 << (signal - 1)),
            0,
            "signal {signal} not blocked"
        );
    }
}

#[test]
fn with_umask_sets_the_childs_umask() {
    for mask in [0o277, 0o377, 0o777] {
        let mut cat = Command::new("cat");
        testkit::with_umask(&mut cat, mask);
        assert_eq!(status_field(&mut cat, "Umask:"), format!("{mask:04o}"));
    }
}

#[test]
fn without_core_dumps_sets_rlimit_core_to_zero() {
    let mut cat = Command::new("cat");
    testkit::without_core_dumps(&mut cat);
    let out = cat.arg("/proc/self/limits").output().unwrap();
    let limits = String::from_utf8(out.stdout).unwrap();
    let core = limits.lines().find(|l| l.starts_with("Max core")).unwrap();
    let fields: Vec<&str> = core.split_whitespace().collect();
    assert_eq!(fields[4..6], ["0", "0"], "{core}");
}

#[test]
fn output_within_kills_a_child_that_outlives_its_limit_and_fails() {
    let sleep = Command::new("sleep").arg("30").spawn().unwrap();
    let started = Instant::now();
    let failed =
        std::panic::catch_unwind(|| testkit::output_within(sleep, Duration::from_millis(300), "x"));
    assert!(failed.is_err(), "a child past its limit must fail the test");
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "it waited for sleep"
    );
}

#[test]
fn wait_within_gives_up_and_exit_within_kills_and_fails() {
    let mut sleep = Command::new("sleep").arg("30").spawn().unwrap();
    assert!(testkit::wait_within(&mut sleep, Duration::from_millis(200)).is_none());
    let failed = std::panic::catch_unwind(move || {
        testkit::exit_within(&mut sleep, Duration::from_millis(200), "sleep")
    });
    assert!(failed.is_err(), "a child past its limit must fail the test");
    let mut quick = Command::new("true").spawn().unwrap();
    let status = testkit::wait_within(&mut quick, Duration::from_secs(10));
    assert!(status.is_some_and(|s| s.success()));
}

#[test]
fn the_80_column_check_counts_characters_and_names_the_line() {
    testkit::assert_fits_80_columns(&"µ".repeat(80), |_| false);
    let wide = format!("ok\n{}", "x".repeat(81));
    let failed = std::panic::catch_unwind(|| testkit::assert_fits_80_columns(&wide, |_| false));
    assert!(failed.is_err(), "81 columns must fail");
    testkit::assert_fits_80_columns(&wide, |line| line.starts_with('x'));
}

#[test]
fn a_nobody_copy_runs_as_65534_and_goes_on_drop() {
    if !nix::unistd::geteuid().is_root() || !testkit::have_setpriv() {
        eprintln!("skipped: running as nobody needs root and setpriv");
        return;
    }
    let copy = testkit::NobodyCopy::of("/usr/bin/id");
    let mode = std::fs::metadata(&copy.dir).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o755);
    let out = copy.command().arg("-u").output().unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "65534");
    let dir = copy.dir.clone();
    drop(copy);
    assert!(!dir.exists(), "{} left behind", dir.display());
}

#[test]
fn a_temp_dir_is_0700_and_goes_on_drop() {
    let dir = testkit::TempDir::new("testkit-selftest");
    let mode = std::fs::metadata(&dir.0).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o700);
    dir.assert_empty();
    std::fs::write(dir.join("f"), "x").unwrap();
    assert!(std::panic::catch_unwind(|| dir.assert_empty()).is_err());
    let path = dir.0.clone();
    drop(dir);
    assert!(!path.exists(), "{} left behind", path.display());
}

/// Another thread forking children while the copy is made must not leave the copy "busy":
/// exec of a file some process still holds open for writing fails with ETXTBSY.
#[test]
fn a_nobody_copy_runs_while_other_threads_spawn_children() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};
    let stop = Arc::new(AtomicBool::new(false));
    let spawner = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                let _ = Command::new("true").status();
            }
        })
    };
    let mut busy = 0;
    for _ in 0..200 {
        let copy = testkit::NobodyCopy::of("/usr/bin/true");
        if let Err(e) = Command::new(&copy.bin).status() {
            assert_eq!(e.raw_os_error(), Some(libc::ETXTBSY), "{e}");
            busy += 1;
        }
    }
    stop.store(true, Ordering::Relaxed);
    spawner.join().unwrap();
    assert_eq!(
        busy, 0,
        "{busy} of 200 runs of a fresh copy failed: text file busy"
    );
}

#[test]
fn run_captures_both_streams_as_text() {
    let out = testkit::run("sh", &["-c", "echo out; echo err >&2; exit 3"]);
    assert_eq!(out.status.code(), Some(3));
    assert_eq!(testkit::stdout(&out), "out\n");
    assert_eq!(testkit::stderr(&out), "err\n");
    assert_eq!(testkit::text(b"a\xffb"), "a\u{fffd}b");
}

#[test]
fn a_seed_without_its_variable_comes_from_the_clock() {
    let first = testkit::seed("TESTKIT_SELFTEST_NO_SUCH_SEED");
    std::thread::sleep(Duration::from_millis(1));
    assert_ne!(first, testkit::seed("TESTKIT_SELFTEST_NO_SUCH_SEED"));
}

#[test]
fn a_group_of_its_own_is_found_and_a_killed_child_is_not_alive() {
    use std::os::unix::process::CommandExt;
    let mut sleep = Command::new("sleep")
        .arg("30")
        .process_group(0)
        .spawn()
        .unwrap();
    let pid = testkit::pid(&sleep).as_raw();
    assert_eq!(testkit::processes_in_group(pid), [pid]);
    assert!(testkit::alive(pid));
    testkit::kill_and_reap(&mut sleep);
    assert!(!testkit::alive(pid));
    assert_eq!(testkit::processes_in_group(pid), Vec::<i32>::new());
    testkit::kill_and_reap(&mut sleep); // a second time is harmless
}

#[test]
fn a_process_is_found_by_its_command_line_and_killed_if_left() {
    let tag = testkit::unique("testkit-selftest-mention");
    // `sh -c SCRIPT NAME`: NAME becomes $0, so it stands in the command line; `read` is built
    // in, so the shell starts no child, and waits on the pipe until it is killed.
    let mut sh = Command::new("sh")
        .args(["-c", "read line", &tag])
        .stdin(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = testkit::pid(&sh).as_raw();
    // spawn returns while exec may still be setting up the command line: poll.
    let end = Instant::now() + Duration::from_secs(10);
    while testkit::processes_mentioning(format!("\0{tag}\0")) != [pid] {
        assert!(
            Instant::now() < end,
            "sh {pid} not found by its command line"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    testkit::assert_none_left(&[], "nothing");
    let left = testkit::processes_mentioning(&tag);
    let failed = std::panic::catch_unwind(|| testkit::assert_none_left(&left, "sh"));
    assert!(failed.is_err(), "a process left must fail the test");
    let status = testkit::exit_within(&mut sh, Duration::from_secs(10), "sh");
    assert_eq!(status.signal(), Some(libc::SIGKILL));
    assert_eq!(testkit::processes_mentioning(&tag), Vec::<i32>::new());
}

#[test]
fn send_delivers_a_signal_to_a_child() {
    let mut sleep = Command::new("sleep").arg("30").spawn().unwrap();
    testkit::send(&sleep, nix::sys::signal::Signal::SIGTERM);
    let status = testkit::exit_within(&mut sleep, Duration::from_secs(10), "sleep");
    assert_eq!(status.signal(), Some(libc::SIGTERM));
}

#[test]
fn names_containing_lists_matching_names_sorted() {
    let dir = testkit::TempDir::new("testkit-selftest-names");
    for name in ["run-7-b", "other", "run-7-a"] {
        std::fs::write(dir.join(name), "").unwrap();
    }
    let names = testkit::names_containing(&dir.0, "run-7-").unwrap();
    assert_eq!(names, ["run-7-a", "run-7-b"]);
    assert!(testkit::names_containing(dir.join("absent"), "x").is_err());
}

#[test]
fn wait_for_line_shows_every_line_and_ends_at_eof_or_the_limit() {
    let mut sh = Command::new("sh")
        .args(["-c", "echo one; echo two; echo three"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let lines = testkit::line_channel(sh.stdout.take().unwrap());
    let mut seen = Vec::new();
    let limit = Duration::from_secs(10);
    let two = testkit::wait_for_line(&lines, limit, |l| l == "two", |l| seen.push(l.to_owned()));
    assert_eq!(two, Ok("two".to_owned()));
    assert_eq!(seen, ["one", "two"]);
    let none = testkit::wait_for_line(&lines, limit, |l| l == "four", |_| {});
    assert_eq!(none, Err(RecvTimeoutError::Disconnected));
    testkit::exit_within(&mut sh, limit, "sh");

    let mut sleep = Command::new("sleep")
        .arg("30")
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let lines = testkit::line_channel(sleep.stdout.take().unwrap());
    let started = Instant::now();
    let none = testkit::wait_for_line(&lines, Duration::from_millis(200), |_| true, |_| {});
    assert_eq!(none, Err(RecvTimeoutError::Timeout));
    assert!(started.elapsed() < Duration::from_secs(10));
    testkit::kill_and_reap(&mut sleep);
}
