//! The cells of the terminal and Markdown tables: a measured number, or a numbered note that
//! says why there is none; and what the x pipe cells mean, said under the tables.

use crate::report::text::{width, wrap};
use crate::row::{
    DOORBELL_PIPE_MAX, Mechanism, Placement, RATIO_UNSTEADY, Rates, Ratio, RoundTrips, Row,
    STREAM_CHUNK, Skip, find, placement_words, reference, size_words, times, us, x_pipe,
};

/// Marks a cell whose rounds disagree (`RoundTrips::unsteady`, `Rates::unsteady`); explained
/// after the tables.
pub const UNSTEADY_MARK: &str = "~";

/// "3.11" or, when the rounds disagree, "3.11~".
fn p50_words(l: &RoundTrips) -> String {
    let mark = if l.unsteady() { UNSTEADY_MARK } else { "" };
    format!("{}{mark}", us(l.p50() as f64))
}

/// How far a cell's rounds spread above its p50: "+34%" says the slowest round's p50 was 34%
/// above the headline (which sits near the fastest rounds).
pub fn spread_words(l: &RoundTrips) -> String {
    format!("+{:.0}%", 100.0 * l.spread())
}

/// "1.07 ±3%": the median of the rounds' ratios to the pipe, and within how much of it half of
/// them lay; "1.07~ ±14%" when that is over `RATIO_UNSTEADY`.
pub fn ratio_words(r: &Ratio) -> String {
    let mark = if r.unsteady() { UNSTEADY_MARK } else { "" };
    format!("{}{mark} ±{:.0}%", times(r.median()), 100.0 * r.spread())
}

/// The x pipe of one row: its ratio, "1.00" for the pipe itself (the reference), "-" where
/// there is none; a doorbell the pipe's size cannot honestly be set against gets a note.
pub fn x_pipe_cell(rows: &[Row], row: &Row, notes: &mut Notes) -> String {
    match x_pipe(rows, row) {
        Ok(_) if row.mechanism.key == "pipe" => "1.00".into(),
        Ok(r) => ratio_words(&r),
        Err(why) if row.size == 0 && reference(rows) > DOORBELL_PIPE_MAX => {
            notes.add(format!("{} x pipe: none: {why}", row.mechanism.label))
        }
        Err(_) => "-".into(),
    }
}

/// What the x pipe column is and what its mark means, from this run: how many ratios were
/// marked, and the widest. Nothing when the run has no pipe (the column is absent too).
pub fn x_pipe_text(rows: &[Row], markdown: bool) -> String {
    // The ratios the design table shows: at the reference size, and the doorbell's.
    let shown = |r: &&Row| r.size == reference(rows) || r.size == 0;
    let ratios: Vec<(&Row, Ratio)> = rows
        .iter()
        .filter(shown)
        .filter(|r| r.mechanism.key != "pipe")
        .filter_map(|r| Some((r, x_pipe(rows, r).ok()?)))
        .collect();
    let Some((row, widest)) = ratios
        .iter()
        .max_by(|a, b| a.1.spread().total_cmp(&b.1.spread()))
    else {
        return String::new();
    };
    let marked = ratios.iter().filter(|(_, r)| r.unsteady()).count();
    let bell = match ratios.iter().any(|(r, _)| r.size == 0) {
        true => format!(
            " (a signal, which carries none: the pipe's {})",
            size_words(reference(rows))
        ),
        false => String::new(),
    };
    let text = format!(
        "x pipe: each row's p50 divided by the pipe's p50 at the same size{bell} and placement \
         in the same round, then the median of the {n} rounds' ratios. A slow moment of the \
         machine touches both cells of a round alike, so a slowdown of the whole machine \
         cancels in the ratio (a process competing for the core does not: it adds a wait to \
         every wakeup); the median, not the second best, because noise moves a ratio either \
         way. ±N%: half \
         the rounds' ratios lay within N% of it; {UNSTEADY_MARK} when that is more than \
         {:.0}%. Here {marked} of {} are marked; the widest, {}, {}, {}: {}.",
        RATIO_UNSTEADY * 100.0,
        ratios.len(),
        row.mechanism.label,
        size_words(row.size),
        placement_words(row.placement.name),
        ratio_words(widest),
        n = widest.rounds.len(),
    );
    match markdown {
        true => format!("{text}\n\n"),
        false => format!("\n{}", wrap("", &text, 0, width())),
    }
}

/// Does the run have a pipe to set the other rows against?
pub fn has_pipe(rows: &[Row]) -> bool {
    rows.iter().any(|r| r.mechanism.key == "pipe")
}

/// The measured cells of one mechanism at the reference size, one entry per placement.
pub struct Measured {
    pub rtt: Vec<String>,
    /// the x pipe per placement; empty when the run has no pipe
    pub x_pipe: Vec<String>,
    pub throughput: Vec<String>,
    pub cpu: Vec<String>,
    pub setup: String,
    /// notes about the whole row (a doorbell), for the mechanism's cell
    pub marks: Vec<String>,
}

