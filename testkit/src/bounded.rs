//! Every wait on a child has an end: a test whose program hangs fails with a message
//! instead of hanging the suite, and a failing test leaves no process behind.

use std::ffi::OsStr;
use std::io::{BufRead, BufReader, Read};
use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, channel};
use std::thread;
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

/// Kills a child with SIGKILL if it is still running after `limit`, so that a test waiting on
/// it (for its output, for end-of-file) fails with a message instead of hanging the suite.
/// Dropping the guard, once the wait has returned, disarms it.
pub struct KillAfter(Arc<AtomicBool>);

impl KillAfter {
    pub fn new(child: &Child, limit: Duration) -> KillAfter {
        let done = Arc::new(AtomicBool::new(false));
        let flag = done.clone();
        let pid = pid(child);
        thread::spawn(move || {
            let end = Instant::now() + limit;
            while Instant::now() < end && !flag.load(Ordering::SeqCst) {
                thread::sleep(Duration::from_millis(20));
            }
            if !flag.load(Ordering::SeqCst) {
                eprintln!("pid {pid} still running after {limit:?}: killed");
                let _ = kill(pid, Signal::SIGKILL);
            }
        });
        KillAfter(done)
    }
}

impl Drop for KillAfter {
    fn drop(&mut self) {
        self.0.store(true, Ordering::SeqCst);
    }
}

/// The child's output, or a test failure naming `what` if it has not exited within `limit`.
pub fn output_within(child: Child, limit: Duration, what: &str) -> Output {
    let guard = KillAfter::new(&child, limit);
    let out = child.wait_with_output().expect("wait");
    drop(guard);
    assert!(
        out.status.signal() != Some(9),
        "{what} did not finish within {limit:?}: {}",
        String::from_utf8_lossy(&out.stdout)
    );
    out
}

/// Polls `child` until it exits (its status) or `limit` passes (None; it is left running).
pub fn wait_within(child: &mut Child, limit: Duration) -> Option<ExitStatus> {
    let end = Instant::now() + limit;
    loop {
        if let Some(status) = child.try_wait().expect("try_wait") {
            return Some(status);
        }
        if Instant::now() > end {
            return None;
        }
        thread::sleep(Duration::from_millis(10));
    }
}

/// [`wait_within`], but a child still running after `limit` is killed, reaped, and the test
/// fails naming `what`.
pub fn exit_within(child: &mut Child, limit: Duration, what: &str) -> ExitStatus {
    match wait_within(child, limit) {
        Some(status) => status,
        None => {
            kill_and_reap(child);
            panic!("{what} did not exit within {limit:?}: killed");
        }
    }
}

/// Runs `command` with stdout and stderr captured; the test fails, naming `what`, if it has not
/// exited within 60 s.
pub fn output(command: &mut Command, what: &str) -> Output {
    let child = spawned(command.stdout(Stdio::piped()).stderr(Stdio::piped()), what);
    output_within(child, Duration::from_secs(60), what)
}

/// `command` started; the test fails, naming `what`, if it cannot be.
pub(crate) fn spawned(command: &mut Command, what: &str) -> Child {
    command
        .spawn()
        .unwrap_or_else(|e| panic!("spawn {what}: {e}"))
}
/// Runs `program` with `args` to the end, stdin empty (as `Command::output` has it) and
/// stdout and stderr captured; the test fails, naming the program, if it has not exited
/// within 60 s.
pub fn run(program: impl AsRef<OsStr>, args: &[&str]) -> Output {
    let program = program.as_ref();
    let what = Path::new(program).file_name().unwrap_or(program);
    let what = what.to_string_lossy().into_owned();
    output(Command::new(program).args(args).stdin(Stdio::null()), &what)
}

/// Kills `child` if it is still running and reaps it: the last word of a test that may fail
/// with the child alive (errors are ignored; it may be gone already).
pub fn kill_and_reap(child: &mut Child) {
    let _ = child.kill();
    let _ = child.wait();
}

/// The pid of `child`, as the signal calls take it.
pub fn pid(child: &Child) -> Pid {
    Pid::from_raw(i32::try_from(child.id()).expect("pid"))
}

/// Sends `signal` to `child`; the test fails if it cannot (the child was reaped already).
pub fn send(child: &Child, signal: Signal) {
    kill(pid(child), signal).unwrap_or_else(|e| panic!("kill {} {signal}: {e}", child.id()));
}

/// The lines of `out` (a child's stdout or stderr) on a channel, read by a thread of their
/// own, so that a wait for one can be bounded (`recv_timeout`). The channel disconnects at
/// end of file, or when the receiver is dropped and the next line arrives.
pub fn line_channel(out: impl Read + Send + 'static) -> Receiver<String> {
    let (tx, lines) = channel();
    thread::spawn(move || {
        for line in BufReader::new(out).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    lines
}

/// The next line from `lines` that `wanted` accepts, waiting `limit` at most in all. Every line
/// received, the wanted one included, is first shown to `each` (to keep a log for a failure
/// message). Err says why none came: the time ran out, or the output ended.
pub fn wait_for_line(
    lines: &Receiver<String>,
    limit: Duration,
    wanted: impl Fn(&str) -> bool,
    mut each: impl FnMut(&str),
) -> Result<String, RecvTimeoutError> {
    let deadline = Instant::now() + limit;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let line = lines.recv_timeout(left)?;
        each(&line);
        if wanted(&line) {
            return Ok(line);
        }
    }
}
