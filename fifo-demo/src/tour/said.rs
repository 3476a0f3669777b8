//! What a step's processes said: each one's stdout is a pipe to the tour, copied line by line
//! to the tour's stdout as it arrives (the reader sees the same lines, in the same order), and
//! kept, so a step can judge the lecture's claims from the numbers its processes printed.

use std::io::{self, BufRead, BufReader, PipeReader, Write};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use plumbing::stop;

/// The lines one process printed so far, copied to our stdout by a thread of the tour.
pub struct Relay {
    lines: Arc<Mutex<Vec<String>>>,
    thread: Option<JoinHandle<()>>,
}

impl Relay {
    /// Starts copying `from` (the read end of the process's stdout) to our stdout. When our
    /// stdout is closed (`| head`) it stops and closes `from`: the process then meets the
    /// closed pipe itself and exits as a closed stdout makes it exit, which ends the tour.
    pub fn start(from: PipeReader) -> Relay {
        let lines = Arc::new(Mutex::new(Vec::new()));
        let kept = Arc::clone(&lines);
        let thread = thread::spawn(move || copy_lines(from, &kept));
        Relay {
            lines,
            thread: Some(thread),
        }
    }

    /// The lines so far.
    pub fn lines(&self) -> Vec<String> {
        self.lines
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }

    /// Waits at most `limit` for a line that contains `needle`; a stop signal ends the wait.
    pub fn line_with(&self, needle: &str, limit: Duration) -> plumbing::Result<Option<String>> {
        let end = Instant::now() + limit;
        loop {
            if let Some(line) = self.lines().into_iter().find(|l| l.contains(needle)) {
                return Ok(Some(line));
            }
            if Instant::now() >= end {
                return Ok(None);
            }
            stop::pause(Duration::from_millis(2))?;
        }
    }

    /// Waits until the process has closed its stdout (it exited) and the copy is done.
    pub fn finish(&mut self) {
        if let Some(thread) = self.thread.take() {
            let _ = thread.join(); // the thread neither panics nor fails: it stops
        }
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        self.finish();
    }
}

fn copy_lines(from: PipeReader, kept: &Mutex<Vec<String>>) {
    let mut from = BufReader::new(from);
    let mut line = Vec::new();
    loop {
        line.clear();
        match from.read_until(b'\n', &mut line) {
            Ok(0) | Err(_) => return, // the process has exited (or its pipe failed)
            Ok(_) => {}
        }
        // Not println!: it would panic in this thread when our stdout is closed.
        if io::stdout().lock().write_all(&line).is_err() {
            return; // dropping `from` closes the pipe: the process finds its stdout closed
        }
        let text = String::from_utf8_lossy(&line).trim_end().to_string();
        kept.lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .push(text);
    }
}

/// The text that follows `marker` on the first of `lines` holding it, to the line's end.
pub fn text_after<'a>(lines: &'a [String], marker: &str) -> Option<&'a str> {
    lines
        .iter()
        .find_map(|line| line.split_once(marker).map(|(_, rest)| rest))
}

/// The whole number that follows `marker` on the first of `lines` holding it.
pub fn number_after(lines: &[String], marker: &str) -> Option<u64> {
    let rest = text_after(lines, marker)?;
    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
    digits.parse().ok()
}

/// The whole number just before `marker` on the first of `lines` holding it ("19" in
/// "writer 8: 19 bytes in 1 write()").
pub fn number_before(lines: &[String], marker: &str) -> Option<u64> {
    let line = lines.iter().find(|line| line.contains(marker))?;
    let (before, _) = line.split_once(marker)?;
    before.rsplit(' ').next()?.parse().ok()
}

/// A duration as `plumbing::tour::duration` prints it ("304.3 ms", "12 µs"), following
/// `marker`: the text, and the value in milliseconds.
pub fn duration_after(lines: &[String], marker: &str) -> Option<(String, f64)> {
    let rest = text_after(lines, marker)?;
    let mut words = rest.split_whitespace();
    let number = words.next()?;
    let value: f64 = number.parse().ok()?;
    let unit = words.next()?.trim_end_matches([':', ',']);
    let ms = match unit {
        "ms" => value,
        "µs" => value / 1000.0,
        _ => return None,
    };
    Some((format!("{number} {unit}"), ms))
}

/// The numbers a `read` role printed (`roles::read`, `roles::lines`).
#[derive(Debug)]
pub struct ReaderReport {
    /// The FIFO's size in bytes as fstat saw it with data waiting, and the bytes waiting.
    pub size: u64,
    pub waiting: u64,
    /// Everything it read before EOF, and its lines: whole, torn by another writer's bytes.
    pub bytes: u64,
    pub whole: u64,
    pub torn: u64,
    /// Changes of writer between whole lines, and inside lines.
    pub turns: u64,
    pub inside: u64,
}

impl ReaderReport {
    /// Reads the report back from the lines the reader printed.
    pub fn from(lines: &[String]) -> plumbing::Result<ReaderReport> {
        let number = |marker: &str| {
            number_after(lines, marker)
                .ok_or_else(|| format!("the reader printed no {marker:?}: {lines:?}"))
        };
        Ok(ReaderReport {
            size: number("fstat says type fifo, size ")?,
            waiting: number("FIONREAD: ")?,
            bytes: number("EOF after ")?,
            whole: number(": whole ")?,
            torn: number(", torn ")?,
            turns: number("writer changes between lines: ")?,
            inside: number("; inside lines: ")?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(text: &str) -> Vec<String> {
        text.lines().map(str::to_string).collect()
    }

    #[test]
    fn numbers_and_durations_are_read_back_as_printed() {
        let said = lines(
            "   reader 7: open returned after 304.3 ms: a writer opened its end\n   \
             reader 7: whole 150, torn 0, other 0\n   writer 8: open waited 12 µs\n   \
             writer 9: open waited 0.0 ms",
        );
        assert_eq!(number_after(&said, ": whole "), Some(150));
        assert_eq!(number_after(&said, ", torn "), Some(0));
        assert_eq!(number_after(&said, "missing"), None);
        assert_eq!(number_before(&said, ", torn"), Some(150));
        let (text, ms) = duration_after(&said, "open returned after ").unwrap_or_default();
        assert_eq!((text.as_str(), ms), ("304.3 ms", 304.3));
        let (text, ms) = duration_after(&said, "open waited ").unwrap_or_default();
        assert_eq!((text.as_str(), ms), ("12 µs", 0.012));
        let said = &said[3..];
        let (text, ms) = duration_after(said, "open waited ").unwrap_or_default();
        assert_eq!((text.as_str(), ms), ("0.0 ms", 0.0));
    }
}
