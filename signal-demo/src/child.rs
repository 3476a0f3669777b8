//! The children the steps signal: this same binary, started as `signal-demo child --parent <pid>
//! <role>`.
//!
//! Why spawn our own binary rather than fork(): a freshly exec'd child starts with a clean signal
//! state — default dispositions, an empty signal mask (std resets it), no signal-hook handlers
//! copied from the parent's Ctrl-C flag — which is exactly what a demo of defaults must start
//! from. It is safe whatever threads exist (fork is only safe in a single-threaded process;
//! signal-hook's `Signals` starts no thread, but a `Signals` moved to a handler thread would).
//! And the child's stdout pipe is the readiness handshake: the parent never sleeps hoping the
//! child is ready, it waits for the child's "ready" line.

use std::env;
use std::io::{self, Read, Write};
use std::os::fd::AsFd;
use std::process::{self, ChildStdin, ChildStdout, Command, Stdio};
use std::time::{Duration, Instant};

use clap::Subcommand;
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use nix::sys::prctl;
use nix::sys::signal::{Signal, kill};
use nix::sys::wait::{WaitPidFlag, WaitStatus, waitpid};
use nix::unistd::{Pid, getppid};

use crate::{Res, check_stop};

/// How long the parent waits for a child's reply before calling it dead or stuck.
pub const REPLY_TIMEOUT: Duration = Duration::from_secs(2);

/// What a child does; each is the other half of one step.
#[derive(Subcommand, Clone, Copy)]
pub enum Role {
    /// Step 2 / send: catches INT, TERM, USR1, USR2, HUP with signal-hook's iterator
    Catcher,
    /// Step 3: counts and prints its progress every 10 ms
    Worker,
    /// Step 4: exits at once with this status
    Exit {
        #[arg(long)]
        code: i32,
    },
    /// Step 4: waits until a signal ends it
    Sleeper,
    /// Step 5: blocks SIGUSR1 and SIGRTMIN, counts them after the parent says "sent"
    Pending,
    /// Step 6: blocks in read(2) on stdin with a SIGUSR1 handler
    Eintr {
        #[arg(long)]
        restart: bool,
    },
    /// Steps 7-8: answers each doorbell ring with a ring back, `rounds` times
    Doorbell {
        #[arg(long)]
        rounds: u64,
    },
}

/// Child side: die with the parent, then play the role.
pub fn run_role(parent: i32, role: Role) -> Res {
    // Ask the kernel to SIGKILL us when our parent dies, so no child is ever left orphaned.
    // (Strictly: when the parent *thread* that started us exits; our parent starts children
    // from its only thread, so that is the parent process ending.)
    prctl::set_pdeathsig(Signal::SIGKILL).map_err(|e| format!("prctl(PR_SET_PDEATHSIG): {e}"))?;
    // If the parent died before prctl took effect we were already re-parented: leave now.
    if getppid().as_raw() != parent {
        return Err("parent already gone".into());
    }
    let parent = Pid::from_raw(parent);
    match role {
        Role::Catcher => crate::catching::catcher(),
        Role::Worker => crate::uncatchable::worker(),
        Role::Exit { code } => process::exit(code),
        Role::Sleeper => loop {
            nix::unistd::pause();
        },
        Role::Pending => crate::pending::receiver(),
        Role::Eintr { restart } => crate::eintr::reader(restart),
        Role::Doorbell { rounds } => crate::cost::answer(parent, rounds),
    }
}

/// Child side: one line to the parent, flushed at once (the parent is waiting for it).
pub fn say(line: &str) -> Res {
    let mut out = io::stdout().lock();
    writeln!(out, "{line}")
        .and_then(|()| out.flush())
        .map_err(|e| format!("write to parent: {e}"))?;
    Ok(())
}

/// What a bounded read from the child produced.
pub enum Heard {
    Line(String),
    Timeout,
    Closed,
}

/// Parent side: one running child. Dropping it kills (SIGKILL) and reaps the child if it has not
/// been reaped yet, so no error path leaves a child or a zombie behind.
pub struct Child {
    pid: Pid,
    stdin: Option<ChildStdin>,
    stdout: ChildStdout,
    unread: Vec<u8>,
    reaped: bool,
}

impl Child {
    /// Starts `signal-demo child --parent <our pid> <role> <args>` with piped stdin and stdout.
    pub fn spawn(role: &str, args: &[&str]) -> Res<Child> {
        let exe = env::current_exe().map_err(|e| format!("current_exe: {e}"))?;
        let mut started = Command::new(exe)
            .args(["child", "--parent", &process::id().to_string(), role])
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .map_err(|e| format!("spawn child {role}: {e}"))?;
        let pid = Pid::from_raw(i32::try_from(started.id())?);
        let stdout = started.stdout.take();
        let stdin = started.stdin.take();
        // `started` (std's handle) is dropped here; we reap by pid with waitpid ourselves.
        let stdout = stdout.ok_or("spawn: no stdout pipe")?;
        Ok(Child {
            pid,
            stdin,
            stdout,
            unread: Vec::new(),
            reaped: false,
        })
    }

