//! The tour, run as a user runs it, checked against what it printed.
#![allow(clippy::unwrap_used)]

mod common;

use std::io::{BufRead, BufReader};
use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::process::Stdio;
use std::thread;
use std::time::Duration;

use common::*;
use nix::sys::signal::Signal;
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use testkit::{send, text};

#[test]
fn tour_prints_what_it_observed() {
    let dir = TestDir::new("tour");
    let out = run(&mut tour(&dir.0));
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert!(out.status.success(), "{stdout}\n{stderr}");
    assert!(stderr.is_empty(), "{stderr}");
    let pipe_buf = numbers_after(&stdout, "PIPE_BUF (pathconf): ")[0];

    // 1. What stat saw of the FIFO and its private directory.
    assert!(stdout.contains(
        "   stat: type fifo, mode 0600, size 0 bytes\n   its directory: type directory, mode 0700"
    ));
    // 2. The reader's open() waited for the writer, started 300 ms later (most of that
    // wait, never an upper bound); the writer's open found the reader there.
    let reader_open = numbers_after(&stdout, "open returned after ");
    let writer_open = numbers_after(&stdout, "open waited ");
    assert!(
        reader_open[0] >= 250.0 && reader_open[0] > writer_open[0],
        "{reader_open:?} {writer_open:?}"
    );
    // Every reader saw data waiting in the kernel while the file's size was 0.
    let sizes = numbers_after(&stdout, "fstat says type fifo, size ");
    let waiting = numbers_after(&stdout, "FIONREAD: ");
    assert_eq!(sizes, vec![0.0; 5]);
    assert!(
        waiting.len() == 5 && waiting.iter().all(|&n| n > 0.0),
        "{waiting:?}"
    );

    let whole = numbers_after(&stdout, ": whole ");
    let torn = numbers_after(&stdout, ", torn ");
    let inside = numbers_after(&stdout, "; inside lines: ");
    let eof_bytes = numbers_after(&stdout, "EOF after ");
    // 3. 3 x 50 lines of PIPE_BUF bytes: all whole, 50 from each writer, none interleaved.
    assert_eq!((whole[1], torn[1], inside[1]), (150.0, 0.0, 0.0));
    for writer in ["'sensor A' ", "'sensor B' ", "'sensor C' "] {
        assert_eq!(numbers_after(&stdout, writer)[0], 50.0, "{writer}");
    }
    assert_eq!(eof_bytes[1], 150.0 * pipe_buf);
    assert_eq!(
        numbers_after(&stdout, "went through: type fifo, mode 0600, size "),
        [0.0]
    );
    // 4. 2 x 2 lines of 25 x PIPE_BUF bytes: every byte arrives, and some lines are torn.
    assert_eq!(eof_bytes[2], 100.0 * pipe_buf);
    assert_eq!(whole[2] + torn[2], 4.0, "no newline lost or added");
    // The summary agrees with the lines the reader printed (it shows all 4 in this step).
    let step4 = section(&stdout, "4. ", "5. ");
    let printed_torn = step4.matches("got TORN line").count();
    assert_eq!(printed_torn as f64, torn[2], "{step4}");
    // Whether they interleave depends on scheduling: now and then one writer, refilling the
    // pipe from the other core, finishes before the other gets a turn. So when the tour saw
    // none, "they can interleave" is checked over up to 3 more runs of the same experiment.
    let interleaved = (torn[2] >= 1.0 && inside[2] >= 1.0)
        || (0..3).any(|_| big_writes_interleavings(&dir, 25 * pipe_buf as usize) >= 1.0);
    assert!(interleaved, "no interleaving seen in 4 runs:\n{stdout}");
    // 5. EOF came when the last writer left, not the first.
    let a = numbers_after(&stdout, "'sensor A' +")[0];
    let b = numbers_after(&stdout, "'sensor B' +")[0];
    let reader = numbers_after(&stdout, "the reader (after EOF) +")[0];
    // (Which writer leaves first is up to the scheduler on a loaded machine; EOF must wait
    // for the later one either way. The exits are seen by polling, a few ms apart at worst
    // when two processes end together, hence the small allowance.)
    assert!(reader + 20.0 >= a.max(b), "A {a} B {b} reader {reader}");
    assert!(
        reader >= a.min(b) + 100.0,
        "EOF at the first writer's exit: A {a} B {b} reader {reader}"
    );
    // 6. The maker exited; its FIFO stayed and two new processes met through it.
    let step6 = section(&stdout, "6. ", "7. ");
    assert!(step6.contains("exited with status 0; its FIFO"), "{step6}");
    assert!(
        step6.contains("   stat: type fifo, mode 0600, size 0 bytes"),
        "{step6}"
    );
    assert!(
        step6.contains(r#"got "temperature: 42 #1" (19 bytes, whole)"#),
        "{step6}"
    );
    assert!(
        step6.contains("rm handoff; stat now says: No such file or directory"),
        "{step6}"
    );
    // 7. Removed.
    assert!(stdout.contains("stat of the FIFO now says: No such file or directory"));
    dir.assert_empty();
}

/// The lines of `out` from the one starting with `from` up to the one starting with `to`.
fn section<'a>(out: &'a str, from: &str, to: &str) -> &'a str {
    let start = out
        .find(&format!("\n{from}"))
        .unwrap_or_else(|| panic!("{from:?} in:\n{out}"));
    let end = out[start..]
        .find(&format!("\n{to}"))
        .map_or(out.len(), |n| start + n);
    &out[start..end]
}

