//! Progress on stderr while the run measures. On a terminal: one line, rewritten in place
//! (which measurement, how many of how many, seconds since the start), cleared when done; it
//! fits 80 columns, since a line the terminal wraps cannot be rewritten in place. Not on a
//! terminal (a log file, a test): one line per measurement with its result, whole, however
//! long: a log has no width, and a reason cut short is a reason lost.
//!
//! Also here: noticing that nobody reads stdout any more, so the run stops at once instead of
//! measuring everything for a report nobody will see.

use std::io::{self, IsTerminal, Write};
use std::os::fd::AsFd;
use std::time::Instant;

use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use plumbing::program;

use crate::row::fit;

/// Width of the line rewritten in place on a terminal, `compare: ` included.
const COLUMNS: usize = 80;
/// "Back to the start of the line, erase it" (ANSI), for the line rewritten in place.
const ERASE_LINE: &str = "\r\x1b[2K";

pub struct Progress {
    done: usize,
    total: usize,
    started: Instant,
    /// stderr is a terminal: rewrite one line in place
    live: bool,
}

impl Progress {
    /// `total`: measurements the run will make (or skip, when a cell has no more to measure).
    pub fn new(total: usize) -> Progress {
        Progress {
            done: 0,
            total,
            started: Instant::now(),
            live: io::stderr().is_terminal(),
        }
    }

    /// A measurement starts: on a terminal, say which.
    pub fn start(&mut self, what: &str, round: usize, rounds: usize) {
        if self.live {
            let line = format!(
                "{}: {}/{} {:.1} s, round {round}/{rounds}: {what}",
                program::name(),
                self.done + 1,
                self.total,
                self.started.elapsed().as_secs_f64()
            );
            // One column spare: a terminal that wraps at its last column would scroll.
            eprint_quietly(&format!("{ERASE_LINE}{}", fit(&line, COLUMNS - 1)));
        }
    }

    /// A measurement ended: not on a terminal, say what it measured (`result`), in full.
    pub fn done(&mut self, what: &str, result: &str) {
        self.done += 1;
        if !self.live {
            program::say(&format!(
                "[{:>3}/{}] {what}: {result}",
                self.done, self.total
            ));
        }
    }

    /// A measurement that will not be made (its cell does not apply, or failed already).
    pub fn skip(&mut self) {
        self.done += 1;
    }

    /// The run is over: erase the line rewritten in place.
    pub fn finish(&mut self) {
        if self.live {
            eprint_quietly(ERASE_LINE);
            self.live = false;
        }
    }
}

impl Drop for Progress {
    /// Stopped by a signal or a failure: the next line on stderr must not land after the
    /// progress line.
    fn drop(&mut self) {
        self.finish();
    }
}

/// Text on stderr; a closed or full stderr must not end the run (eprint! would panic).
pub fn eprint_quietly(text: &str) {
    let mut stderr = io::stderr();
    let _ = stderr.write_all(text.as_bytes());
    let _ = stderr.flush();
}

/// When nobody is left to read stdout (a pipe whose reader closed polls POLLERR, a terminal
/// that hung up POLLHUP), ends the run now rather than after measuring everything.
pub fn stop_if_nobody_reads() {
    let stdout = io::stdout();
    let mut fds = [PollFd::new(stdout.as_fd(), PollFlags::POLLOUT)];
    let gone = PollFlags::POLLERR | PollFlags::POLLHUP;
    let revents = match poll(&mut fds, PollTimeout::ZERO) {
        Ok(_) => fds[0].revents().unwrap_or(PollFlags::empty()),
        Err(_) => PollFlags::empty(), // cannot tell: the report's own write will
    };
    if revents.intersects(gone) {
        // This write fails (EPIPE, or EIO from a hung-up terminal) and println! unwinds, as
        // for any failed write to stdout: plumbing::program ends the run, quietly with status
        // 141 for a closed pipe; every owner's Drop runs on the way.
        println!();
    }
}
