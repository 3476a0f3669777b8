//! A program a test starts and talks to while it runs: the test waits for its stdout lines
//! one by one, reads its stderr as it comes, signals it, and collects what it printed once it
//! has exited. Every wait has a limit, and dropping it stops its whole process group, so a
//! failing test neither hangs nor leaves a process behind.

use std::ffi::OsStr;
use std::io::{ErrorKind, Read};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc::{Receiver, RecvTimeoutError, channel};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill, killpg};
use nix::sys::wait::{Id, WaitPidFlag, WaitStatus, waitid};
use nix::unistd::Pid;

use crate::LIMIT;

/// How long a dropped program has, after SIGTERM, to remove what it created before SIGKILL.
const GRACE: Duration = Duration::from_secs(2);

/// How many of the last stdout lines a failure message shows.
const SHOWN: usize = 40;

/// A started program, leader of a process group of its own (its children join the group).
///
/// Its stdout arrives line by line: each wait looks at the lines after the ones earlier waits
/// passed over, and [`seen`](Running::seen) keeps all of them for failure messages. Its
/// stderr is read as it comes (a chatty program never blocks on a full pipe).
///
/// Dropped while it has not been reaped, it is stopped as a terminal stops a job: SIGTERM to
/// the group, so that a program which owns a file, socket or queue removes it; SIGKILL to the
/// group after [`GRACE`] for whatever is left; then the program is reaped. Once a wait has
/// reaped it, nothing is sent any more: its pid, and so its group id, may be another's.
pub struct Running {
    child: Child,
    /// What failure messages call it: the program's file name and pid.
    what: String,
    lines: Receiver<String>,
    /// Every stdout line received so far.
    seen: Vec<String>,
    /// How many of `seen` the waits have looked at: the rest is [`Exited::unread`].
    read: usize,
    stderr: Collected,
    /// The exit status, once reaped.
    status: Option<ExitStatus>,
}