/// Step 4's experiment by hand: two writers of 2 lines of `bytes` bytes (fill A and B) wait in
/// open() for a reader that waits 100 ms before reading; the interleavings it counted.
fn big_writes_interleavings(dir: &TestDir, bytes: usize) -> f64 {
    let fifo = dir.0.join("big_pipe");
    mkfifo(&fifo);
    let (path, bytes) = (fifo.to_str().unwrap(), bytes.to_string());
    let writers: Vec<_> = ["A", "B"]
        .iter()
        .map(|fill| {
            let msg = format!("big {fill}");
            let args = [
                "write", path, &msg, "--count", "2", "--bytes", &bytes, "--fill", fill,
            ];
            let mut cmd = std::process::Command::new(BIN);
            cmd.args(args).stdout(Stdio::null());
            cmd.spawn().unwrap()
        })
        .collect();
    let mut reader = std::process::Command::new(BIN);
    reader.args(["read", path, "--delay-ms", "100", "--show", "0"]);
    let out = run(&mut reader);
    for mut writer in writers {
        assert!(writer.wait().unwrap().success());
    }
    std::fs::remove_file(&fifo).unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    numbers_after(&text(&out.stdout), "; inside lines: ")[0]
}

#[test]
fn fifo_is_0600_in_a_0700_directory() {
    let dir = TestDir::new("modes");
    let mut child = tour(&dir.0).stdout(Stdio::null()).spawn().unwrap();
    let fifo = loop {
        let made = dir
            .entries()
            .first()
            .map(|d| d.join("sensor_pipe"))
            .filter(|f| f.exists());
        if let Some(fifo) = made {
            break fifo;
        }
        assert!(
            child.try_wait().unwrap().is_none(),
            "tour ended before its FIFO was seen"
        );
        thread::sleep(Duration::from_millis(2));
    };
    let fifo_meta = std::fs::metadata(&fifo).unwrap();
    let dir_meta = std::fs::metadata(fifo.parent().unwrap()).unwrap();
    assert!(fifo_meta.file_type().is_fifo());
    assert_eq!(fifo_meta.permissions().mode() & 0o777, 0o600);
    assert_eq!(dir_meta.permissions().mode() & 0o777, 0o700);
    assert!(testkit::exit_within(&mut child, Duration::from_secs(15), "the tour").success());
    dir.assert_empty();
}

#[test]
fn two_tours_at_once_both_succeed() {
    let dir = TestDir::new("twice");
    let first = tour(&dir.0)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let second = tour(&dir.0)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    for child in [first, second] {
        let out = output_within(child, Duration::from_secs(60), "a tour");
        assert!(out.status.success(), "{}", text(&out.stderr));
        assert!(text(&out.stdout).contains("7. Removing the FIFO"));
        assert!(
            !text(&out.stdout).contains("left by a killed run"),
            "removed the other's dir"
        );
    }
    dir.assert_empty();
}

