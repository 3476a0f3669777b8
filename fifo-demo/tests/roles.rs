//! The `read` and `write` roles, run by hand the way the header says, and abused.
#![allow(clippy::unwrap_used)]

mod common;

use std::fs::{self, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::os::unix::fs::PermissionsExt;
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use common::*;
use nix::sys::signal::Signal;
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use testkit::{send, text};

fn role(args: &[&str]) -> Command {
    let mut cmd = Command::new(BIN);
    cmd.args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    cmd
}

/// Reads the child's stdout until a line contains `marker` (the reader has got data).
fn wait_for_line(child: &mut Child, marker: &str) -> BufReader<std::process::ChildStdout> {
    let _bounded = testkit::KillAfter::new(child, Duration::from_secs(10));
    let mut reader = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    while !line.contains(marker) {
        line.clear();
        assert!(
            reader.read_line(&mut line).unwrap() > 0,
            "no line with {marker:?}"
        );
    }
    reader
}

#[test]
fn two_terminals_as_the_header_says() {
    let dir = TestDir::new("by-hand");
    let fifo = dir.0.join("sensor_pipe");
    mkfifo(&fifo);
    let path = fifo.to_str().unwrap();
    let reader = role(&["read", path]).spawn().unwrap();
    let writer = run(&mut role(&[
        "write",
        path,
        "temperature: 42",
        "--count",
        "3",
    ]));
    assert!(writer.status.success(), "{}", text(&writer.stderr));
    let out = output_within(reader, Duration::from_secs(10), "the reader");
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{}", text(&out.stderr));
    for seq in 1..=3 {
        assert!(stdout.contains(&format!("got \"temperature: 42 #{seq}\" (19 bytes, whole)")));
    }
    assert_eq!(numbers_after(&stdout, ": whole "), [3.0]);

    // Any program can write: a plain line is shown and counted as "other".
    let reader = role(&["read", path]).spawn().unwrap();
    OpenOptions::new()
        .write(true)
        .open(&fifo)
        .unwrap()
        .write_all(b"temperature: 17\n")
        .unwrap();
    let stdout = text(&output_within(reader, Duration::from_secs(10), "the reader").stdout);
    assert!(stdout.contains("got \"temperature: 17\""), "{stdout}");
    assert_eq!(numbers_after(&stdout, ", other "), [1.0]);
    assert!(
        stdout.contains("other 1 (not from `fifo-demo write`)"),
        "{stdout}"
    );
}

#[test]
fn bad_input_is_one_line_and_the_right_exit_status() {
    let dir = TestDir::new("bad-input");
    let file = dir.0.join("regular-file");
    fs::write(&file, "not a fifo").unwrap();
    let fifo = dir.0.join("fifo");
    mkfifo(&fifo);
    let (d, f, p) = (
        dir.0.to_str().unwrap(),
        file.to_str().unwrap(),
        fifo.to_str().unwrap(),
    );
    let missing = format!("{d}/missing");
    let missing_dir = format!("{d}/no-such-dir/fifo");
    let under_file = format!("{f}/fifo");
    let too_long = format!("{d}/{}", "x".repeat(5000));
    let big = u64::MAX.to_string() + "0";
    let cases: &[(&[&str], i32, &str)] = &[
        (&["read", &missing], 1, "mkfifo -m 600"),
        (&["write", &missing, "hi"], 1, "mkfifo -m 600"),
        (&["read", &missing_dir], 1, "does not exist"),
        (&["read", f], 1, "is a regular file, not a FIFO"),
        (&["write", f, "hi"], 1, "is a regular file, not a FIFO"),
        (&["read", d], 1, "is a directory, not a FIFO"),
        (
            &["read", "/dev/null"],
            1,
            "is a character device, not a FIFO",
        ),
        (&["read", &under_file], 1, "Not a directory"),
        (&["read", &too_long], 1, "File name too long"),
        (&["write", p, "hi", "--count", "0"], 2, "1..=1000000"),
        (&["write", p, "hi", "--count", "-1"], 2, "-1"),
        (&["write", p, "hi", "--count", "ten"], 2, "invalid digit"),
        (&["write", p, "hi", "--count", &big], 2, "--count"),
        (&["write", p, "hi", "--bytes", "0"], 2, "1..=1048576"),
        (&["write", p, "hi", "--bytes", "1048577"], 2, "1..=1048576"),
        (&["write", p, "hi", "--fill", "AB"], 2, "printable ASCII"),
        (&["write", p, "hi", "--fill", "#"], 2, "printable ASCII"),
        (&["write", p, "hi", "--fill", ""], 2, "printable ASCII"),
        (&["write", p, "a#b"], 2, "may not contain"),
        (&["write", p, "a\nb"], 2, "may not contain"),
        (
            &["write", p, "hi", "--interval-ms", "60001"],
            2,
            "0..=60000",
        ),
        (&["read", p, "--delay-ms", "-5"], 2, "-5"),
        (&["read", p, "--show", "x"], 2, "invalid digit"),
        (&["read"], 2, "required"),
        (&["write", p], 2, "required"),
        (&["listen", p], 2, "unrecognized subcommand"),
    ];
    for (args, code, says) in cases {
        let out = run(&mut role(args));
        let stderr = text(&out.stderr);
        let shown = format!("{:.80}", format!("{args:?}"));
        assert_eq!(out.status.code(), Some(*code), "{shown}: {stderr}");
        assert!(stderr.contains(says), "{shown}: {stderr}");
        assert!(!stderr.contains("panicked"), "{shown}: {stderr}");
        assert_eq!(stderr.lines().count(), 1, "{shown}: {stderr}");
        assert!(stderr.starts_with("fifo-demo: "), "{shown}: {stderr}");
    }
    assert_eq!(dir.entries(), [fifo, file], "nothing else was created");
}

#[test]
fn no_permission_is_one_line() {
    let dir = TestDir::new("perm");
    fs::set_permissions(&dir.0, fs::Permissions::from_mode(0o755)).unwrap();
    let fifo = dir.0.join("fifo");
    mkfifo(&fifo); // 0600, owned by this user
    let path = fifo.to_str().unwrap();
    let copy = testkit::NobodyCopy::of(BIN);
    let as_other_user = |args: &[&str]| {
        if nix::unistd::geteuid().is_root() {
            // root ignores file modes: try as nobody instead.
            let mut cmd = copy.command();
            cmd.args(args);
            cmd
        } else {
            fs::set_permissions(&fifo, fs::Permissions::from_mode(0o000)).unwrap();
            let mut cmd = Command::new(BIN);
            cmd.args(args);
            cmd
        }
    };
    for args in [["read", path, ""], ["write", path, "hi"]] {
        let args = if args[2].is_empty() {
            &args[..2]
        } else {
            &args[..]
        };
        let out = run(&mut as_other_user(args));
        let stderr = text(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {stderr}");
        assert_eq!(stderr.lines().count(), 1, "{stderr}");
        assert!(
            stderr.contains("Permission denied") && stderr.contains("ls -l"),
            "{stderr}"
        );
    }
}

/// A reader and a writer that writes a line every 10 s, on a fresh FIFO in `dir`; returns once
/// the reader has got the first line, with the rest of the reader's stdout. (The long pause
/// checks that a writer between two lines still notices at once that its reader has gone.)
fn reader_and_endless_writer(
    dir: &TestDir,
) -> (Child, Child, BufReader<std::process::ChildStdout>) {
    let fifo = dir.0.join("fifo");
    mkfifo(&fifo);
    let path = fifo.to_str().unwrap();
    let mut reader = role(&["read", path]).spawn().unwrap();
    let writer = role(&[
        "write",
        path,
        "temperature: 42",
        "--count",
        "100000",
        "--interval-ms",
        "10000",
    ])
    .spawn()
    .unwrap();
    let stdout = wait_for_line(&mut reader, "got ");
    (reader, writer, stdout)
}

#[test]
fn writer_killed_reader_sees_eof_within_2s() {
    let dir = TestDir::new("kill-writer");
    let (mut reader, mut writer, mut stdout) = reader_and_endless_writer(&dir);
    send(&writer, Signal::SIGKILL);
    let killed = Instant::now();
    let status = testkit::exit_within(&mut reader, Duration::from_secs(2), "the reader");
    assert!(status.success());
    println!(
        "reader exited {:?} after the writer was killed",
        killed.elapsed()
    );
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut stdout, &mut rest).unwrap();
    assert!(rest.contains("EOF after"), "{rest}");
    writer.wait().unwrap();
}

#[test]
fn reader_killed_writer_exits_within_2s() {
    let dir = TestDir::new("kill-reader");
    let (mut reader, mut writer, _stdout) = reader_and_endless_writer(&dir);
    send(&reader, Signal::SIGKILL);
    reader.wait().unwrap();
    let status = testkit::exit_within(&mut writer, Duration::from_secs(2), "the writer");
    let stderr = text(&output_within(writer, Duration::from_secs(5), "the writer").stderr);
    assert_eq!(status.code(), Some(1), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.contains("Broken pipe") && stderr.contains("the reader has gone"),
        "{stderr}"
    );
}

#[test]
fn roles_blocked_in_open_end_on_every_stop_signal() {
    let dir = TestDir::new("blocked-open");
    let fifo = dir.0.join("fifo");
    mkfifo(&fifo);
    let path = fifo.to_str().unwrap();
    let (read, write): (&[&str], &[&str]) = (&["read", path], &["write", path, "hi"]);
    let mut cases: Vec<(&[&str], Signal)> = Vec::new();
    for signal in [
        Signal::SIGINT,
        Signal::SIGTERM,
        Signal::SIGHUP,
        Signal::SIGQUIT,
    ] {
        cases.push((read, signal));
        cases.push((write, signal));
    }
    for (args, signal) in cases {
        let mut command = role(args);
        testkit::without_core_dumps(&mut command); // SIGQUIT's default action dumps core
        let mut child = command.spawn().unwrap();
        thread::sleep(Duration::from_millis(150)); // now blocked in open(): no other end
        send(&child, signal);
        let status = testkit::exit_within(&mut child, Duration::from_secs(2), "the blocked role");
        use std::os::unix::process::ExitStatusExt;
        assert_eq!(status.signal(), Some(signal as i32), "{args:?}");
    }
    assert_eq!(dir.entries(), [fifo], "the roles create nothing");
}

#[test]
fn reader_survives_random_bytes() {
    let mut rng = StdRng::seed_from_u64(testkit::seed("FIFO_DEMO_SEED"));
    let dir = TestDir::new("fuzz");
    let fifo = dir.0.join("fifo");
    mkfifo(&fifo);
    let reader = role(&["read", fifo.to_str().unwrap(), "--show", "5"])
        .spawn()
        .unwrap();
    let mut tx = OpenOptions::new().write(true).open(&fifo).unwrap();
    let alphabet = b"AB#0123456789 \n\xff";
    for _ in 0..200 {
        let len = rng.random_range(0..20_000);
        let chunk: Vec<u8> = match rng.random_range(0..3) {
            0 => (0..len).map(|_| rng.random()).collect(),
            1 => (0..len)
                .map(|_| alphabet[rng.random_range(0..alphabet.len())])
                .collect(),
            _ => format!("w{} #{} ", rng.random::<u8>(), rng.random::<u64>())
                .into_bytes()
                .into_iter()
                .chain(std::iter::repeat_n(b'A', len))
                .collect(),
        };
        tx.write_all(&chunk).unwrap();
    }
    // One line longer than the reader keeps (4 MiB), and a last line with no newline.
    tx.write_all(&vec![b'B'; 5 << 20]).unwrap();
    tx.write_all(b"\nsensor #1 tail without newline").unwrap();
    drop(tx);
    let out = output_within(reader, Duration::from_secs(10), "the reader");
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert!(out.status.success() && stderr.is_empty(), "{stderr}");
    assert!(
        stdout.contains("have no newline") && stdout.contains("EOF after"),
        "{stdout}"
    );
}

/// The reader's tally, fed lines known to be whole, torn and foreign: its summary must count
/// each kind, and agree with the TORN lines it printed.
#[test]
fn torn_lines_are_counted_as_torn() {
    let dir = TestDir::new("torn");
    let fifo = dir.0.join("fifo");
    mkfifo(&fifo);
    let reader = role(&["read", fifo.to_str().unwrap()]).spawn().unwrap();
    let mut tx = OpenOptions::new().write(true).open(&fifo).unwrap();
    let a = "A".repeat(100);
    let (b40, a40) = ("B".repeat(40), "A".repeat(40));
    let lines = [
        format!("sensor A #1 {a}\n"),        // whole
        format!("sensor A #2 {a40}{b40}\n"), // torn: B's fill inside A's line
        format!("{b40}{a40}\n"),             // torn: no header, two writers' fill
        "temperature: 17\n".to_string(),     // other: not in write's format
        format!("sensor B #1 {b40}\n"),      // whole
    ];
    for line in &lines {
        tx.write_all(line.as_bytes()).unwrap();
    }
    drop(tx);
    let out = output_within(reader, Duration::from_secs(10), "the reader");
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(stdout.contains("whole 2, torn 2, other 1"), "{stdout}");
    assert_eq!(stdout.matches("got TORN line").count(), 2, "{stdout}");
    assert!(
        stdout.contains("per writer: 'sensor A' 1, 'sensor B' 1"),
        "{stdout}"
    );
}
