//! Child processes that never outlive the run: forked ([`fork`], or [`fork_with`] for a child
//! whose exit status says why it ended) or this program started again in a role
//! ([`this_program`], [`Child::spawn`]). A [`Child`] is reaped on every path: its `Drop`
//! SIGKILLs and reaps one that is still running, and every wait is bounded and notices a stop
//! signal ([`Child::reap`] kills one that will not end in time). This file holds the one
//! fork(2) of the workspace, [`Child`] and its waits; `reasons` holds [`fork_with`], its
//! [`ExitReason`] and [`Child::reap`]; `talk` holds the line-by-line talk with a spawned child
//! ([`Child::tell`], [`Child::hear`], [`Heard`]).

use std::io::{self, Read, Write};
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd};
use std::panic::{self, AssertUnwindSafe};
use std::process::{ChildStderr, ChildStdin, ChildStdout, Command, Stdio};
use std::time::{Duration, Instant};

use nix::sys::prctl;
use nix::sys::signal::{Signal, kill};
use nix::sys::wait::{WaitPidFlag, WaitStatus, waitpid};
use nix::unistd::{ForkResult, Pid, getpid, getppid};

use crate::program::{self, STDOUT_CLOSED};
use crate::{Result, stop};

mod reasons;
mod talk;

pub use reasons::{ExitReason, Reaped, STOP_GRACE, Start, fork_with};
pub use talk::Heard;

/// A child process of ours; see the module documentation.
pub struct Child {
    pid: Pid,
    reaped: bool,
    stdin: Option<ChildStdin>,
    stdout: Option<ChildStdout>,
    stderr: Option<ChildStderr>,
    unread: Vec<u8>,
}

/// Forks a child that runs `body` and exits: 0 on `Ok`, 1 after one line on stderr on `Err`,
/// 128 + n when a stop signal ended it. The child never returns into the caller, so the
/// parent's owners (names, mappings, other children) are never dropped twice, and it dies with
/// the parent (`PR_SET_PDEATHSIG`), so it is never an orphan.
///
/// Only for a process that has started no thread: the child of a multithreaded process gets a
/// copy of locks some other thread may hold.
pub fn fork(body: impl FnOnce() -> Result) -> Result<Child> {
    fork_closing(&[], body)
}

/// [`fork`], and the child first closes `close`: the descriptors it inherits but must not
/// hold, as TLPI's `close(pfd[1])` after `fork()` (a reader that kept its own copy of the
/// write end would never see end-of-file). The parent's handles to them stay open.
pub fn fork_closing(close: &[BorrowedFd], body: impl FnOnce() -> Result) -> Result<Child> {
    // Unflushed output would be printed twice, once by each process.
    io::stdout()
        .flush()
        .map_err(|e| format!("flush stdout: {e}"))?;
    let parent = getpid();
    let pid = fork_into(Leave::Exit, || {
        // If the parent died before prctl took effect, getppid() shows it.
        if prctl::set_pdeathsig(Signal::SIGKILL).is_err() || getppid() != parent {
            return 1;
        }
        close_in_child(close);
        // No panic may unwind past here: up the stack lie the parent's owners, and dropping
        // them in the child would unlink the parent's names and kill its other children.
        let code = match panic::catch_unwind(AssertUnwindSafe(body)) {
            Ok(Ok(())) => 0,
            Ok(Err(e)) => match e.downcast_ref::<stop::Interrupted>() {
                Some(stop::Interrupted(signal)) => 128 + signal,
                None => {
                    program::say(&format!("child {}: {e}", getpid()));
                    1
                }
            },
            Err(payload) => program::child_panic_status(&*payload),
        };
        let _ = io::stdout().flush();
        code
    })?;
    Ok(Child::from_pid(pid))
}

/// How a forked child leaves once `child` has returned its exit status.
#[derive(Clone, Copy)]
enum Leave {
    /// exit(3): Rust's stdout is flushed, so what the child printed is not lost. The parent
    /// flushed before the fork, so the buffer holds only the child's own output.
    Exit,
    /// _exit(2): at once, without the parent's atexit handlers and without flushing stdio
    /// buffers copied from the parent.
    Immediately,
}

/// The one fork(2) of the house. The child runs `child` and leaves as `leave` says with the
/// status it returns: it never returns into the caller, so the parent's owners up the stack
/// (names, mappings, other children) are never dropped twice. `child` must not unwind: both
/// callers catch a panic and turn it into a status. The parent gets the child's pid.
fn fork_into(leave: Leave, child: impl FnOnce() -> i32) -> Result<Pid> {
    // SAFETY: callers fork only while the process is single-threaded (see [`fork`]), so the
    // child gets a consistent copy of every lock and of the allocator; it runs `child` and
    // exits.
    match unsafe { nix::unistd::fork() }.map_err(|e| format!("fork: {e}"))? {
        ForkResult::Parent { child } => Ok(child),
        ForkResult::Child => {
            let code = child();
            match leave {
                Leave::Exit => std::process::exit(code),
                // SAFETY: _exit ends the child at once; nothing of this process runs after it.
                Leave::Immediately => unsafe { libc::_exit(code) },
            }
        }
    }
}