pub fn measured_cells(
    rows: &[Row],
    m: &Mechanism,
    reference: usize,
    placements: &[Placement],
    notes: &mut Notes,
    terse: bool,
) -> Measured {
    let mut cells = Measured {
        rtt: Vec::new(),
        x_pipe: Vec::new(),
        throughput: Vec::new(),
        cpu: Vec::new(),
        setup: "-".into(),
        marks: Vec::new(),
    };
    for p in placements {
        let Some(row) = find(rows, m, p, reference).or_else(|| find(rows, m, p, 0)) else {
            cells.rtt.push("-".into());
            if has_pipe(rows) {
                cells.x_pipe.push("-".into());
            }
            continue;
        };
        cells.rtt.push(latency_cell(row, notes, terse, true));
        if has_pipe(rows) {
            cells.x_pipe.push(x_pipe_cell(rows, row, notes));
        }
        cells.throughput.push(throughput_cell(row, notes, terse));
        if let Ok(t) = &row.throughput
            && t.chunk() != STREAM_CHUNK
            && terse
        {
            let mark = notes.add(format!(
                "{} throughput: {} messages, its largest ({} does not fit)",
                m.label,
                size_words(t.chunk()),
                size_words(STREAM_CHUNK)
            ));
            if !cells.marks.contains(&mark) {
                cells.marks.push(mark);
            }
        }
        cells.cpu.push(match &row.latency {
            Ok(l) => us(l.cpu_us_per_msg() * 1000.0),
            Err(_) => "-".into(),
        });
        cells.setup = match &row.setup_us {
            Ok(s) => us(s * 1000.0),
            Err(e) => notes.mark(format!("{} setup", m.label), e),
        };
        if row.size == 0 {
            let mark = doorbell_note(row, notes);
            if !cells.marks.contains(&mark) {
                cells.marks.push(mark);
            }
        }
    }
    cells
}

fn doorbell_note(row: &Row, notes: &mut Notes) -> String {
    notes.add(format!(
        "{}: a doorbell round trip carries no bytes; nothing to check but that every ring was \
         answered",
        row.mechanism.label
    ))
}

/// "p50 / p99" of one row, or why it has none; with `spread`, how far its rounds spread, after
/// the p50: "3.10~ +66% / 7.90".
/// `terse` (the terminal): the batched time goes to a note, and a doorbell's note to the
/// mechanism's cell, so the cell stays narrow.
pub fn latency_cell(row: &Row, notes: &mut Notes, terse: bool, spread: bool) -> String {
    match &row.latency {
        Ok(l) => {
            // The spread belongs to the p50 (it is how far the rounds' p50s ran above it).
            let mut cell = p50_words(l);
            if spread && l.rounds.len() > 1 {
                cell += &format!(" {}", spread_words(l));
            }
            cell += &format!(" / {}", us(l.p99() as f64));
            match (l.batch_ns(), terse) {
                (None, _) => {}
                (Some(batch), false) => cell += &format!(" (batch {})", us(batch)),
                (Some(batch), true) => {
                    let mark = notes.add(format!(
                        "{}, {}, {}: {} µs per round trip when timed in batches of 100, the \
                         median of the batches' means (no clock read between round trips): a \
                         rare long stall in a batch pulls its mean above the p50, and without \
                         the clock's cost it can also fall below it",
                        row.mechanism.label,
                        size_words(row.size),
                        placement_words(row.placement.name),
                        us(batch)
                    ));
                    cell += &format!(" {mark}");
                }
            }
            if row.size == 0 && !terse {
                cell += &format!(" {}", doorbell_note(row, notes));
            }
            cell
        }
        // One note for a placement the machine cannot honour, and one for a size limit,
        // which is the same on every core.
        Err(e) if !row.placement.possible => {
            notes.mark(placement_words(row.placement.name).into(), e)
        }
        Err(e @ Skip::NotApplicable(_)) => notes.mark(
            format!(
                "{} round trip, {}",
                row.mechanism.label,
                size_words(row.size)
            ),
            e,
        ),
        Err(e) => notes.mark(
            format!(
                "{} round trip, {}, {}",
                row.mechanism.label,
                size_words(row.size),
                placement_words(row.placement.name)
            ),
            e,
        ),
    }
}

/// MiB/s of one row, or why it has none. A message size other than 64 KiB is said in the cell,
/// unless `terse` (the terminal: `measured_cells` puts it in a note).
fn throughput_cell(row: &Row, notes: &mut Notes, terse: bool) -> String {
    let rate = |t: &Rates| {
        let mark = if t.unsteady() { UNSTEADY_MARK } else { "" };
        format!("{:.0}{mark}", t.mib_s())
    };
    match &row.throughput {
        Ok(t) if t.chunk() == STREAM_CHUNK => rate(t),
        Ok(t) if terse => rate(t), // its size: a note on the mechanism
        Ok(t) => format!("{} ({} msgs)", rate(t), size_words(t.chunk())),
        Err(e) if !row.placement.possible => {
            notes.mark(placement_words(row.placement.name).into(), e)
        }
        Err(e @ Skip::NotApplicable(_)) => {
            notes.mark(format!("{} throughput", row.mechanism.label), e)
        }
        Err(e) => notes.mark(
            format!(
                "{} throughput, {}",
                row.mechanism.label,
                placement_words(row.placement.name)
            ),
            e,
        ),
    }
}

/// Numbered footnotes, each reason once.
#[derive(Default)]
pub struct Notes {
    pub lines: Vec<String>,
}

impl Notes {
    fn add(&mut self, line: String) -> String {
        let at = match self.lines.iter().position(|l| *l == line) {
            Some(i) => i,
            None => {
                self.lines.push(line);
                self.lines.len() - 1
            }
        };
        format!("[{}]", at + 1)
    }

    fn mark(&mut self, what: String, skip: &Skip) -> String {
        let (word, why) = match skip {
            Skip::NotApplicable(why) => ("n/a", why.as_str()),
            Skip::Failed(why) => ("FAILED", why.as_str()),
            Skip::Stopped => ("stopped", "stopped by a signal"),
        };
        let mark = self.add(format!("{what}: {}: {why}", word.to_lowercase()));
        format!("{word} {mark}")
    }
}
