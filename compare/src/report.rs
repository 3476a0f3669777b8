//! The report: the lecture's design-space table with this run's numbers, as a terminal table,
//! Markdown, CSV or JSON. Measured numbers only: a cell without one says why.

use comfy_table::{ContentArrangement, Table, presets};
use serde_json::{Value, json};

use crate::harness::{Latency, Placement, Plan, Skip, Throughput};
use crate::machine::Machine;
use crate::mechanisms::{COLUMNS, Mechanism, Transport};

/// One mechanism, one placement, one message size.
pub struct Row {
    pub mechanism: Mechanism,
    pub placement: Placement,
    /// message size in bytes; 0 for a doorbell, which carries none
    pub size: usize,
    pub latency: Result<Latency, Skip>,
    /// one-way throughput of this mechanism and placement (the same for every size)
    pub throughput: Result<Throughput, Skip>,
    /// setup cost of this mechanism (the same for every placement and size)
    pub setup_us: Result<f64, Skip>,
}

impl Row {
    /// Does every message carry a checked pattern? (A doorbell has no bytes to check.)
    pub fn payload_checked(&self) -> bool {
        matches!(self.mechanism.transport, Transport::Bytes { .. })
    }

    pub fn verification(&self) -> &'static str {
        match self.payload_checked() {
            true => "per-message pattern checked by both processes",
            false => "no payload: every ring answered before the next is sent",
        }
    }
}

fn status(r: &Result<impl Sized, Skip>) -> (&'static str, Option<&str>) {
    match r {
        Ok(_) => ("ok", None),
        Err(Skip::NotApplicable(why)) => ("n/a", Some(why)),
        Err(Skip::Failed(why)) => ("failed", Some(why)),
        Err(Skip::Stopped) => ("stopped", Some("stopped by a signal")),
    }
}

pub fn placement_words(name: &str) -> &'static str {
    match name {
        "same" => "same core",
        _ => "different cores",
    }
}

/// Microseconds with about three significant digits.
pub fn us(ns: f64) -> String {
    let us = ns / 1000.0;
    match us {
        u if u < 10.0 => format!("{u:.2}"),
        u if u < 100.0 => format!("{u:.1}"),
        u => format!("{u:.0}"),
    }
}

pub fn size_words(size: usize) -> String {
    match size {
        0 => "no payload".to_string(),
        s if s >= 1024 && s % 1024 == 0 => format!("{} KiB", s / 1024),
        s => format!("{s} B"),
    }
}

// ---------------------------------------------------------------------------------------------
// The header.

/// What was measured, on what, and how: printed before the tables.
pub fn header(
    machine: &Machine,
    plan: &Plan,
    placements: &[Placement],
    stream_chunk: usize,
    markdown: bool,
) -> String {
    let cap = match plan.cap {
        Some(cap) => format!(
            ", each measurement stopped after {} ms if not done (rows give their sample count in JSON/CSV)",
            cap.as_millis()
        ),
        None => String::new(),
    };
    let placement = placements
        .iter()
        .map(|p| match (p.name, p.possible) {
            ("same", _) => format!("same core = both processes on CPU {}", p.parent_cpu),
            (_, true) => format!(
                "different cores = parent on CPU {}, child on CPU {}",
                p.parent_cpu, p.child_cpu
            ),
            (_, false) => format!(
                "different cores = NOT POSSIBLE: only CPU {} is usable by this process",
                p.parent_cpu
            ),
        })
        .collect::<Vec<_>>()
        .join("; ");
    let lines = [
        ("kernel", machine.kernel.clone()),
        (
            "cpu",
            format!(
                "{}, {} online, usable by this process: {:?}",
                machine.cpu_model, machine.cpus_online, machine.allowed
            ),
        ),
        (
            "clock",
            format!(
                "CLOCK_MONOTONIC (std::time::Instant), clocksource {}, one read ≈ {:.0} ns \
                 (included in every sample)",
                machine.clocksource, machine.clock_read_ns
            ),
        ),
        (
            "round trips",
            format!(
                "{} timed per measurement after {} discarded warm-up{cap}; rows under 2 µs also \
                 timed in batches of 100 (\"batch\")",
                plan.iters, plan.warmup
            ),
        ),
        (
            "placement",
            format!("{placement}; both pinned with sched_setaffinity after fork"),
        ),
        (
            "payload",
            "every message carries a pattern that changes per message, checked on arrival by \
             the child and on the echo by the parent"
                .to_string(),
        ),
        (
            "throughput",
            format!(
                "one way, {} messages (or the mechanism's largest, if smaller), up to {} MiB{}; \
                 the child checks every message and acknowledges the last",
                size_words(stream_chunk),
                plan.stream_bytes >> 20,
                plan.cap
                    .map_or(String::new(), |c| format!(" or {} ms", c.as_millis()))
            ),
        ),
        (
            "setup",
            format!(
                "duplex(64) (create + connect), one 64 B message written on one end and read on \
                 the other, drop both ends; in one process, no fork; median of {}",
                plan.setup_reps
            ),
        ),
        (
            "CPU / msg",
            "user + system time of both processes (getrusage; the child's after reaping, its \
             start-up included) / messages exchanged; a round trip is 2 messages"
                .to_string(),
        ),
        (
            "coordination",
            "how each row waits (kernel, spin, futex, signal): its column in the table".to_string(),
        ),
    ];
    let mut out =
        String::from("ipc-tour compare: every mechanism measured the same way, in this run\n\n");
    for (key, value) in lines {
        out += &match markdown {
            true => format!("- **{key}**: {value}\n"),
            false => wrap(&format!("  {key:<13}"), &value, 15, width()),
        };
    }
    out + "\n"
}

