//! The FIFO examples under the conditions a copied program meets: stdout closed (`| head -1`)
//! or full (`> /dev/full`), SIGHUP and SIGQUIT, a FIFO left by a killed reader, every signal
//! blocked at start, a peer killed mid-way, and a writer that sends a line with no end. None
//! may panic, hang or leave the FIFO behind; the reader's memory and CPU are bounded here.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::PathBuf;
use std::process::{Command, ExitStatus, Stdio};
use std::time::Duration;

use nix::sys::signal::{Signal, kill};
use nix::sys::stat::Mode;
use nix::unistd::mkfifo;
use testkit::hostile::{
    assert_full_stdout_error, assert_quiet_sigpipe, bounded, closed_pipe, dev_full, run_to_end,
};
use testkit::{Exited, LIMIT, Running, TempDir};

fn example(name: &str) -> Command {
    let mut command = Command::new(testkit::example(env!("CARGO_MANIFEST_DIR"), name));
    command.stdin(Stdio::null()).process_group(0);
    command
}

/// Runs `command` to the end (bounded) with `stdout` as its stdout.
fn run(command: &mut Command, stdout: Stdio) -> (ExitStatus, String) {
    let (out, stderr) = run_to_end(command.stdout(stdout), LIMIT, "example");
    (out.status, stderr)
}

/// A FIFO of the test's own, held open for reading (non-blocking) so that a writer's
/// open() returns at once.
fn fifo_with_a_reader(dir: &TempDir) -> (PathBuf, File) {
    let fifo = dir.join("sensor_pipe");
    mkfifo(&fifo, Mode::S_IRUSR | Mode::S_IWUSR).expect("mkfifo");
    let reader = OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(&fifo)
        .expect("open FIFO for reading");
    (fifo, reader)
}

#[test]
fn closed_stdout_ends_the_reader_by_sigpipe_and_removes_the_fifo() {
    let dir = TempDir::new("fifo-demo-hostile");
    let fifo = dir.join("sigpipe.fifo");
    let (status, err) = run(example("fifo_reader").arg(&fifo), closed_pipe());
    assert_quiet_sigpipe("the reader", status, &err);
    dir.assert_empty();
}

#[test]
fn full_stdout_is_an_error_for_the_reader_and_the_fifo_is_removed() {
    let dir = TempDir::new("fifo-demo-hostile");
    let fifo = dir.join("full.fifo");
    let (status, err) = run(example("fifo_reader").arg(&fifo), dev_full());
    assert_full_stdout_error("fifo_reader", status, &err);
    dir.assert_empty();
}

#[test]
fn closed_or_full_stdout_ends_the_writer_without_a_panic() {
    let dir = TempDir::new("fifo-demo-hostile");
    let (fifo, _reader) = fifo_with_a_reader(&dir);
    let (status, err) = run(example("fifo_writer").arg(&fifo), closed_pipe());
    assert_quiet_sigpipe("the writer", status, &err);
    let (status, err) = run(example("fifo_writer").arg(&fifo), dev_full());
    assert_full_stdout_error("fifo_writer", status, &err);
}

#[test]
fn sighup_and_sigquit_remove_the_fifo() {
    for signal in [Signal::SIGHUP, Signal::SIGQUIT] {
        let dir = TempDir::new("fifo-demo-hostile");
        let fifo = dir.join("hup.fifo");
        let mut reader = Running::start(testkit::without_core_dumps(
            example("fifo_reader").arg(&fifo),
        ));
        reader.expect_prefix("reader: waiting for a writer");
        kill(reader.pid(), signal).expect("kill");
        let Exited {
            status,
            stderr: err,
            ..
        } = reader.finish(Duration::from_secs(5));
        assert_eq!(status.signal(), Some(signal as i32), "{status}\n{err}");
        dir.assert_empty();
    }
}

#[test]
fn a_fifo_left_by_a_killed_reader_is_refused_with_a_hint() {
    let dir = TempDir::new("fifo-demo-hostile");
    let fifo = dir.join("stale.fifo");
    mkfifo(&fifo, Mode::S_IRUSR | Mode::S_IWUSR).expect("mkfifo");
    let (status, err) = run(example("fifo_reader").arg(&fifo), Stdio::null());
    assert_eq!(status.code(), Some(1), "{status}\n{err}");
    assert!(
        err.contains("File exists") && err.contains("rm it"),
        "no hint: {err}"
    );
    assert!(fifo.exists(), "the reader removed a FIFO it did not make");
}

#[test]
fn reader_started_with_every_signal_blocked_still_stops_on_sigterm() {
    let dir = TempDir::new("fifo-demo-hostile");
    let fifo = dir.join("blocked.fifo");
    let mut reader = Running::start(testkit::start_carelessly(example("fifo_reader").arg(&fifo)));
    reader.expect_prefix("reader: waiting for a writer");
    kill(reader.pid(), Signal::SIGTERM).expect("kill -TERM");
    let Exited {
        status,
        stderr: err,
        ..
    } = reader.finish(Duration::from_secs(5));
    assert_eq!(status.signal(), Some(libc::SIGTERM), "{status}\n{err}");
    dir.assert_empty();
}