/// In a forked child: closes `close`, the parent's descriptors it must not hold.
fn close_in_child(close: &[BorrowedFd]) {
    for fd in close {
        // SAFETY: the child never returns into the caller (it leaves by exit or _exit), so
        // the owner of `fd` up the stack is never dropped here and never closes the number a
        // second time.
        drop(unsafe { OwnedFd::from_raw_fd(fd.as_raw_fd()) });
    }
}

/// This program, to be started again as a separate process in a role (`Command::args`).
pub fn this_program() -> Result<Command> {
    let exe = std::env::current_exe().map_err(|e| format!("current_exe: {e}"))?;
    Ok(Command::new(exe))
}

/// Runs this program with `args` to its end (at most `limit`), stdin from /dev/null, and
/// returns whether it succeeded and what it printed (stdout, then stderr). The roles run this
/// way print a few lines, far less than a pipe holds, so waiting before reading cannot stall.
pub fn run_this(args: &[&str], limit: Duration) -> Result<(bool, String)> {
    let mut command = this_program()?;
    command
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = Child::spawn(&mut command)?;
    let status = child.wait(limit)?;
    let mut text = Vec::new();
    for pipe in [
        child.stdout.take().map(|p| Box::new(p) as Box<dyn Read>),
        child.stderr.take().map(|p| Box::new(p) as Box<dyn Read>),
    ]
    .into_iter()
    .flatten()
    {
        let mut pipe = pipe;
        pipe.read_to_end(&mut text)
            .map_err(|e| format!("read the output of {args:?}: {e}"))?;
    }
    let ok = matches!(status, WaitStatus::Exited(_, 0));
    Ok((ok, String::from_utf8_lossy(&text).into_owned()))
}

/// In a role that a tour may start (it passes its pid, `--parent-pid`): die with that tour,
/// even when the tour is killed by SIGKILL. A role run by hand (`None`) is left alone.
pub fn die_with_tour(parent_pid: Option<u32>) -> Result {
    match parent_pid {
        Some(parent) => die_with_parent(i32::try_from(parent)?),
        None => Ok(()),
    }
}

/// In a process started in a role: die with the parent that started us (`PR_SET_PDEATHSIG`),
/// and fail if it is already gone. `parent` is the pid it passed us on the command line.
pub fn die_with_parent(parent: i32) -> Result {
    prctl::set_pdeathsig(Signal::SIGKILL).map_err(|e| format!("prctl PR_SET_PDEATHSIG: {e}"))?;
    // If the parent died before prctl took effect we were already re-parented.
    if getppid().as_raw() != parent {
        return Err(format!("the parent (pid {parent}) is already gone").into());
    }
    Ok(())
}

impl Child {
    fn from_pid(pid: Pid) -> Child {
        Child {
            pid,
            reaped: false,
            stdin: None,
            stdout: None,
            stderr: None,
            unread: Vec::new(),
        }
    }

    /// Starts `command`, keeping the pipes it asked for (`Stdio::piped()`): [`Child::tell`]
    /// writes to its stdin, [`Child::hear`] reads its stdout. It is reaped by pid, not by std.
    pub fn spawn(command: &mut Command) -> Result<Child> {
        let program = command.get_program().to_string_lossy().into_owned();
        let mut started = command
            .spawn()
            .map_err(|e| format!("spawn {program}: {e}"))?;
        let pid = Pid::from_raw(i32::try_from(started.id())?);
        let mut child = Child::from_pid(pid);
        child.stdin = started.stdin.take();
        child.stdout = started.stdout.take();
        child.stderr = started.stderr.take();
        // `started` (std's handle) is dropped here without waiting; waitpid below reaps.
        Ok(child)
    }

    pub fn pid(&self) -> Pid {
        self.pid
    }

    /// True once waitpid has collected its exit status (it is no longer even a zombie).
    pub fn is_reaped(&self) -> bool {
        self.reaped
    }

    /// kill(2) to this child only.
    pub fn signal(&self, signal: Signal) -> Result {
        kill(self.pid, signal).map_err(|e| format!("kill {} {signal}: {e}", self.pid))?;
        Ok(())
    }

    /// SIGKILLs and reaps the child, if it has not been reaped yet.
    pub fn kill(&mut self) {
        if !self.reaped {
            // Errors ignored: it may be dead already, and SIGKILL also ends a stopped child.
            let _ = kill(self.pid, Signal::SIGKILL);
            let _ = waitpid(self.pid, None);
            self.reaped = true;
        }
    }

