//! Runs the FIFO examples end to end, each half as its own process, through
//! the binaries cargo built, and checks what they print and leave behind.
//! Every FIFO lives in a directory of the test's own, removed at the end.

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{FileTypeExt, OpenOptionsExt, PermissionsExt};
use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::process::Command;
use std::thread;
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use rand::RngExt;
use testkit::{Exited, LIMIT, Running, TempDir};

/// `target/debug/examples/NAME`, no older than its source.
fn example(name: &str) -> Command {
    Command::new(testkit::example(env!("CARGO_MANIFEST_DIR"), name))
}

/// Opens the FIFO for writing without ever blocking: with O_NONBLOCK the
/// open fails at once (ENXIO) until the reader has reached its own open(),
/// so it is retried until then.
fn open_writer(fifo: &Path) -> File {
    let deadline = Instant::now() + LIMIT;
    loop {
        let opened = OpenOptions::new()
            .write(true)
            .custom_flags(libc::O_NONBLOCK)
            .open(fifo);
        match opened {
            Err(e) if e.raw_os_error() == Some(libc::ENXIO) && Instant::now() < deadline => {
                thread::sleep(Duration::from_millis(5));
            }
            other => return other.expect("open FIFO for writing"),
        }
    }
}

/// Waits until `pid` sleeps in the kernel (state S in /proc/PID/stat).
fn wait_until_asleep(pid: Pid) {
    let stat = format!("/proc/{pid}/stat");
    let asleep = || {
        let text = fs::read_to_string(&stat).unwrap_or_default();
        text.rsplit_once(") ")
            .is_some_and(|(_, rest)| rest.starts_with('S'))
    };
    let deadline = Instant::now() + LIMIT;
    while !asleep() {
        assert!(Instant::now() < deadline, "process {pid} never blocked");
        thread::sleep(Duration::from_millis(5));
    }
}

#[test]
fn reader_prints_two_writers_lines_whole_and_ends_after_the_last() {
    const LINES: usize = 2000; // over 64 KiB each: the writers contend
    let dir = TempDir::new("fifo-demo-examples");
    let fifo = dir.0.join("sensor_pipe"); // the default name under TMPDIR
    let mut reader = Running::start(example("fifo_reader").env("TMPDIR", &dir.0));
    reader.expect_line(&format!(
        "reader: waiting for a writer on {}",
        fifo.display()
    ));
    let meta = fs::symlink_metadata(&fifo).expect("stat FIFO");
    assert!(meta.file_type().is_fifo(), "not a FIFO");
    assert_eq!(meta.permissions().mode() & 0o777, 0o600, "FIFO mode");

    // A writer of the test's own bridges the start-up, so the reader cannot
    // see end-of-file before both writers have connected.
    let bridge = open_writer(&fifo);
    reader.expect_line("reader: a writer opened the FIFO");
    let mut writers: Vec<Running> = (0..2)
        .map(|_| {
            Running::start(
                example("fifo_writer")
                    .arg(&fifo)
                    .arg(LINES.to_string())
                    .arg("0"),
            )
        })
        .collect();
    for w in &mut writers {
        w.expect_line(&format!(
            "writer {}: connected to {}",
            w.pid(),
            fifo.display()
        ));
    }
    drop(bridge);

    let pids: Vec<i32> = writers.iter().map(|w| w.pid().as_raw()).collect();
    for w in writers {
        let pid = w.pid();
        let Exited {
            status,
            stdout: out,
            stderr: err,
            ..
        } = w.finish(LIMIT);
        assert!(status.success(), "writer {pid}: {status}\n{err}");
        assert!(
            out.contains(&format!("writer {pid}: wrote {LINES} lines, closing")),
            "{out:?}"
        );
    }
    let Exited {
        status,
        stdout: out,
        stderr: err,
        ..
    } = reader.finish(LIMIT);
    assert!(status.success(), "reader: {status}\n{err}");

    // Each writer's lines arrive whole and in its own order.
    let mut next = [1, 1];
    for line in &out[2..out.len() - 2] {
        let rest = line.strip_prefix("reader: temperature: 42 (writer ");
        let (pid, i) = rest
            .and_then(|r| r.strip_suffix(&format!(" of {LINES})")))
            .and_then(|r| r.split_once(", line "))
            .and_then(|(p, i)| Some((p.parse::<i32>().ok()?, i.parse::<usize>().ok()?)))
            .unwrap_or_else(|| panic!("mangled line: {line:?}"));
        let w = pids.iter().position(|&p| p == pid).expect("a known writer");
        assert_eq!(i, next[w], "writer {pid} out of order: {line:?}");
        next[w] += 1;
    }
    assert_eq!(next, [LINES + 1, LINES + 1], "lines missing");
    let tail = [
        format!(
            "reader: end-of-file after {} lines: the last writer closed the FIFO",
            2 * LINES
        ),
        format!("reader: removed {}", fifo.display()),
    ];
    assert_eq!(out[out.len() - 2..], tail);
    dir.assert_empty();
}