    /// Spawns a child and waits for its "ready" line.
    pub fn spawn_ready(role: &str, args: &[&str]) -> Res<Child> {
        let mut child = Child::spawn(role, args)?;
        let line = child.expect_line()?;
        if line != "ready" {
            return Err(format!("child {role}: expected \"ready\", got {line:?}").into());
        }
        Ok(child)
    }

    pub fn pid(&self) -> Pid {
        self.pid
    }

    /// True once waitpid has collected its exit status (it is no longer even a zombie).
    pub fn is_reaped(&self) -> bool {
        self.reaped
    }

    /// kill(2) to this child only — the demo never signals anything but its own children.
    pub fn signal(&self, signal: Signal) -> Res {
        kill(self.pid, signal).map_err(|e| format!("kill({}, {signal}): {e}", self.pid))?;
        Ok(())
    }

    /// Writes one line to the child's stdin.
    pub fn tell(&mut self, line: &str) -> Res {
        let stdin = self.stdin.as_mut().ok_or("child stdin already closed")?;
        // One write(2) for the whole line: a reader that takes the first chunk and exits must
        // not leave a second write to fail with EPIPE.
        stdin
            .write_all(format!("{line}\n").as_bytes())
            .map_err(|e| format!("write to child {}: {e}", self.pid))?;
        Ok(())
    }

    /// Waits at most `timeout` for the child's next line (checking Ctrl-C every 100 ms).
    pub fn hear(&mut self, timeout: Duration) -> Res<Heard> {
        let end = Instant::now() + timeout;
        loop {
            if let Some(at) = self.unread.iter().position(|&b| b == b'\n') {
                let line: Vec<u8> = self.unread.drain(..=at).collect();
                return Ok(Heard::Line(
                    String::from_utf8_lossy(&line[..at]).into_owned(),
                ));
            }
            check_stop()?;
            let left = end.saturating_duration_since(Instant::now());
            let slice = left.min(Duration::from_millis(100));
            let mut fds = [PollFd::new(self.stdout.as_fd(), PollFlags::POLLIN)];
            match poll(
                &mut fds,
                PollTimeout::try_from(slice).unwrap_or(PollTimeout::MAX),
            ) {
                Ok(0) if left.is_zero() => return Ok(Heard::Timeout),
                Ok(0) | Err(nix::errno::Errno::EINTR) => continue,
                Ok(_) => {}
                Err(e) => return Err(format!("poll child stdout: {e}").into()),
            }
            let mut buf = [0u8; 4096];
            match self.stdout.read(&mut buf) {
                Ok(0) => return Ok(Heard::Closed),
                Ok(n) => self.unread.extend_from_slice(&buf[..n]),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(format!("read child stdout: {e}").into()),
            }
        }
    }

    /// The child's next line; an error if it says nothing for REPLY_TIMEOUT or dies.
    pub fn expect_line(&mut self) -> Res<String> {
        match self.hear(REPLY_TIMEOUT)? {
            Heard::Line(line) => Ok(line),
            Heard::Timeout => Err(format!(
                "child {} said nothing for {} s; it is stuck",
                self.pid,
                REPLY_TIMEOUT.as_secs()
            )
            .into()),
            Heard::Closed => Err(format!("child {} closed its output: it died", self.pid).into()),
        }
    }

    /// One waitpid(WNOHANG | flags): Some(status) if the child changed state.
    pub fn try_wait(&mut self, flags: WaitPidFlag) -> Res<Option<WaitStatus>> {
        let status = waitpid(self.pid, Some(flags | WaitPidFlag::WNOHANG))
            .map_err(|e| format!("waitpid({}): {e}", self.pid))?;
        match status {
            WaitStatus::StillAlive => Ok(None),
            WaitStatus::Exited(..) | WaitStatus::Signaled(..) => {
                self.reaped = true;
                Ok(Some(status))
            }
            other => Ok(Some(other)),
        }
    }

    /// Waits (bounded by REPLY_TIMEOUT) for a state change: exit or death by default,
    /// stop with WUNTRACED, resume with WCONTINUED.
    pub fn wait_for(&mut self, flags: WaitPidFlag) -> Res<WaitStatus> {
        let end = Instant::now() + REPLY_TIMEOUT;
        loop {
            if let Some(status) = self.try_wait(flags)? {
                return Ok(status);
            }
            if Instant::now() >= end {
                return Err(format!("child {} did not change state within 2 s", self.pid).into());
            }
            check_stop()?;
            std::thread::sleep(Duration::from_millis(1));
        }
    }
}

impl Drop for Child {
    fn drop(&mut self) {
        if !self.reaped {
            // Errors ignored: the child may already be dead, and SIGKILL also ends a stopped one.
            let _ = kill(self.pid, Signal::SIGKILL);
            let _ = waitpid(self.pid, None);
        }
    }
}

/// How a child ended, in words: "exited with status 0", "killed by SIGINT (shell: 130)".
pub fn describe(status: WaitStatus) -> String {
    match status {
        WaitStatus::Exited(_, code) => format!("exited with status {code}"),
        WaitStatus::Signaled(_, signal, _) => {
            format!("killed by {signal} (a shell shows {})", 128 + signal as i32)
        }
        WaitStatus::Stopped(_, signal) => format!("stopped by {signal}"),
        WaitStatus::Continued(_) => "continued".to_string(),
        other => format!("{other:?}"),
    }
}
