//! Tables for people. Markdown (for README, where a wide table scrolls): the design-space table
//! with every column in one row, then latency by size, then notes. Terminal: the same content in
//! tables that fit `report::MAX_WIDTH` columns: the lecture's columns, the measured numbers,
//! latency by size, notes.

use comfy_table::{ContentArrangement, Table, presets};

use crate::cells::{Notes, latency_cell, measured_cells};
use crate::harness::Placement;
use crate::mechanisms::{COLUMNS, Mechanism};
use crate::report::{Row, find, placement_words, size_words, width, wrap};

/// Renders the report's tables and notes, as a terminal table or as Markdown.
pub fn render(rows: &[Row], sizes: &[usize], placements: &[Placement], markdown: bool) -> String {
    let mut notes = Notes::default();
    let mut out = match markdown {
        true => markdown_design(rows, sizes, placements, &mut notes),
        false => terminal_design(rows, sizes, placements, &mut notes),
    };
    if sizes.len() > 1 {
        out += &by_size(rows, sizes, placements, &mut notes, markdown);
    }
    out + &notes_text(&notes, markdown)
}

/// Latency by message size: one row per mechanism that carries bytes and placement.
fn by_size(
    rows: &[Row],
    sizes: &[usize],
    placements: &[Placement],
    notes: &mut Notes,
    markdown: bool,
) -> String {
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
                cells.push(row.map_or("-".into(), |r| latency_cell(r, notes, !markdown)));
            }
            by_size.add_row(cells);
        }
    }
    let title = match markdown {
        true => "### Round trip by message size\n\n".to_string(),
        false => "Round trip by message size: p50 / p99 in µs\n".to_string(),
    };
    format!("{title}{by_size}\n\n")
}

/// Why some cells have no number, or have more to say.
fn notes_text(notes: &Notes, markdown: bool) -> String {
    if notes.lines.is_empty() {
        return String::new();
    }
    let heading = if markdown { "### " } else { "" };
    let mut out = format!("{heading}Notes\n\n");
    for (i, line) in notes.lines.iter().enumerate() {
        out += &match markdown {
            true => format!("- [{}] {line}\n", i + 1),
            false => wrap(&format!("[{}] ", i + 1), line, 4, width()),
        };
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
    found.retain(|m| m.transport.carries_bytes());
    found
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