#[test]
fn ctrl_c_while_reader_waits_in_open_removes_the_fifo() {
    let dir = TempDir::new("fifo-demo-examples");
    let fifo = dir.0.join("sigint.fifo");
    let mut reader = Running::start(example("fifo_reader").arg(&fifo));
    reader.expect_line(&format!(
        "reader: waiting for a writer on {}",
        fifo.display()
    ));
    // Nothing else sleeps after that line: asleep means blocked in open().
    wait_until_asleep(reader.pid());
    assert!(fifo.exists());

    let sent = Instant::now();
    kill(reader.pid(), Signal::SIGINT).expect("kill -INT");
    let Exited {
        status,
        stderr: err,
        ..
    } = reader.finish(LIMIT);
    assert!(
        sent.elapsed() < Duration::from_secs(2),
        "took {:?}",
        sent.elapsed()
    );
    assert_eq!(status.signal(), Some(libc::SIGINT), "{status}\n{err}");
    dir.assert_empty();
}

#[test]
fn sigterm_while_reader_waits_in_read_removes_the_fifo() {
    let dir = TempDir::new("fifo-demo-examples");
    let fifo = dir.0.join("sigterm.fifo");
    let mut reader = Running::start(example("fifo_reader").arg(&fifo));
    reader.expect_line(&format!(
        "reader: waiting for a writer on {}",
        fifo.display()
    ));
    let mut writer = open_writer(&fifo);
    writer.write_all(b"temperature: 42\n").expect("write");
    reader.expect_line("reader: temperature: 42"); // now blocked in read()

    kill(reader.pid(), Signal::SIGTERM).expect("kill -TERM");
    let Exited {
        status,
        stderr: err,
        ..
    } = reader.finish(LIMIT);
    assert_eq!(status.signal(), Some(libc::SIGTERM), "{status}\n{err}");
    drop(writer);
    dir.assert_empty();
}

#[test]
fn writer_without_a_fifo_fails_naming_the_path_and_creates_nothing() {
    let dir = TempDir::new("fifo-demo-examples");
    let fifo = dir.0.join("missing.fifo");
    let Exited {
        status,
        stderr: err,
        ..
    } = Running::start(example("fifo_writer").arg(&fifo)).finish(LIMIT);
    assert_eq!(status.code(), Some(1), "{err}");
    assert!(
        err.contains(&format!("stat {}: No such file", fifo.display())),
        "{err}"
    );
    dir.assert_empty();
}

// Fed by the test: lines and counts drawn per run, so a reader that prints lines of its own
// or a writer that writes a fixed count fails.

/// A line of `len` printable ASCII characters (no newline, no carriage return).
fn random_line(rng: &mut impl rand::Rng, len: usize) -> String {
    (0..len)
        .map(|_| char::from(rng.random_range(b' '..=b'~')))
        .collect()
}