#[test]
fn stop_signals_at_random_points_leave_nothing() {
    let mut rng = StdRng::seed_from_u64(testkit::seed("FIFO_DEMO_SEED"));
    // Ctrl-C, kill, the terminal closing, Ctrl-\\.
    for (i, signal) in [
        Signal::SIGINT,
        Signal::SIGTERM,
        Signal::SIGHUP,
        Signal::SIGQUIT,
        Signal::SIGINT,
        Signal::SIGTERM,
    ]
    .into_iter()
    .enumerate()
    {
        let dir = TestDir::new("interrupt");
        let delay = rng.random_range(0..1200);
        println!("run {i}: {signal} after {delay} ms");
        let mut child = tour(&dir.0)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        thread::sleep(Duration::from_millis(delay));
        send(&child, signal);
        let status = testkit::exit_within(&mut child, Duration::from_secs(3), "the tour");
        let stderr = text(&child.wait_with_output().unwrap().stderr);
        assert!(!stderr.contains("panicked"), "{stderr}");
        // 128 + signal and one line, or 0 and nothing when the tour had already finished.
        let expected = 128 + signal as i32;
        if status.code() == Some(expected) {
            // The tour's last line. Before it, a writer may have reported the broken pipe it
            // met when the stopping tour killed its reader a moment before killing it.
            let line =
                format!("fifo-demo: stopped by {signal}; removed everything this run created");
            assert_eq!(stderr.lines().last(), Some(line.as_str()), "{stderr}");
            assert!(
                stderr.lines().all(|l| l.starts_with("fifo-demo: ")),
                "{stderr}"
            );
        } else {
            assert_eq!(status.code(), Some(0), "{status}: {stderr}");
            assert_eq!(stderr, "");
        }
        assert_no_process_mentions(&dir.0, Duration::from_secs(2));
        dir.assert_empty();
    }
}

#[test]
fn children_die_with_a_killed_tour_and_the_next_tour_cleans_up() {
    let dir = TestDir::new("sigkill");
    let mut child = tour(&dir.0).stdout(Stdio::piped()).spawn().unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut lines = BufReader::new(stdout).lines();
    lines
        .find(|line| line.as_ref().unwrap().starts_with("3. Three writers"))
        .unwrap()
        .unwrap();
    thread::sleep(Duration::from_millis(100)); // the writers are waiting in open()
    assert!(
        !testkit::processes_mentioning(&dir.0).is_empty(),
        "no children to orphan"
    );
    send(&child, Signal::SIGKILL);
    child.wait().unwrap();
    // PR_SET_PDEATHSIG: the kernel kills the children when the tour dies.
    assert_no_process_mentions(&dir.0, Duration::from_secs(2));
    let stale = dir.entries();
    assert_eq!(
        stale.len(),
        1,
        "SIGKILL leaves the private directory: {stale:?}"
    );

    let out = run(&mut tour(&dir.0));
    assert!(out.status.success(), "{}", text(&out.stderr));
    let removed = format!("removed {} left by a killed run", stale[0].display());
    assert!(
        text(&out.stdout).contains(&removed),
        "{}",
        text(&out.stdout)
    );
    dir.assert_empty();
}

