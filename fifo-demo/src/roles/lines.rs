//! The line format: `write` frames each message as `<msg> #<seq>`, padded with one fill
//! character, and `read` tallies what arrives, telling whole lines from lines torn by another
//! writer's bytes (each writer has its own fill character).

/// How `write` frames each message: `<msg> #<seq>`, then ` ` and `fill` up to `bytes` bytes
/// (newline included), then `\n`.
pub struct Line<'a> {
    pub msg: &'a str,
    pub bytes: u64,
    pub fill: u8,
}

impl Line<'_> {
    pub fn build(&self, seq: u64) -> Vec<u8> {
        let mut line = format!("{} #{seq}", self.msg).into_bytes();
        let want = usize::try_from(self.bytes).unwrap_or(usize::MAX);
        if line.len() + 2 < want {
            line.push(b' ');
            line.resize(want - 1, self.fill);
        }
        line.push(b'\n');
        line
    }
}

/// A line longer than this is counted but not kept (bounds memory whatever a writer sends).
const MAX_LINE: usize = 4 << 20;
/// At most this many writers are tallied by name; the rest are counted together.
const MAX_WRITERS: usize = 16;
/// A run of at least this many equal bytes is a writer's fill, which tells writers apart.
const FILL_RUN: usize = 32;

/// What `read` has seen so far.
#[derive(Default)]
pub struct Tally {
    show: u64,
    shown: u64,
    bytes: usize,
    /// Lines in `write`'s format with a single writer's fill: they arrived whole.
    whole: usize,
    /// Lines with more than one writer's fill in them, or too long to check.
    torn: usize,
    /// Lines not in `write`'s format, with no fill to check (`echo hi > FIFO`).
    other: usize,
    /// Lines from a different writer than the line before: writers took turns.
    turns: usize,
    /// Places inside a line where one writer's fill is followed by another's.
    interleavings: usize,
    writers: Vec<(Vec<u8>, usize)>,
    more_writers: usize,
    last_writer: Option<Vec<u8>>,
    current: Vec<u8>,
    overlong: bool,
}

impl Tally {
    /// An empty tally that prints at most `show` received lines.
    pub fn new(show: u64) -> Tally {
        Tally {
            show,
            ..Tally::default()
        }
    }

    /// Splits the byte stream into lines; a line may arrive across many reads.
    pub fn feed(&mut self, chunk: &[u8], me: &str) {
        self.bytes += chunk.len();
        for piece in chunk.split_inclusive(|&b| b == b'\n') {
            let (body, ends) = match piece.split_last() {
                Some((b'\n', body)) => (body, true),
                _ => (piece, false),
            };
            if self.current.len() + body.len() > MAX_LINE {
                self.overlong = true;
                self.current = Vec::new();
            } else if !self.overlong {
                self.current.extend_from_slice(body);
            }
            if ends {
                self.end_line(me, true);
            }
        }
    }

    /// Checks and counts the line just completed (`newline`: it ended with one).
    fn end_line(&mut self, me: &str, newline: bool) {
        let line = std::mem::take(&mut self.current);
        let size = line.len() + usize::from(newline);
        if std::mem::take(&mut self.overlong) {
            self.torn += 1;
            self.print(me, || {
                format!("a line longer than {MAX_LINE} bytes, not checked")
            });
            return;
        }
        let runs = fill_runs(&line);
        let changes = runs
            .windows(2)
            .filter(|pair| pair[0].0 != pair[1].0)
            .count();
        self.interleavings += changes;
        match parse_frame(&line) {
            Some(writer) if changes == 0 => {
                self.whole += 1;
                if self
                    .last_writer
                    .as_deref()
                    .is_some_and(|last| last != writer)
                {
                    self.turns += 1;
                }
                self.last_writer = Some(writer.to_vec());
                self.count_writer(writer);
                self.print(me, || format!("{} ({size} bytes, whole)", preview(&line)));
            }
            _ if runs.is_empty() && line.iter().filter(|&&b| b == b'#').count() < 2 => {
                self.other += 1;
                self.print(me, || preview(&line));
            }
            _ => {
                self.torn += 1;
                if self.torn == 1 && self.shown < self.show {
                    // Once per reader: what the runs in a torn line's description mean.
                    println!("{me}: (in a TORN line, Ax4096 = 4096 bytes of A's fill in a row)");
                }
                self.print(me, || {
                    format!("TORN line, {size} bytes: {}", describe_runs(&runs))
                });
            }
        }
    }

