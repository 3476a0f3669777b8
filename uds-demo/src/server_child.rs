//! The tour's servers: fresh copies of this binary (`uds-demo serve ...`, `uds-demo fd-recv`)
//! started with std::process::Command, so they are unrelated processes that inherit no socket,
//! as a server and a client started from two terminals would be. (Spawning rather than fork()
//! also keeps the tour free to use threads, and the servers run the code a user runs.)
//!
//! Each dies with the tour (`--parent-pid`: PR_SET_PDEATHSIG), and plumbing's `Child` kills and
//! reaps it on every path; the files it made are in the tour's private directory.

use std::io::{PipeReader, Read};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use nix::unistd::Pid;
use plumbing::Result;
use plumbing::child::{self, Child, Heard};

/// How long a server may take to say what the tour waits for.
const READY_LIMIT: Duration = Duration::from_secs(3);

/// A server started from this binary; dropping it SIGKILLs and reaps it.
pub struct ServerChild {
    child: Child,
    /// Its stderr, read only when it dies, to say why.
    // plumbing-wanted: a way to read a spawned Child's piped stderr (it keeps the pipe private).
    stderr: PipeReader,
}

impl ServerChild {
    /// Starts `uds-demo ARGS --parent-pid <ours>`. Its stdout is our readiness handshake (no
    /// sleeps); its stderr is shown only if it fails.
    pub fn spawn(args: &[&str]) -> Result<ServerChild> {
        ServerChild::start(child::this_program()?, args)
    }

    /// The same, inside the network namespace `netns`: `ip netns exec NETNS uds-demo ARGS`
    /// (ip execs the server, so the child is the server itself).
    pub fn spawn_in(netns: &str, args: &[&str]) -> Result<ServerChild> {
        let exe = std::env::current_exe().map_err(|e| format!("current_exe: {e}"))?;
        let mut ip = Command::new("ip");
        ip.args(["netns", "exec", netns]).arg(exe);
        ServerChild::start(ip, args)
    }

    fn start(mut command: Command, args: &[&str]) -> Result<ServerChild> {
        let (stderr, stderr_end) = std::io::pipe().map_err(|e| format!("pipe: {e}"))?;
        command
            .args(args)
            .args(["--parent-pid", &std::process::id().to_string()])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(stderr_end);
        let child =
            Child::spawn(&mut command).map_err(|e| format!("uds-demo {}: {e}", args.join(" ")))?;
        // `command`, and with it our copy of the pipe's write end, is dropped here: reading
        // `stderr` then ends when the server has exited.
        Ok(ServerChild { child, stderr })
    }

    pub fn pid(&self) -> Pid {
        self.child.pid()
    }

    /// Waits (at most 3 s, noticing a stop signal) for a line of the server's stdout that
    /// starts with `prefix`, skipping the others, and returns it.
    pub fn wait_for_line_starting(&mut self, prefix: &str) -> Result<String> {
        let deadline = Instant::now() + READY_LIMIT;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.child.hear(left)? {
                Heard::Line(line) if line.starts_with(prefix) => {
                    return Ok(line.trim_end().to_string());
                }
                Heard::Line(_) => {}
                Heard::Timeout => {
                    let pid = self.pid();
                    let limit = READY_LIMIT.as_secs();
                    return Err(
                        format!("server pid {pid}: no line {prefix:?} within {limit} s").into(),
                    );
                }
                Heard::Closed => return Err(self.why_it_died()),
            }
        }
    }

    /// The server closed its stdout: it has exited. How, and what it said on stderr.
    fn why_it_died(&mut self) -> plumbing::Error {
        let pid = self.pid();
        let how = match self.child.wait(Duration::from_secs(1)) {
            Ok(status) => child::describe(status),
            Err(e) => return e,
        };
        let mut said = String::new();
        let _ = self.stderr.read_to_string(&mut said);
        format!("server pid {pid} {how}: {}", said.trim()).into()
    }

    /// SIGTERM, as Ctrl-C in its terminal would: the server removes what it owns and exits.
    /// Returns how it ended (waiting at most 3 s).
    pub fn stop(&mut self) -> Result<String> {
        self.child.signal(nix::sys::signal::Signal::SIGTERM)?;
        Ok(child::describe(self.child.wait(READY_LIMIT)?))
    }

    /// SIGKILL, as a crash would: the server gets no chance to clean up.
    pub fn kill_hard(&mut self) {
        self.child.kill();
    }
}
