//! Helpers shared by the end-to-end tests: spawn the real binary, read what it prints.
#![allow(dead_code, clippy::unwrap_used)]

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::Receiver;
use std::thread;
use std::time::Duration;

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

// Some test files use it, as they do the rest of this module.
#[allow(unused_imports)]
pub use testkit::is_root;

pub const BIN: &str = env!("CARGO_BIN_EXE_uds-demo");

/// A private 0700 directory for one test; removed on drop.
pub type TestDir = testkit::TempDir;

/// A copy of the binary that uid 65534 can run (the checkout may sit in a directory that
/// user cannot enter); removed on drop.
pub fn binary_for_nobody() -> testkit::NobodyCopy {
    testkit::NobodyCopy::of(BIN)
}

/// A running `uds-demo` whose stdout lines arrive on a channel; SIGTERM + reap on drop.
pub struct Running {
    pub child: Child,
    pub lines: Receiver<String>,
    pub seen: Vec<String>,
    /// Collects stderr as it comes, so a chatty child never blocks on a full pipe.
    pub err: Option<thread::JoinHandle<String>>,
}

impl Running {
    pub fn spawn(program: &str, args: &[&str]) -> Running {
        let mut child = Command::new(program)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn");
        let lines = testkit::line_channel(child.stdout.take().expect("stdout"));
        let mut err = child.stderr.take().expect("stderr");
        let err = thread::spawn(move || {
            let mut s = String::new();
            let _ = std::io::Read::read_to_string(&mut err, &mut s);
            s
        });
        Running {
            child,
            lines,
            seen: Vec::new(),
            err: Some(err),
        }
    }

    /// `uds-demo ARGS`, waiting for its "listening on " line; returns it and the address after it.
    pub fn server(args: &[&str]) -> (Running, String) {
        let mut r = Running::spawn(BIN, args);
        let line = r
            .wait_line("listening on ", Duration::from_secs(5))
            .expect("server did not start listening");
        let addr = line["listening on ".len()..]
            .split_whitespace()
            .next()
            .unwrap()
            .to_string();
        (r, addr)
    }

    /// Next line starting with `prefix` within `timeout` (other lines are kept in `seen`).
    pub fn wait_line(&mut self, prefix: &str, timeout: Duration) -> Option<String> {
        let wanted = |line: &str| line.starts_with(prefix);
        let seen = &mut self.seen;
        testkit::wait_for_line(&self.lines, timeout, wanted, |line| seen.push(line.into())).ok()
    }

    pub fn pid(&self) -> Pid {
        testkit::pid(&self.child)
    }

    /// Waits up to `timeout` for exit; None if still running.
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<std::process::ExitStatus> {
        testkit::wait_within(&mut self.child, timeout)
    }

    /// Everything the child wrote to stderr (call after it exited).
    pub fn stderr(&mut self) -> String {
        self.err
            .take()
            .map(|h| h.join().unwrap())
            .unwrap_or_default()
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Ok(Some(_)) = self.child.try_wait() {
            return;
        }
        let _ = kill(self.pid(), Signal::SIGTERM);
        if self.wait_exit(Duration::from_secs(2)).is_none() {
            testkit::kill_and_reap(&mut self.child);
        }
    }
}

/// Connects with a reply timeout so a broken server fails the test instead of hanging it.
pub fn connect(path: &Path) -> std::os::unix::net::UnixStream {
    let s = std::os::unix::net::UnixStream::connect(path).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    s
}
