//! The line-by-line talk with a child started with piped stdin and stdout
//! ([`Child::spawn`]): [`Child::tell`] writes a line, [`Child::close_stdin`] ends its input,
//! [`Child::hear`] and [`Child::expect_line`] read its next line with a deadline, so a child
//! that is stuck or died is reported instead of waited on forever.

use std::io::{self, Read, Write};
use std::os::fd::AsFd;
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};

use super::Child;
use crate::{Result, stop};

/// What a bounded read of a child's next line produced.
pub enum Heard {
    Line(String),
    Timeout,
    Closed,
}

impl Child {
    /// Writes one line to the child's stdin, in one write(2): a reader that takes the first
    /// chunk and exits must not leave a second write to fail with EPIPE.
    pub fn tell(&mut self, line: &str) -> Result {
        let stdin = self
            .stdin
            .as_mut()
            .ok_or("the child's stdin is not a pipe")?;
        stdin
            .write_all(format!("{line}\n").as_bytes())
            .map_err(|e| format!("write to child {}: {e}", self.pid))?;
        Ok(())
    }

    /// Closes our end of the child's stdin: the child reads end-of-file.
    pub fn close_stdin(&mut self) {
        self.stdin = None;
    }

    /// Waits at most `timeout` for the child's next line on its stdout, noticing a stop signal
    /// within 100 ms.
    pub fn hear(&mut self, timeout: Duration) -> Result<Heard> {
        let end = Instant::now() + timeout;
        loop {
            if let Some(at) = self.unread.iter().position(|&b| b == b'\n') {
                let line: Vec<u8> = self.unread.drain(..=at).collect();
                let text = String::from_utf8_lossy(&line[..at]).into_owned();
                return Ok(Heard::Line(text));
            }
            stop::check()?;
            let stdout = self
                .stdout
                .as_mut()
                .ok_or("the child's stdout is not a pipe")?;
            let left = end.saturating_duration_since(Instant::now());
            let slice = left.min(Duration::from_millis(100));
            let mut fds = [PollFd::new(stdout.as_fd(), PollFlags::POLLIN)];
            match poll(
                &mut fds,
                PollTimeout::try_from(slice).unwrap_or(PollTimeout::MAX),
            ) {
                Ok(0) if left.is_zero() => return Ok(Heard::Timeout),
                Ok(0) | Err(Errno::EINTR) => continue,
                Ok(_) => {}
                Err(e) => return Err(format!("poll child {} stdout: {e}", self.pid).into()),
            }
            let mut buf = [0u8; 4096];
            match stdout.read(&mut buf) {
                Ok(0) => return Ok(Heard::Closed),
                Ok(n) => self.unread.extend_from_slice(&buf[..n]),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(format!("read child {} stdout: {e}", self.pid).into()),
            }
        }
    }

    /// The child's next line; an error if it says nothing for `timeout` or closes its stdout.
    pub fn expect_line(&mut self, timeout: Duration) -> Result<String> {
        match self.hear(timeout)? {
            Heard::Line(line) => Ok(line),
            Heard::Timeout => Err(format!(
                "child {} said nothing for {timeout:?}; it is stuck",
                self.pid
            )
            .into()),
            Heard::Closed => Err(format!("child {} closed its output: it died", self.pid).into()),
        }
    }
}