// ---------------------------------------------------------------------------------------------
// JSON and CSV: one flat record per row.

pub fn record(row: &Row) -> Value {
    let m = &row.mechanism;
    let (status, reason) = status(&row.latency);
    let lat = row.latency.as_ref().ok();
    let tp = row.throughput.as_ref().ok();
    let mut v = json!({
        "mechanism": m.label,
        "key": m.key,
        "placement": row.placement.name,
        "cpus": row.placement.possible.then_some([row.placement.parent_cpu, row.placement.child_cpu]),
        "size": row.size,
        "status": status,
        "reason": reason,
        "samples": lat.map(|l| l.summary.count),
        "rtt_p50_ns": lat.map(|l| l.summary.p50),
        "rtt_p99_ns": lat.map(|l| l.summary.p99),
        "rtt_max_ns": lat.map(|l| l.summary.max),
        "rtt_batch_ns": lat.and_then(|l| l.batch_ns),
        "cpu_us_per_msg": lat.map(|l| l.cpu_us_per_msg),
        "throughput_mib_s": tp.map(|t| t.mib_s),
        "throughput_msg_size": tp.map(|t| t.chunk),
        "throughput_note": status_note(&row.throughput),
        "setup_us": row.setup_us.as_ref().ok(),
        "setup_note": status_note(&row.setup_us),
        "verified": row.payload_checked(),
        "verification": row.verification(),
    });
    if let Value::Object(map) = &mut v {
        for column in COLUMNS {
            map.insert(column.to_string(), Value::from(m.design(column)));
        }
    }
    v
}

fn status_note<T>(r: &Result<T, Skip>) -> Option<String> {
    match status(r) {
        ("ok", _) => None,
        (s, why) => Some(format!("{s}: {}", why.unwrap_or(""))),
    }
}

pub fn json(rows: &[Row]) -> String {
    let all: Vec<Value> = rows.iter().map(record).collect();
    serde_json::to_string_pretty(&all).unwrap_or_else(|e| format!("\"json: {e}\""))
}

const CSV_FIELDS: [&str; 20] = [
    "mechanism",
    "key",
    "placement",
    "size",
    "status",
    "reason",
    "samples",
    "rtt_p50_ns",
    "rtt_p99_ns",
    "rtt_max_ns",
    "rtt_batch_ns",
    "cpu_us_per_msg",
    "throughput_mib_s",
    "throughput_msg_size",
    "setup_us",
    "verified",
    "data",
    "structure",
    "direction",
    "coordination",
];

pub fn csv(rows: &[Row]) -> String {
    let mut fields: Vec<&str> = CSV_FIELDS.to_vec();
    fields.extend(["naming", "persistence"]);
    let mut out = fields.join(",") + "\n";
    for row in rows {
        let rec = record(row);
        let cells: Vec<String> = fields
            .iter()
            .map(|f| match &rec[*f] {
                Value::Null => String::new(),
                Value::String(s) => csv_quote(s),
                other => other.to_string(),
            })
            .collect();
        out += &(cells.join(",") + "\n");
    }
    out
}

fn csv_quote(s: &str) -> String {
    match s.contains([',', '"', '\n']) {
        true => format!("\"{}\"", s.replace('"', "\"\"")),
        false => s.to_string(),
    }
}

