//! The report: the lecture's design-space table with this run's numbers. Measured numbers
//! only: a cell without one says why. What every format shares is here: the [`Row`], and how
//! sizes, times and placements are written. The formats: `header.rs` (what was measured, on
//! what), `tables.rs` and `cells.rs` (terminal and Markdown), `records.rs` (JSON and CSV).

use comfy_table::Table;

use crate::harness::{Latency, Placement, Skip, Throughput};
use crate::mechanisms::Mechanism;

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
        self.mechanism.transport.carries_bytes()
    }

    pub fn verification(&self) -> &'static str {
        match self.payload_checked() {
            true => "per-message pattern checked by both processes",
            false => "no payload: every ring answered before the next is sent",
        }
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

/// The widest line of the terminal report, so it reads in an 80 to 120 column terminal
/// without wrapping. In a narrower terminal the tables wrap inside their cells.
const MAX_WIDTH: usize = 120;

/// The width the terminal report is laid out for: the terminal's, at most `MAX_WIDTH`; when
/// stdout is not a terminal (a pipe, a file), `MAX_WIDTH`.
pub fn width() -> usize {
    Table::new()
        .width()
        .map_or(MAX_WIDTH, |w| usize::from(w).clamp(40, MAX_WIDTH))
}

pub fn find<'a>(rows: &'a [Row], m: &Mechanism, p: &Placement, size: usize) -> Option<&'a Row> {
    rows.iter()
        .find(|r| r.mechanism.key == m.key && r.placement.name == p.name && r.size == size)
}

/// `first` then `text` wrapped at spaces into lines of at most `width` characters, lines after
/// the first indented by `indent` spaces. A word longer than a line gets a line of its own.
pub fn wrap(first: &str, text: &str, indent: usize, width: usize) -> String {
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
