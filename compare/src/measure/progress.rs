//! Progress on stderr while the run measures. On a terminal: one line, rewritten in place
//! (which measurement, how many of how many, seconds since the start), cleared when done; it
//! fits 80 columns, since a line the terminal wraps cannot be rewritten in place. Not on a
//! terminal (a log file, a test): one line per measurement with its result, whole, however
//! long: a log has no width, and a reason cut short is a reason lost. A cell whose first round
//! was n/a or failed is not measured again and gets no line, so a run that ends normally
//! closes the log with one line that reaches the total and says what the missing counts were.
//!
//! Also here: noticing that nobody reads stdout any more, so the run stops at once instead of
//! measuring everything for a report nobody will see.

use std::io::{self, IsTerminal, Write};
use std::os::fd::AsFd;
use std::time::Instant;

use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use plumbing::program;

use crate::row::{Skip, fit};

/// Width of the line rewritten in place on a terminal, `compare: ` included.
const COLUMNS: usize = 80;
/// "Back to the start of the line, erase it" (ANSI), for the line rewritten in place.
const ERASE_LINE: &str = "\r\x1b[2K";

pub struct Progress {
    /// measurements made or skipped so far
    done: usize,
    total: usize,
    /// of `done`, skipped: their cell was n/a in an earlier round
    known_na: usize,
    /// of `done`, skipped: their cell failed (or was stopped) in an earlier round
    known_failed: usize,
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
            known_na: 0,
            known_failed: 0,
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

    /// A measurement that will not be made: an earlier round of its cell ended in `why`.
    pub fn skip(&mut self, why: &Skip) {
        self.done += 1;
        match why {
            Skip::NotApplicable(_) => self.known_na += 1,
            Skip::Failed(_) | Skip::Stopped => self.known_failed += 1,
        }
    }

    /// The run measured to the end: on a terminal, erase the line rewritten in place; in a
    /// log, close it with the count the skipped measurements would have reached, e.g.
    /// "[ 18/18] done: 12 logged above, 6 not measured again (n/a already known)".
    pub fn finish(self) {
        if self.live {
            return; // Drop erases the line
        }
        let logged = self.done - self.known_na - self.known_failed;
        let mut line = format!(
            "[{:>3}/{}] done: {logged} logged above",
            self.done, self.total
        );
        if self.known_na > 0 {
            line += &format!(", {} not measured again (n/a already known)", self.known_na);
        }
        if self.known_failed > 0 {
            line += &format!(
                ", {} not measured again (failed already)",
                self.known_failed
            );
        }
        program::say(&line);
    }
}

impl Drop for Progress {
    /// At the end, or stopped by a signal or a failure: the next line on stderr must not
    /// land after the line rewritten in place. A stopped run gets no closing count.
    fn drop(&mut self) {
        if self.live {
            eprint_quietly(ERASE_LINE);
        }
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