// ---------------------------------------------------------------------------------------------
// Tables for people. Markdown (for README, where a wide table scrolls): the design-space table
// with every column in one row, then latency by size, then notes. Terminal: the same content in
// tables that fit `MAX_WIDTH` columns: the lecture's columns, the measured numbers, latency by
// size, notes.

/// The widest line of the terminal report, so it reads in an 80 to 120 column terminal
/// without wrapping. In a narrower terminal the tables wrap inside their cells.
const MAX_WIDTH: usize = 120;

/// The width the terminal report is laid out for: the terminal's, at most `MAX_WIDTH`; when
/// stdout is not a terminal (a pipe, a file), `MAX_WIDTH`.
fn width() -> usize {
    Table::new()
        .width()
        .map_or(MAX_WIDTH, |w| usize::from(w).clamp(40, MAX_WIDTH))
}

/// Renders the report's tables and notes, as a terminal table or as Markdown.
pub fn tables(rows: &[Row], sizes: &[usize], placements: &[Placement], markdown: bool) -> String {
    let mut notes = Notes::default();
    let mut out = match markdown {
        true => markdown_design(rows, sizes, placements, &mut notes),
        false => terminal_design(rows, sizes, placements, &mut notes),
    };
    let heading = if markdown { "### " } else { "" };

    // Latency by message size.
    if sizes.len() > 1 {
        let mut by_size = new_table(markdown);
        let mut header: Vec<String> = vec!["mechanism".into(), "placement".into()];
        header.extend(sizes.iter().map(|s| match markdown {
            true => format!("{} p50 / p99 µs", size_words(*s)),
            false => size_words(*s),
        }));
        by_size.set_header(header);
        for m in byte_mechanisms(rows) {
            for p in placements {
                let mut cells = vec![m.label.to_string(), placement_words(p.name).to_string()];
                for size in sizes {
                    let row = find(rows, &m, p, *size);
                    cells.push(row.map_or("-".into(), |r| latency_cell(r, &mut notes, !markdown)));
                }
                by_size.add_row(cells);
            }
        }
        out += &match markdown {
            true => format!("{heading}Round trip by message size\n\n"),
            false => "Round trip by message size: p50 / p99 in µs\n".to_string(),
        };
        out += &by_size.to_string();
        out += "\n\n";
    }

    // Why some cells have no number, or have more to say.
    if !notes.lines.is_empty() {
        out += &format!("{heading}Notes\n\n");
        for (i, line) in notes.lines.iter().enumerate() {
            out += &match markdown {
                true => format!("- [{}] {line}\n", i + 1),
                false => wrap(&format!("[{}] ", i + 1), line, 4, width()),
            };
        }
    }
    out
}

/// The lecture's table with this run's numbers, every column in one row (for README).
fn markdown_design(
    rows: &[Row],
    sizes: &[usize],
    placements: &[Placement],
    notes: &mut Notes,
) -> String {
    let reference = reference_size(sizes);
    let mut design = new_table(true);
    let mut header: Vec<String> = vec!["mechanism".into()];
    header.extend(COLUMNS.iter().map(|c| c.to_string()));
    for p in placements {
        header.push(format!(
            "RTT p50 / p99 µs, {}, {}",
            size_words(reference),
            placement_words(p.name)
        ));
    }
    let both = |what: &str| match placements.len() {
        1 => what.to_string(),
        _ => format!("{what} ({})", placement_names(placements)),
    };
    header.push(both("MiB/s one way"));
    header.push(both("CPU µs / msg"));
    header.push("setup µs".into());
    design.set_header(header);
    for m in mechanisms(rows) {
        let mut cells: Vec<String> = vec![m.label.to_string()];
        cells.extend(COLUMNS.iter().map(|c| m.design(c).to_string()));
        let measured = measured_cells(rows, &m, reference, placements, notes, false);
        cells.extend(measured.rtt);
        cells.push(measured.throughput.join(" / "));
        cells.push(measured.cpu.join(" / "));
        cells.push(measured.setup);
        design.add_row(cells);
    }
    format!(
        "### Design space, measured: round trips of {} messages\n\n{design}\n\n",
        size_words(reference)
    )
}