    /// One `waitpid(WNOHANG | flags)`: `Some(status)` if the child changed state (exited or
    /// was killed, and is then reaped; or stopped or continued, with WUNTRACED / WCONTINUED).
    /// A child that found our shared stdout closed ([`STDOUT_CLOSED`]) makes us unwind the
    /// same way, so the run ends quietly.
    pub fn try_wait(&mut self, flags: WaitPidFlag) -> Result<Option<WaitStatus>> {
        if self.reaped {
            return Err(format!("child {} was already reaped", self.pid).into());
        }
        let status = waitpid(self.pid, Some(flags | WaitPidFlag::WNOHANG))
            .map_err(|e| format!("waitpid {}: {e}", self.pid))?;
        match status {
            WaitStatus::StillAlive => Ok(None),
            status => Ok(Some(self.collected(status))),
        }
    }

    /// Takes note of a status waitpid returned: once the child exited or was killed it is
    /// reaped. An exit with [`STDOUT_CLOSED`] unwinds (see [`Child::try_wait`]).
    fn collected(&mut self, status: WaitStatus) -> WaitStatus {
        match status {
            WaitStatus::Exited(_, code) => {
                self.reaped = true;
                if code == i32::from(STDOUT_CLOSED) {
                    program::resume_stdout_closed();
                }
            }
            WaitStatus::Signaled(..) => self.reaped = true,
            _ => {}
        }
        status
    }

    /// Waits at most `limit` for the child to exit or die. A stop signal kills and reaps it and
    /// returns `Interrupted`; running past `limit` is an error (the child is killed on drop).
    pub fn wait(&mut self, limit: Duration) -> Result<WaitStatus> {
        self.wait_for(WaitPidFlag::empty(), limit)
    }

    /// [`Child::wait`] for any state change `flags` asks for (WUNTRACED, WCONTINUED).
    pub fn wait_for(&mut self, flags: WaitPidFlag, limit: Duration) -> Result<WaitStatus> {
        let deadline = Instant::now() + limit;
        loop {
            if let Some(status) = self.try_wait(flags)? {
                return Ok(status);
            }
            if let Err(stopped) = stop::check() {
                self.kill();
                return Err(stopped.into());
            }
            if Instant::now() > deadline {
                return Err(format!("child {} still running after {limit:?}", self.pid).into());
            }
            std::thread::sleep(Duration::from_millis(1));
        }
    }

    /// Waits (see [`Child::wait`]) and insists on a clean exit, status 0.
    pub fn wait_ok(&mut self, limit: Duration) -> Result {
        match self.wait(limit)? {
            WaitStatus::Exited(_, 0) => Ok(()),
            status => Err(format!("child {} {}", self.pid, describe(status)).into()),
        }
    }
}

impl Drop for Child {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Waits for all `children` to exit with status 0, at most `limit` in all, and returns the
/// moment each was seen to exit, in order. The first failure, a stop signal or the limit ends
/// the wait, and every child still running is then killed at once, before any is reaped: a
/// child killed while it holds a shared lock would otherwise wake a sibling with EOWNERDEAD,
/// and that sibling would report an error of its own.
pub fn wait_all(children: &mut [Child], limit: Duration) -> Result<Vec<Instant>> {
    let result = wait_for_each(children, limit);
    if result.is_err() {
        for child in children.iter().filter(|c| !c.reaped) {
            let _ = kill(child.pid, Signal::SIGKILL);
        }
        for child in children.iter_mut() {
            child.kill();
        }
    }
    result
}

fn wait_for_each(children: &mut [Child], limit: Duration) -> Result<Vec<Instant>> {
    let deadline = Instant::now() + limit;
    let mut exited: Vec<Option<Instant>> = vec![None; children.len()];
    while exited.iter().any(Option::is_none) {
        for (child, exit) in children.iter_mut().zip(&mut exited) {
            if exit.is_some() {
                continue;
            }
            match child.try_wait(WaitPidFlag::empty())? {
                None => {}
                Some(WaitStatus::Exited(_, 0)) => *exit = Some(Instant::now()),
                Some(status) => {
                    return Err(format!("child {} {}", child.pid, describe(status)).into());
                }
            }
        }
        stop::check()?;
        if Instant::now() > deadline {
            return Err(format!("children still running after {limit:?}").into());
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    Ok(exited.into_iter().flatten().collect())
}

/// How a child ended, in words: "exited with status 0", "was killed by SIGKILL (a shell
/// shows 137)".
pub fn describe(status: WaitStatus) -> String {
    match status {
        WaitStatus::Exited(_, code) => format!("exited with status {code}"),
        WaitStatus::Signaled(_, signal, _) => {
            format!(
                "was killed by {signal} (a shell shows {})",
                128 + signal as i32
            )
        }
        WaitStatus::Stopped(_, signal) => format!("was stopped by {signal}"),
        WaitStatus::Continued(_) => "was continued".to_string(),
        other => format!("changed state: {other:?}"),
    }
}