#[test]
fn a_writer_killed_mid_way_ends_the_reader_normally() {
    let dir = TempDir::new("fifo-demo-hostile");
    let fifo = dir.join("killed-writer.fifo");
    let mut reader = Running::start(example("fifo_reader").arg(&fifo));
    reader.expect_prefix("reader: waiting for a writer");
    let writer = Running::start(example("fifo_writer").arg(&fifo).args(["100000", "1"]));
    reader.expect_prefix("reader: temperature: 42");
    kill(writer.pid(), Signal::SIGKILL).expect("kill -KILL");
    let done = reader.finish(LIMIT);
    let (status, rest, err) = (done.status, done.unread(), &done.stderr);
    assert!(status.success(), "{status}\n{err}");
    for line in &rest[..rest.len() - 2] {
        assert!(
            line.starts_with("reader: temperature: 42 (writer "),
            "{line}"
        );
    }
    assert!(rest[rest.len() - 2].starts_with("reader: end-of-file after "));
    dir.assert_empty();
}

#[test]
fn the_reader_killed_mid_way_ends_the_writer_quietly_by_sigpipe() {
    let dir = TempDir::new("fifo-demo-hostile");
    let fifo = dir.join("killed-reader.fifo");
    let mut reader = Running::start(example("fifo_reader").arg(&fifo));
    reader.expect_prefix("reader: waiting for a writer");
    let writer = Running::start(example("fifo_writer").arg(&fifo).args(["100000", "1"]));
    reader.expect_prefix("reader: temperature: 42");
    kill(reader.pid(), Signal::SIGKILL).expect("kill -KILL");
    let Exited {
        status,
        stderr: err,
        ..
    } = writer.finish(Duration::from_secs(5));
    assert_eq!(status.signal(), Some(libc::SIGPIPE), "{status}\n{err}");
    assert_eq!(err, "");
}

#[test]
fn a_line_with_no_end_is_skipped_in_bounded_memory() {
    const MIB: u64 = 1 << 20;
    let dir = TempDir::new("fifo-demo-hostile");
    let fifo = dir.join("flood.fifo");
    // 32 MiB of address space: a few times what the reader needs, half of the flood below.
    let mut reader = Running::start(bounded(example("fifo_reader").arg(&fifo), 32 * MIB, 10));
    reader.expect_prefix("reader: waiting for a writer");
    let mut writer = OpenOptions::new()
        .write(true)
        .open(&fifo)
        .expect("open FIFO for writing");
    let flood = vec![b'x'; MIB as usize];
    for _ in 0..64 {
        if writer.write_all(&flood).is_err() {
            break; // the reader died: the asserts below say how
        }
    }
    let _ = writer.write_all(b"\ntemperature: 42\n");
    drop(writer);
    let done = reader.finish(LIMIT);
    let (status, rest, err) = (done.status, done.unread(), &done.stderr);
    assert!(status.success(), "{status}\n{err}");
    assert_eq!(
        rest[..4],
        [
            "reader: a writer opened the FIFO",
            "reader: skipped a line over 4096 bytes",
            "reader: temperature: 42",
            "reader: end-of-file after 1 lines: the last writer closed the FIFO",
        ],
        "{rest:#?}"
    );
    dir.assert_empty();
}

#[test]
fn as_nobody_sighup_and_a_closed_stdout_still_remove_the_fifo() {
    if !nix::unistd::geteuid().is_root() || !testkit::have_setpriv() {
        println!("skipped: needs root and setpriv to run as nobody");
        return;
    }
    let dir = TempDir::new("fifo-demo-hostile");
    let world = std::fs::Permissions::from_mode(0o777);
    std::fs::set_permissions(&dir.0, world).expect("chmod 0777");
    let bin = testkit::example(env!("CARGO_MANIFEST_DIR"), "fifo_reader");
    let copy = testkit::NobodyCopy::of(&bin.to_string_lossy());

    let fifo = dir.join("nobody-hup.fifo");
    let mut reader = Running::start(copy.command().arg(&fifo));
    reader.expect_prefix("reader: waiting for a writer");
    let owner = std::fs::symlink_metadata(&fifo).expect("stat FIFO").uid();
    assert_eq!(owner, 65534, "the FIFO is nobody's");
    kill(reader.pid(), Signal::SIGHUP).expect("kill -HUP");
    let Exited {
        status,
        stderr: err,
        ..
    } = reader.finish(Duration::from_secs(5));
    assert_eq!(status.signal(), Some(libc::SIGHUP), "{status}\n{err}");
    dir.assert_empty();

    let fifo = dir.join("nobody-pipe.fifo");
    let (status, err) = run(
        copy.command().arg(&fifo).stdin(Stdio::null()),
        closed_pipe(),
    );
    assert_eq!(status.signal(), Some(libc::SIGPIPE), "{status}\n{err}");
    dir.assert_empty();
}