/// The lecture's qualitative columns, then the measured numbers, each table within `width()`.
fn terminal_design(
    rows: &[Row],
    sizes: &[usize],
    placements: &[Placement],
    notes: &mut Notes,
) -> String {
    let reference = reference_size(sizes);
    let mut out = String::from("The lecture's design space, in each demo crate's words\n");
    // All six columns in one table when they fit; else in two halves, each row one line.
    let whole = qualitative(rows, &COLUMNS);
    let parts = match natural_width(&whole) <= width() {
        true => vec![whole],
        false => vec![
            qualitative(rows, &COLUMNS[..3]),
            qualitative(rows, &COLUMNS[3..]),
        ],
    };
    for table in parts {
        out += &format!("{table}\n");
    }
    out += "\n";

    // The coordination column explains the CPU column; in a narrow terminal it is left out
    // (it is in the table above) rather than wrapping the numbers.
    let mut measured = measured_table(rows, reference, placements, notes, true);
    if natural_width(&measured) > width() {
        measured = measured_table(rows, reference, placements, notes, false);
    }
    let caption = format!(
        "Measured: round trips (RTT) of {} messages, p50 / p99 in each RTT cell; one-way \
         throughput; CPU time of both processes per message; setup.{}",
        size_words(reference),
        match placements {
            [_, _] => format!(
                " The MiB/s and CPU cells hold two numbers: {} / {}.",
                placement_words(placements[0].name),
                placement_words(placements[1].name)
            ),
            _ => String::new(),
        }
    );
    out += &wrap("", &caption, 0, width());
    out += &measured.to_string();
    out + "\n\n"
}

/// The terminal's table of measured numbers at the reference size, one row per mechanism.
fn measured_table(
    rows: &[Row],
    reference: usize,
    placements: &[Placement],
    notes: &mut Notes,
    with_coordination: bool,
) -> Table {
    let mut table = new_table(false);
    let mut header: Vec<String> = vec!["mechanism".into()];
    if with_coordination {
        header.push("coordination".into());
    }
    for p in placements {
        header.push(format!("RTT µs\n{}", short_placement(p.name)));
    }
    let pair = match placements {
        [one] => short_placement(one.name).to_string(),
        _ => placement_names(placements).replace("split", "diff."),
    };
    header.push(format!("MiB/s\n{pair}"));
    header.push(format!("CPU µs/msg\n{pair}"));
    header.push("setup\nµs".into());
    table.set_header(header);
    for m in mechanisms(rows) {
        let cells = measured_cells(rows, &m, reference, placements, notes, true);
        let mut label = m.label.to_string();
        for mark in &cells.marks {
            label += &format!(" {mark}");
        }
        let mut line = vec![label];
        if with_coordination {
            line.push(m.design("coordination").to_string());
        }
        line.extend(cells.rtt);
        line.push(same_once(&cells.throughput));
        line.push(same_once(&cells.cpu));
        line.push(cells.setup);
        table.add_row(line);
    }
    table
}

/// A terminal table of the mechanisms and the lecture's `columns`.
fn qualitative(rows: &[Row], columns: &[&str]) -> Table {
    let mut table = new_table(false);
    let mut header = vec!["mechanism"];
    header.extend(columns);
    table.set_header(header);
    for m in mechanisms(rows) {
        let mut cells = vec![m.label];
        cells.extend(columns.iter().map(|c| m.design(c)));
        table.add_row(cells);
    }
    table
}

/// How wide `table` prints when no cell is wrapped: its content, plus "│ ", " ┆ ", " │".
fn natural_width(table: &Table) -> usize {
    let widths = table.column_max_content_widths();
    widths.iter().map(|w| usize::from(*w) + 3).sum::<usize>() + 1
}

/// The measured cells of one mechanism at the reference size, one entry per placement.
struct Measured {
    rtt: Vec<String>,
    throughput: Vec<String>,
    cpu: Vec<String>,
    setup: String,
    /// notes about the whole row (a doorbell), for the mechanism's cell
    marks: Vec<String>,
}