#[test]
fn reader_prints_exactly_the_random_lines_it_is_sent() {
    let mut rng = rand::rng();
    let dir = TempDir::new("fifo-demo-fed");
    let fifo = dir.0.join("fed.fifo");
    let mut reader = Running::start(example("fifo_reader").arg(&fifo));
    reader.expect_line(&format!(
        "reader: waiting for a writer on {}",
        fifo.display()
    ));
    // Lines of 0 to 4096 bytes (the reader's limit), and maybe one longer, to be skipped.
    let mut lines: Vec<String> = (0..rng.random_range(1..=20))
        .map(|_| {
            let len = rng.random_range(0..=4096);
            random_line(&mut rng, len)
        })
        .collect();
    let long = rng
        .random_bool(0.5)
        .then(|| rng.random_range(0..=lines.len()));
    if let Some(at) = long {
        let len = rng.random_range(4097..=9000);
        lines.insert(at, random_line(&mut rng, len));
    }
    let text: String = lines.iter().map(|l| format!("{l}\n")).collect();

    let mut writer = open_writer(&fifo);
    // Blocking writes from here (more than a pipe holds), from a thread: the reader drains.
    let flags = nix::fcntl::fcntl(&writer, nix::fcntl::FcntlArg::F_GETFL).expect("F_GETFL");
    let flags = nix::fcntl::OFlag::from_bits_truncate(flags) - nix::fcntl::OFlag::O_NONBLOCK;
    nix::fcntl::fcntl(&writer, nix::fcntl::FcntlArg::F_SETFL(flags)).expect("F_SETFL");
    let sending = thread::spawn(move || writer.write_all(text.as_bytes()));
    let Exited {
        status,
        stdout: out,
        stderr: err,
        ..
    } = reader.finish(LIMIT);
    sending.join().expect("writer thread").expect("write FIFO");
    assert!(status.success(), "reader: {status}\n{err}");

    let mut want = vec![
        format!("reader: waiting for a writer on {}", fifo.display()),
        "reader: a writer opened the FIFO".to_string(),
    ];
    for line in &lines {
        want.push(match line.len() {
            0..=4096 => format!("reader: {line}"),
            _ => "reader: skipped a line over 4096 bytes".to_string(),
        });
    }
    let count = lines.len() - usize::from(long.is_some());
    want.push(format!(
        "reader: end-of-file after {count} lines: the last writer closed the FIFO"
    ));
    want.push(format!("reader: removed {}", fifo.display()));
    // Lines of 4 KiB make a whole-output diff unreadable: name the first that differs.
    let first = (0..out.len().max(want.len())).find(|&i| out.get(i) != want.get(i));
    if let Some(i) = first {
        let cut = |l: Option<&String>| l.map(|l| l.chars().take(80).collect::<String>());
        let (got, wanted) = (cut(out.get(i)), cut(want.get(i)));
        panic!("line {i}: got {got:?}, want {wanted:?} (long line at {long:?})");
    }
    dir.assert_empty();
}

#[test]
fn writer_writes_as_many_lines_as_it_is_asked() {
    let count: u32 = rand::rng().random_range(1..=50);
    let dir = TempDir::new("fifo-demo-fed");
    let fifo = dir.0.join("count.fifo");
    nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::S_IRWXU).expect("mkfifo");
    // The test reads; its open() returns once the writer has opened its end.
    let path = fifo.clone();
    let reading = thread::spawn(move || fs::read_to_string(path));
    let writer = Running::start(
        example("fifo_writer")
            .arg(&fifo)
            .arg(count.to_string())
            .arg("0"),
    );
    let pid = writer.pid();
    let Exited {
        status,
        stdout: out,
        stderr: err,
        ..
    } = writer.finish(LIMIT);
    // Should the writer have died before its open, free the reader still in open().
    let _ = OpenOptions::new()
        .write(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(&fifo);
    let got = reading.join().expect("reader thread").expect("read FIFO");
    assert!(status.success(), "writer: {status}\n{err}");
    let want: String = (1..=count)
        .map(|i| format!("temperature: 42 (writer {pid}, line {i} of {count})\n"))
        .collect();
    assert_eq!(got, want, "asked for {count} lines");
    assert_eq!(
        out,
        [
            format!("writer {pid}: connected to {}", fifo.display()),
            format!("writer {pid}: wrote {count} lines, closing"),
        ]
    );
    fs::remove_file(&fifo).expect("remove FIFO");
    dir.assert_empty();
}