impl Running {
    /// Starts `command` in a process group of its own, stdin empty, stdout and stderr piped
    /// to this test. The test fails if it cannot be started.
    pub fn start(command: &mut Command) -> Running {
        let program = Path::new(command.get_program()).file_name();
        let program = program.unwrap_or_default().to_string_lossy().into_owned();
        let mut child = command
            .process_group(0)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("spawn {program}: {e}"));
        let lines = crate::line_channel(child.stdout.take().expect("stdout piped"));
        let stderr = Collected::from(child.stderr.take().expect("stderr piped"));
        Running {
            what: format!("{program} (pid {})", child.id()),
            child,
            lines,
            seen: Vec::new(),
            read: 0,
            stderr,
            status: None,
        }
    }

    /// [`start`](Running::start)s `program` with `args`.
    pub fn spawn(program: impl AsRef<OsStr>, args: &[&str]) -> Running {
        Running::start(Command::new(program).args(args))
    }

    /// Its pid, as the signal calls take it.
    pub fn pid(&self) -> Pid {
        crate::pid(&self.child)
    }

    /// Its pid, as /proc paths name it.
    pub fn id(&self) -> u32 {
        self.child.id()
    }

    /// Every stdout line received so far, those the waits passed over included.
    pub fn seen(&self) -> &[String] {
        &self.seen
    }

    /// The next stdout line that `wanted` accepts, among those after the ones earlier waits
    /// looked at, within `limit`. Err says why none came: the time ran out, or stdout ended.
    pub fn line_where(
        &mut self,
        limit: Duration,
        wanted: impl Fn(&str) -> bool,
    ) -> Result<String, RecvTimeoutError> {
        let seen = &mut self.seen;
        let found = crate::wait_for_line(&self.lines, limit, wanted, |l| seen.push(l.into()));
        self.read = self.seen.len();
        found
    }

    /// The next stdout line starting with `prefix` (`""`: the next line), or None if none
    /// came within `limit`.
    pub fn wait_line(&mut self, prefix: &str, limit: Duration) -> Option<String> {
        self.line_where(limit, |line| line.starts_with(prefix)).ok()
    }

    /// Waits, at most [`LIMIT`], for a stdout line equal to `line`; the test fails otherwise,
    /// showing what the program printed.
    #[track_caller]
    pub fn expect_line(&mut self, line: &str) {
        let found = self.line_where(LIMIT, |l| l == line);
        self.or_fail(found, &format!("no line {line:?}"));
    }

    /// Waits, at most [`LIMIT`], for a stdout line starting with `prefix` and returns it; the
    /// test fails otherwise, showing what the program printed.
    #[track_caller]
    pub fn expect_prefix(&mut self, prefix: &str) -> String {
        let found = self.line_where(LIMIT, |l| l.starts_with(prefix));
        self.or_fail(found, &format!("no line starting {prefix:?}"))
    }

    #[track_caller]
    fn or_fail(&self, found: Result<String, RecvTimeoutError>, what: &str) -> String {
        let why = match found {
            Ok(line) => return line,
            Err(RecvTimeoutError::Timeout) => format!("not within {LIMIT:?}"),
            Err(RecvTimeoutError::Disconnected) => "its stdout ended".to_string(),
        };
        panic!("{}: {what}: {why}\n{}", self.what, self.printed())
    }

    /// Is it still running? A program that exited and was not yet reaped is not; this does
    /// not reap it, so its group can still be signalled.
    pub fn running(&self) -> bool {
        let flags = WaitPidFlag::WEXITED | WaitPidFlag::WNOHANG | WaitPidFlag::WNOWAIT;
        self.status.is_none()
            && matches!(
                waitid(Id::Pid(self.pid()), flags),
                Ok(WaitStatus::StillAlive)
            )
    }

    /// SIGKILLs the program alone, as `kill -9 PID` would, and reaps it. Its children are
    /// not signalled: what they do when their parent dies is for the test to see.
    pub fn kill(&mut self) {
        if self.status.is_none() {
            let _ = kill(self.pid(), Signal::SIGKILL);
            self.status = self.child.wait().ok();
        }
    }

    /// Waits at most `limit` for it to exit, and reaps it: its status, or None if it is still
    /// running (it is left running).
    pub fn wait_exit(&mut self, limit: Duration) -> Option<ExitStatus> {
        if self.status.is_none() && self.exited_within(limit) {
            self.status = Some(self.child.wait().expect("wait"));
        }
        self.status
    }

    fn exited_within(&self, limit: Duration) -> bool {
        let end = Instant::now() + limit;
        while self.running() {
            if Instant::now() >= end {
                return false;
            }
            thread::sleep(Duration::from_millis(10));
        }
        true
    }

    /// What it wrote to stderr: so far while it runs; all of it once it has exited (this
    /// waits, at most [`LIMIT`], for the end of the stream, which a child may hold open).
    pub fn stderr(&self) -> String {
        if !self.running() {
            self.stderr.wait_for_end(Instant::now() + LIMIT);
        }
        self.stderr.text()
    }

    /// Waits at most `limit` for it to exit and for its stdout and stderr to end, then reaps
    /// it. The test fails if it is still running, or if its output is still open (a process
    /// it started holds it); the drop that follows stops the group.
    #[track_caller]
    pub fn finish(mut self, limit: Duration) -> Exited {
        let end = Instant::now() + limit;
        if !self.exited_within(limit) {
            panic!(
                "{} still running after {limit:?}\n{}",
                self.what,
                self.printed()
            );
        }
        let stdout_ended = loop {
            let left = end.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => self.seen.push(line),
                Err(e) => break e == RecvTimeoutError::Disconnected,
            }
        };
        if !(stdout_ended && self.stderr.wait_for_end(end)) {
            panic!(
                "{} exited, its output still open\n{}",
                self.what,
                self.printed()
            );
        }
        let status = self.child.wait().expect("wait");
        self.status = Some(status);
        Exited {
            status,
            stdout: std::mem::take(&mut self.seen),
            stderr: self.stderr.text(),
            read: self.read,
        }
    }

    /// What it printed so far, for a failure message; all of its stderr if it has exited
    /// (its last words tend to say why), waiting at most [`GRACE`] for them.
    fn printed(&self) -> String {
        if !self.running() {
            self.stderr.wait_for_end(Instant::now() + GRACE);
        }
        // The last lines say where it stopped; a flood of thousands would bury the message.
        let skipped = self.seen.len().saturating_sub(SHOWN);
        let stdout = self.seen[skipped..].join("\n");
        let stderr = self.stderr.text();
        let head = format!("stdout so far ({skipped} lines before these):");
        format!("{head}\n{stdout}\nstderr so far:\n{stderr}")
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if self.status.is_some() {
            return;
        }
        let group = self.pid();
        let _ = killpg(group, Signal::SIGTERM);
        self.exited_within(GRACE);
        let _ = killpg(group, Signal::SIGKILL);
        let _ = self.child.wait();
    }
}

/// What a program printed, once it had exited ([`Running::finish`]).
#[derive(Debug)]
pub struct Exited {
    pub status: ExitStatus,
    /// Every stdout line, from the first.
    pub stdout: Vec<String>,
    pub stderr: String,
    read: usize,
}

impl Exited {
    /// The stdout lines after those the waits looked at: what came after the last one waited
    /// for.
    pub fn unread(&self) -> &[String] {
        &self.stdout[self.read..]
    }
}

/// A stream read to its end by a thread of its own, its bytes readable as they come.
struct Collected {
    bytes: Arc<Mutex<Vec<u8>>>,
    /// Disconnects when the thread has reached the end of the stream.
    ended: Receiver<()>,
}

impl Collected {
    fn from(mut stream: impl Read + Send + 'static) -> Collected {
        let bytes = Arc::new(Mutex::new(Vec::new()));
        let (at_end, ended) = channel::<()>();
        let sink = bytes.clone();
        thread::spawn(move || {
            let _at_end = at_end; // dropped, so `ended` disconnects, when this thread ends
            let mut buf = [0; 4096];
            loop {
                match stream.read(&mut buf) {
                    Ok(0) => break,
                    Ok(n) => sink.lock().expect("stderr buffer").extend(&buf[..n]),
                    Err(e) if e.kind() == ErrorKind::Interrupted => {}
                    Err(_) => break,
                }
            }
        });
        Collected { bytes, ended }
    }

    /// Waits until the end of the stream or `end`, whichever comes first: did it end?
    fn wait_for_end(&self, end: Instant) -> bool {
        let left = end.saturating_duration_since(Instant::now());
        matches!(
            self.ended.recv_timeout(left),
            Err(RecvTimeoutError::Disconnected)
        )
    }

    fn text(&self) -> String {
        crate::text(&self.bytes.lock().expect("stderr buffer"))
    }
}