#[test]
fn tour_runs_as_an_unprivileged_user() {
    if !nix::unistd::geteuid().is_root() {
        println!("already unprivileged: the other tests cover it");
        return;
    }
    if !testkit::have_setpriv() {
        println!("skipped: setpriv is not installed");
        return;
    }
    let dir = TestDir::new("nobody");
    std::fs::set_permissions(&dir.0, std::fs::Permissions::from_mode(0o777)).unwrap();
    let copy = testkit::NobodyCopy::of(BIN);
    let mut cmd = copy.command();
    cmd.env("TMPDIR", &dir.0);
    let out = run(&mut cmd);
    assert!(
        out.status.success(),
        "{}{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    assert!(text(&out.stdout).contains("7. Removing the FIFO"));
    dir.assert_empty();
}

#[test]
fn a_child_killed_by_sigkill_ends_the_tour_within_2s() {
    let dir = TestDir::new("child-killed");
    let mut child = tour(&dir.0)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut lines = BufReader::new(stdout).lines();
    lines
        .find(|line| line.as_ref().unwrap().starts_with("3. Three writers"))
        .unwrap()
        .unwrap();
    thread::sleep(Duration::from_millis(100)); // the writers are waiting in open()
    let victim = testkit::processes_mentioning(&dir.0)[0];
    let pid = nix::unistd::Pid::from_raw(victim);
    nix::sys::signal::kill(pid, Signal::SIGKILL).unwrap();
    let status = testkit::exit_within(&mut child, Duration::from_secs(2), "the tour");
    let stderr = text(&child.wait_with_output().unwrap().stderr);
    assert_eq!(status.code(), Some(1), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.contains(&format!("(pid {victim}) failed: was killed by SIGKILL")),
        "{stderr}"
    );
    assert_no_process_mentions(&dir.0, Duration::from_secs(2));
    dir.assert_empty();
}

#[test]
fn unusable_tmpdir_is_one_line() {
    let dir = TestDir::new("bad-tmpdir");
    let file = dir.0.join("file");
    std::fs::write(&file, "").unwrap();
    for tmpdir in [dir.0.join("missing"), file] {
        let out = run(&mut tour(&tmpdir));
        let stderr = text(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{stderr}");
        assert_eq!(stderr.lines().count(), 1, "{stderr}");
        assert!(stderr.starts_with("fifo-demo: mkdir ") && stderr.contains("set TMPDIR"));
    }
}

/// `fifo-demo | head -1`: the reader of our stdout goes away early. No message, exit status
/// 141 (as if SIGPIPE had ended it), and the FIFO's directory is still removed.
#[test]
fn a_closed_stdout_ends_the_tour_cleanly() {
    let dir = TestDir::new("head");
    let mut child = tour(&dir.0)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut first)
        .unwrap(); // and drop our end, as `head -1` does
    let out = output_within(child, Duration::from_secs(10), "the tour");
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(141), "{stderr}");
    assert_eq!(stderr, "", "a closed stdout ends quietly");
    assert_no_process_mentions(&dir.0, Duration::from_secs(2));
    dir.assert_empty();
}

/// Started as a daemon or a careless shell would: SIGCHLD ignored (waitpid would fail with
/// ECHILD) and every signal blocked (Ctrl-C would not stop it). The tour resets both.
#[test]
fn the_tour_works_with_sigchld_ignored_and_signals_blocked() {
    let dir = TestDir::new("dispositions");
    let mut command = tour(&dir.0);
    testkit::start_carelessly(&mut command);
    let out = run(&mut command);
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert!(out.status.success(), "{stderr}\n{stdout}");
    assert!(stdout.contains("7. Removing the FIFO"), "{stdout}");
    dir.assert_empty();
}

/// Under any umask the FIFOs are exactly 0600 and the directory 0700 (a umask of 0277 would
/// make a FIFO that no writer can open), and nothing is left behind.
#[test]
fn the_tour_works_under_any_umask() {
    for mask in [0o277, 0o377, 0o777, 0o000] {
        let dir = TestDir::new("umask");
        let mut command = tour(&dir.0);
        testkit::with_umask(&mut command, mask);
        let out = run(&mut command);
        let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
        assert!(out.status.success(), "umask {mask:03o}: {stderr}\n{stdout}");
        assert!(
            stdout.contains("   stat: type fifo, mode 0600, size 0 bytes\n   its directory: type directory, mode 0700"),
            "umask {mask:03o}: {stdout}"
        );
        assert!(
            section_has(&stdout, "6. ", "stat: type fifo, mode 0600"),
            "umask {mask:03o}: {stdout}"
        );
        dir.assert_empty();
    }
}

fn section_has(out: &str, from: &str, what: &str) -> bool {
    section(out, from, "7. ").contains(what)
}

/// The tour is read in a terminal: every line fits in 80 columns.
#[test]
fn every_line_of_the_tour_fits_80_columns() {
    let dir = TestDir::new("columns");
    let out = run(tour(&dir.0).env("COLUMNS", "80"));
    assert!(out.status.success(), "{}", text(&out.stderr));
    // The one path the tour prints, once, is as long as $TMPDIR makes it.
    testkit::assert_fits_80_columns(&text(&out.stdout), |line| {
        line.starts_with("   made ") || line.starts_with("   removed the directory ")
    });
}
