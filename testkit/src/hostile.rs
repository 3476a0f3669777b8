//! An example under the conditions a copied program meets: a stdout closed (`| head -1` once
//! head has gone) or full (`> /dev/full`), memory and CPU capped so that a run that would grow
//! or spin without bound fails inside the test, and the checks that it ended as a C program
//! would (quietly by SIGPIPE, or status 1 naming the failed write), never with a panic.

use std::fs::OpenOptions;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::process::{Command, ExitStatus, Output, Stdio};
use std::time::Duration;

use nix::sys::resource::{Resource, setrlimit};
use nix::sys::signal::Signal;

/// A pipe whose read end is already closed: what `| head -1` leaves once head has exited.
/// The first write to it raises SIGPIPE (or fails with EPIPE where SIGPIPE is ignored).
///
/// Both ends are close-on-exec (std's pipe): the tests run in threads, and a read end that a
/// child spawned meanwhile by another test inherited would keep the pipe open, so the write
/// would succeed and the example would wait for ever.
pub fn closed_pipe() -> Stdio {
    let (read_end, write_end) = std::io::pipe().expect("pipe");
    drop(read_end);
    Stdio::from(write_end)
}

/// /dev/full, open for writing: every write to it fails with ENOSPC.
pub fn dev_full() -> Stdio {
    let full = OpenOptions::new().write(true).open("/dev/full");
    Stdio::from(full.expect("open /dev/full"))
}

/// Where an example's stdout goes, named in a failure message (`{stdout:?}`).
#[derive(Clone, Copy, Debug)]
pub enum Stdout {
    /// A pipe whose read end is already closed ([`closed_pipe`]).
    Closed,
    /// /dev/full ([`dev_full`]).
    Full,
    /// A pipe this test reads.
    Piped,
}

impl Stdout {
    /// A fresh descriptor of this kind, for one spawn.
    pub fn stdio(self) -> Stdio {
        match self {
            Stdout::Closed => closed_pipe(),
            Stdout::Full => dev_full(),
            Stdout::Piped => Stdio::piped(),
        }
    }
}

/// The endings a program that owns a kernel object must clean up after, as (signal, whether
/// every signal was blocked at start): SIGHUP and SIGQUIT, whose default actions end it
/// (SIGQUIT's with a core dump), and SIGTERM sent to one a careless parent started.
pub const ENDINGS: [(Signal, bool); 3] = [
    (Signal::SIGHUP, false),
    (Signal::SIGQUIT, false),
    (Signal::SIGTERM, true),
];

/// `command` made ready for one of [`ENDINGS`]: no core dump (SIGQUIT would leave one), and,
/// if `blocked`, started as a careless parent would ([`start_carelessly`](crate::start_carelessly)).
pub fn ready_for_ending(command: &mut Command, blocked: bool) -> &mut Command {
    crate::without_core_dumps(command);
    if blocked {
        crate::start_carelessly(command);
    }
    command
}

/// Sets each resource limit of `list` (soft and hard alike) in the child before exec; the
/// limits survive a later exec (setpriv's included). The spawn fails if one cannot be set.
pub fn limited(command: &mut Command, list: Vec<(Resource, u64)>) -> &mut Command {
    // SAFETY: setrlimit(2) is async-signal-safe; the list was built before the fork.
    unsafe {
        command.pre_exec(move || {
            for &(resource, value) in &list {
                setrlimit(resource, value, value)?;
            }
            Ok(())
        })
    }
}

/// [`limited`] to `address_space` bytes (a buffer that grows with what a peer sends fails at
/// once) and `cpu_seconds` of CPU (a spin is killed by SIGXCPU, then SIGKILL).
pub fn bounded(command: &mut Command, address_space: u64, cpu_seconds: u64) -> &mut Command {
    limited(
        command,
        vec![
            (Resource::RLIMIT_AS, address_space),
            (Resource::RLIMIT_CPU, cpu_seconds),
        ],
    )
}

/// Runs `command` to the end, stdin empty, stderr captured and stdout as the caller set it;
/// the test fails, naming `what`, after `limit`. Returns the output and stderr as text.
pub fn run_to_end(command: &mut Command, limit: Duration, what: &str) -> (Output, String) {
    let child = crate::bounded::spawned(command.stdin(Stdio::null()).stderr(Stdio::piped()), what);
    let out = crate::output_within(child, limit, what);
    let stderr = crate::text(&out.stderr);
    (out, stderr)
}

/// Neither a panic (exit 101, "panicked") nor an abort nor any other signal: killed by
/// SIGPIPE with nothing said, or exit status 1 with the error on stderr.
pub fn assert_ended_cleanly(what: &str, out: &Output, stderr: &str) {
    assert!(!stderr.contains("panicked"), "{what}: {stderr}");
    match (out.status.code(), out.status.signal()) {
        (Some(1), _) => assert!(!stderr.is_empty(), "{what}: exit 1 without a word"),
        (_, Some(libc::SIGPIPE)) => {
            assert!(stderr.is_empty(), "{what}: SIGPIPE, yet said {stderr}")
        }
        _ => panic!("{what}: {:?}\n{stderr}", out.status),
    }
}

/// [`run_to_end`] with stdout to `stdout`, within [`LIMIT`](crate::LIMIT), then
/// [`assert_ended_cleanly`]. Returns the output and stderr for further checks.
pub fn assert_ends_cleanly(command: &mut Command, stdout: Stdout, what: &str) -> (Output, String) {
    let (out, stderr) = run_to_end(command.stdout(stdout.stdio()), crate::LIMIT, what);
    assert_ended_cleanly(what, &out, &stderr);
    (out, stderr)
}

/// Not a panic: neither Rust's exit status 101 nor "panicked" on stderr.
pub fn assert_no_panic(what: &str, status: ExitStatus, stderr: &str) {
    assert!(
        status.code() != Some(101) && !stderr.contains("panicked"),
        "{what} panicked: {status}\n{stderr}"
    );
}

/// Killed by SIGPIPE with nothing said, as a C program ends on a closed stdout.
pub fn assert_quiet_sigpipe(what: &str, status: ExitStatus, stderr: &str) {
    assert_eq!(
        status.signal(),
        Some(libc::SIGPIPE),
        "{what}: {status}\n{stderr}"
    );
    assert_eq!(stderr, "", "{what} should end quietly, like a C program");
}

/// Exit status 1, the error naming the write to stdout that failed (a full stdout).
pub fn assert_full_stdout_error(what: &str, status: ExitStatus, stderr: &str) {
    assert_eq!(status.code(), Some(1), "{what}: {status}\n{stderr}");
    assert!(
        stderr.contains("write stdout: No space left on device"),
        "{what}: {stderr}"
    );
}