fn measured_cells(
    rows: &[Row],
    m: &Mechanism,
    reference: usize,
    placements: &[Placement],
    notes: &mut Notes,
    terse: bool,
) -> Measured {
    let mut cells = Measured {
        rtt: Vec::new(),
        throughput: Vec::new(),
        cpu: Vec::new(),
        setup: "-".into(),
        marks: Vec::new(),
    };
    for p in placements {
        let Some(row) = find(rows, m, p, reference).or_else(|| find(rows, m, p, 0)) else {
            cells.rtt.push("-".into());
            continue;
        };
        cells.rtt.push(latency_cell(row, notes, terse));
        cells.throughput.push(throughput_cell(row, notes, terse));
        if let Ok(t) = &row.throughput
            && t.chunk != 64 * 1024
            && terse
        {
            let mark = notes.add(format!(
                "{} throughput: {} messages, its largest (64 KiB does not fit)",
                m.label,
                size_words(t.chunk)
            ));
            if !cells.marks.contains(&mark) {
                cells.marks.push(mark);
            }
        }
        cells.cpu.push(match &row.latency {
            Ok(l) => format!("{:.2}", l.cpu_us_per_msg),
            Err(_) => "-".into(),
        });
        cells.setup = match &row.setup_us {
            Ok(s) => format!("{s:.1}"),
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

/// "a / b", or "a" when every placement gives the same cell (a size limit's "n/a [2]").
fn same_once(cells: &[String]) -> String {
    match cells.first() {
        Some(first) if cells.iter().all(|c| c == first) && first.contains('[') => first.clone(),
        _ => cells.join(" / "),
    }
}

fn mechanisms(rows: &[Row]) -> Vec<Mechanism> {
    let mut found: Vec<Mechanism> = Vec::new();
    for row in rows {
        if !found.iter().any(|m| m.key == row.mechanism.key) {
            found.push(row.mechanism);
        }
    }
    found
}

fn byte_mechanisms(rows: &[Row]) -> Vec<Mechanism> {
    let mut found = mechanisms(rows);
    found.retain(|m| matches!(m.transport, Transport::Bytes { .. }));
    found
}

fn find<'a>(rows: &'a [Row], m: &Mechanism, p: &Placement, size: usize) -> Option<&'a Row> {
    rows.iter()
        .find(|r| r.mechanism.key == m.key && r.placement.name == p.name && r.size == size)
}

/// The size the design-space table shows: 64 B when measured, else the smallest.
fn reference_size(sizes: &[usize]) -> usize {
    match sizes.contains(&64) {
        true => 64,
        false => sizes.first().copied().unwrap_or(64),
    }
}

fn placement_names(placements: &[Placement]) -> String {
    placements
        .iter()
        .map(|p| p.name)
        .collect::<Vec<_>>()
        .join(" / ")
}

/// A placement in a narrow column header.
fn short_placement(name: &str) -> &'static str {
    match name {
        "same" => "same core",
        _ => "diff. cores",
    }
}

fn new_table(markdown: bool) -> Table {
    let mut t = Table::new();
    if markdown {
        t.load_style(presets::ASCII_MARKDOWN);
    } else {
        t.load_style(presets::UTF8_FULL_CONDENSED);
        t.set_content_arrangement(ContentArrangement::Dynamic);
        t.set_width(u16::try_from(width()).unwrap_or(u16::MAX));
    }
    t
}

/// `first` then `text` wrapped at spaces into lines of at most `width` characters, lines after
/// the first indented by `indent` spaces. A word longer than a line gets a line of its own.
fn wrap(first: &str, text: &str, indent: usize, width: usize) -> String {
    let mut out = String::new();
    let mut line = first.to_string();
    let mut empty = true; // no word on this line yet
    for word in text.split(' ').filter(|w| !w.is_empty()) {
        let len = line.chars().count();
        if !empty && len + 1 + word.chars().count() > width {
            out += line.trim_end();
            out.push('\n');
            line = " ".repeat(indent);
            empty = true;
        }
        if !empty {
            line.push(' ');
        }
        line += word;
        empty = false;
    }
    out += line.trim_end();
    out.push('\n');
    out
}

fn doorbell_note(row: &Row, notes: &mut Notes) -> String {
    notes.add(format!(
        "{}: a doorbell round trip carries no bytes; nothing to check but that every ring was \
         answered",
        row.mechanism.label
    ))
}

/// "p50 / p99" of one row, or why it has none. `terse` (the terminal): the batched time goes
/// to a note, and a doorbell's note to the mechanism's cell, so the cell stays narrow.
fn latency_cell(row: &Row, notes: &mut Notes, terse: bool) -> String {
    match &row.latency {
        Ok(l) => {
            let mut cell = format!(
                "{} / {}",
                us(l.summary.p50 as f64),
                us(l.summary.p99 as f64)
            );
            match (l.batch_ns, terse) {
                (None, _) => {}
                (Some(batch), false) => cell += &format!(" (batch {})", us(batch)),
                (Some(batch), true) => {
                    let mark = notes.add(format!(
                        "{}, {}, {}: {} µs per round trip when timed in batches of 100",
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
    match &row.throughput {
        Ok(t) if t.chunk == 64 * 1024 => format!("{:.0}", t.mib_s),
        Ok(t) if terse => format!("{:.0}", t.mib_s), // its size: a note on the mechanism
        Ok(t) => format!("{:.0} ({} msgs)", t.mib_s, size_words(t.chunk)),
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
struct Notes {
    lines: Vec<String>,
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
