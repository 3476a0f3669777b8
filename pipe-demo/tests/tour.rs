//! End-to-end runs of `pipe-demo`, checking what it printed; runs that end early or badly
//! are in `endings.rs`. Each test spawns the binary as a user would; nothing here forks.
#![allow(clippy::unwrap_used)]

use std::fs;
use std::io;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use nix::fcntl::{FcntlArg, fcntl};

const BIN: &str = env!("CARGO_BIN_EXE_pipe-demo");

fn run(args: &[&str]) -> Output {
    testkit::output(Command::new(BIN).args(args), "pipe-demo")
}

fn stdout_of(args: &[&str]) -> String {
    let out = run(args);
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "pipe-demo {args:?} failed: {stderr}\n{stdout}"
    );
    stdout
}

/// The number that follows `before` in `text`.
fn number_after(text: &str, before: &str) -> u64 {
    let rest = &text[text
        .find(before)
        .unwrap_or_else(|| panic!("{before:?} in:\n{text}"))
        + before.len()..];
    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
    digits
        .parse()
        .unwrap_or_else(|_| panic!("a number after {before:?} in:\n{text}"))
}

#[test]
fn cat_echoes_the_reading_and_exits_cleanly() {
    let out = stdout_of(&["cat"]);
    assert!(
        out.contains(r#"cat printed "temperature: 42" (15 bytes) and exited with status 0"#),
        "{out}"
    );
}

#[test]
fn child_sees_every_byte_then_end_of_file() {
    let out = stdout_of(&["fork"]);
    assert!(
        out.contains("read() returned 0 (end-of-file) after 48 bytes"),
        "{out}"
    );
    assert!(out.contains("exited with status 0"), "{out}");
}

/// The bytes that went in before EAGAIN, as printed by the capacity measurement that
/// follows `marker` ("3a. a new pipe", "the resized pipe").
fn filled_after(text: &str, marker: &str) -> u64 {
    let at = text
        .find(marker)
        .unwrap_or_else(|| panic!("{marker:?} in:\n{text}"));
    let rest = &text[at..];
    let end = rest
        .find(" bytes went in before write() failed with EAGAIN")
        .unwrap_or_else(|| panic!("a filled count after {marker:?} in:\n{text}"));
    let digits = rest[..end].rsplit(char::is_whitespace).next().unwrap();
    digits
        .parse()
        .unwrap_or_else(|_| panic!("{digits:?} in:\n{text}"))
}

#[test]
fn capacity_is_what_f_getpipe_sz_reports() {
    let out = stdout_of(&["buffer", "--pipe-size", "100000"]);
    let filled = filled_after(&out, "3a. a new pipe");
    let reported = number_after(&out, "3a. a new pipe: F_GETPIPE_SZ says ");
    let (_r, w) = io::pipe().unwrap();
    let ours = fcntl(&w, FcntlArg::F_GETPIPE_SZ).unwrap();
    assert_eq!(filled, reported, "{out}");
    assert_eq!(reported, u64::try_from(ours).unwrap(), "{out}");
}

/// The default capacity is 65536 on most machines, so a number printed without measuring
/// would pass the test above. A resized pipe must be measured: the count has to follow.
#[test]
fn the_measured_capacity_follows_a_resized_pipe() {
    for size in [16384, 262144] {
        let out = stdout_of(&["buffer", "--pipe-size", &size.to_string()]);
        let after = number_after(&out, "the resized pipe: F_GETPIPE_SZ says ");
        assert_eq!(after, size, "{out}");
        assert_eq!(filled_after(&out, "the resized pipe"), size, "{out}");
    }
}

#[test]
fn writer_and_reader_really_block() {
    let out = stdout_of(&["3", "--pipe-size", "100000"]);
    assert!(out.contains("asleep in the kernel (state S"), "{out}");
    // The other side waits HOLD (200 ms) before it drains or writes: the blocked call must
    // have lasted most of that. No upper bound: a loaded machine only makes it longer.
    let writer_ms = number_after(&out, "bytes returned after ");
    let reader_ms = number_after(&out, "read() returned after ");
    assert!(writer_ms >= 150 && reader_ms >= 150, "{out}");
    assert!(out.contains(r#"with 15 bytes: "temperature: 42""#), "{out}");
}

#[test]
fn f_setpipe_sz_changes_the_capacity_as_the_kernel_rounds_it() {
    let out = stdout_of(&["buffer", "--pipe-size", "100000"]);
    let (_r, w) = io::pipe().unwrap();
    let before = fcntl(&w, FcntlArg::F_GETPIPE_SZ).unwrap();
    let expected = fcntl(&w, FcntlArg::F_SETPIPE_SZ(100_000)).unwrap();
    let after = number_after(
        &out,
        &format!("F_SETPIPE_SZ(100000): the kernel resized it {before} -> "),
    );
    assert_eq!(after, u64::try_from(expected).unwrap(), "{out}");
    assert_eq!(filled_after(&out, "the resized pipe"), after, "{out}");
}

#[test]
fn writing_without_a_reader_gives_epipe_and_sigpipe() {
    let out = stdout_of(&["broken"]);
    assert!(
        out.contains("failed: EPIPE (Broken pipe (os error 32))"),
        "{out}"
    );
    assert!(out.contains("killed by SIGPIPE"), "{out}");
}

#[test]
fn hand_built_pipeline_counts_like_the_test_does() {
    let dir = std::env::temp_dir().join(format!("pipe-demo-test-{}", std::process::id()));
    fs::create_dir(&dir).unwrap();
    for name in ["a.rs", "b.rs", "lib.rs.orig", "notes.txt", "rs", "mirrors"] {
        fs::write(dir.join(name), "").unwrap();
    }
    // grep's pattern `.rs` is a regular expression: any one character, then "rs".
    let expected = fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|name| {
            name.char_indices()
                .any(|(i, _)| i > 0 && name[i..].starts_with("rs"))
        })
        .count();
    let out = stdout_of(&["pipeline", dir.to_str().unwrap()]);
    fs::remove_dir_all(&dir).unwrap();
    let line = out
        .lines()
        .find(|l| l.contains("; the shell: "))
        .expect("the pipeline's line");
    assert!(
        line.ends_with(&format!(": {expected}; the shell: {expected}")),
        "{line}"
    );
}

#[test]
fn bad_input_is_one_clear_error() {
    let usage: &[&[&str]] = &[
        &["nosuch"],
        &["buffer", "--pipe-size", "0"],
        &["buffer", "--pipe-size", "-5"],
        &["buffer", "--pipe-size", "lots"],
        &["buffer", "--pipe-size", "99999999999999"],
        &["cat", "extra"],
    ];
    for args in usage {
        let out = run(args);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.starts_with("pipe-demo: "), "{args:?}: {stderr}");
        assert_eq!(stderr.lines().count(), 1, "{args:?}: {stderr}");
        assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
    }
    let out = run(&["pipeline", "/nonexistent/ipc-tour"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.contains("cannot list /nonexistent/ipc-tour"),
        "{stderr}"
    );
}

#[test]
fn too_large_pipe_size_names_the_limit() {
    let max: u64 = fs::read_to_string("/proc/sys/fs/pipe-max-size")
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    let out = run(&["buffer", "--pipe-size", &(max + 1).to_string()]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains(&format!("must be 1 to {max} bytes")),
        "{stderr}"
    );
    assert!(stderr.contains("fs.pipe-max-size"), "{stderr}");
}

/// CI runs as root, which would hide a permission bug: run the tour again as `nobody`.
#[test]
fn tour_runs_as_an_ordinary_user() {
    if !nix::unistd::Uid::effective().is_root() {
        println!("skipped: not root, so every other test already ran unprivileged");
        return;
    }
    // The checkout may sit in a directory `nobody` cannot enter: run a copy from the temp dir.
    let copy = testkit::NobodyCopy::of(BIN);
    let out = testkit::output(&mut copy.command(), "pipe-demo as nobody");
    drop(copy);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "as nobody: {stderr}\n{stdout}");
    assert!(stdout.contains("killed by SIGPIPE"), "{stdout}");
}

#[test]
fn two_tours_at_once_both_succeed() {
    let tours: Vec<_> = (0..2)
        .map(|_| {
            Command::new(BIN)
                .stdout(Stdio::piped())
                .spawn()
                .expect("spawn pipe-demo")
        })
        .collect();
    for tour in tours {
        let out = testkit::output_within(tour, Duration::from_secs(60), "pipe-demo");
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "{stdout}");
        assert!(
            stdout.contains("killed by SIGPIPE") && stdout.contains("; the shell: "),
            "{stdout}"
        );
    }
}

/// The tour is read in a terminal: every line fits in 80 columns.
#[test]
fn every_line_of_the_tour_fits_80_columns() {
    let out = testkit::output(Command::new(BIN).env("COLUMNS", "80"), "pipe-demo");
    assert!(out.status.success());
    testkit::assert_fits_80_columns(&String::from_utf8_lossy(&out.stdout), |_| false);
}