    fn count_writer(&mut self, writer: &[u8]) {
        if let Some(entry) = self.writers.iter_mut().find(|(name, _)| name == writer) {
            entry.1 += 1;
        } else if self.writers.len() < MAX_WRITERS {
            self.writers.push((writer.to_vec(), 1));
        } else {
            self.more_writers += 1;
        }
    }

    fn print(&mut self, me: &str, line: impl FnOnce() -> String) {
        if self.shown < self.show {
            self.shown += 1;
            println!("{me}: got {}", line());
        }
    }

    pub fn finish(&mut self, me: &str) {
        if !self.current.is_empty() || self.overlong {
            println!(
                "{me}: the last {} bytes have no newline: a writer died mid-line?",
                self.current.len()
            );
            self.end_line(me, false);
        }
        let lines = self.whole + self.torn + self.other;
        let s = if lines == 1 { "" } else { "s" };
        println!(
            "{me}: EOF after {} bytes, {lines} line{s}: no writer is left",
            self.bytes
        );
        // "other": a line with no fill to check, such as `echo hi > FIFO` writes.
        println!(
            "{me}: whole {}, torn {}, other {} (not from `fifo-demo write`)",
            self.whole, self.torn, self.other
        );
        let mut per_writer: Vec<String> = self
            .writers
            .iter()
            .map(|(name, n)| format!("'{}' {n}", String::from_utf8_lossy(name)))
            .collect();
        if self.more_writers > 0 {
            per_writer.push(format!("others {}", self.more_writers));
        }
        if !per_writer.is_empty() {
            println!("{me}: per writer: {}", per_writer.join(", "));
        }
        println!(
            "{me}: writer changes between lines: {}; inside lines: {}",
            self.turns, self.interleavings
        );
    }
}

/// A whole line written by `write`: `<writer> #<digits>`, optionally followed by ` ` and one
/// fill byte repeated. Returns the writer's message.
fn parse_frame(line: &[u8]) -> Option<&[u8]> {
    let hash = line.iter().position(|&b| b == b'#')?;
    let writer = line[..hash].strip_suffix(b" ")?;
    let rest = &line[hash + 1..];
    let digits = rest.iter().take_while(|b| b.is_ascii_digit()).count();
    let fill = match &rest[digits..] {
        [] => &[][..],
        [b' ', fill @ ..] => fill,
        _ => return None,
    };
    let uniform = fill.iter().all(|b| Some(b) == fill.first());
    (digits > 0 && uniform).then_some(writer)
}

/// The runs of one byte repeated at least FILL_RUN times, in order: (byte, length).
fn fill_runs(line: &[u8]) -> Vec<(u8, usize)> {
    line.chunk_by(|a, b| a == b)
        .filter(|run| run.len() >= FILL_RUN)
        .map(|run| (run[0], run.len()))
        .collect()
}

fn describe_runs(runs: &[(u8, usize)]) -> String {
    let mut parts: Vec<String> = runs
        .iter()
        .take(2)
        .map(|&(b, n)| format!("{}x{n}", char::from(b).escape_default()))
        .collect();
    if runs.len() > 2 {
        parts.push(format!("... ({} runs)", runs.len()));
    }
    parts.join(" ")
}

/// A line as text, shortened to its first 24 bytes when long.
fn preview(line: &[u8]) -> String {
    let shown = &line[..line.len().min(24)];
    let dots = if line.len() > shown.len() { "..." } else { "" };
    format!("{:?}{dots}", String::from_utf8_lossy(shown))
}
