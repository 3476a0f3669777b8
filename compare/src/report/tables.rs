//! Tables for people. Markdown (for README, where a wide table scrolls): the design-space table
//! with every column in one row, then latency by size, then notes. Terminal: the same content in
//! tables that fit `text::width()` columns: the lecture's columns, the measured numbers (each
//! placement's round trip with its x pipe beside it), latency by size, notes. A terminal table that would be too wide is split by columns into
//! several (`layout.rs`), each repeating the mechanism, so that no number is wrapped inside
//! its cell.

use plumbing::design::COLUMNS;

use crate::report::cells::{
    Notes, UNSTEADY_MARK, has_pipe, latency_cell, measured_cells, x_pipe_text,
};
use crate::report::layout::{Column, new_table, packed, tables_text};
use crate::report::text::{width, wrap};
use crate::report::{lecture, lessons};
use crate::row::{
    Mechanism, Placement, Rates, RoundTrips, Row, UNSTEADY, find, mechanisms, placement_words,
    reference_size, short_placement, size_words, us,
};

/// The report's first line (printed before the run, `main.rs`).
pub const TITLE: &str = "ipc-tour compare: every mechanism measured the same way, in this run\n";

/// Renders the report's tables and notes, as a terminal table or as Markdown.
pub fn render(rows: &[Row], sizes: &[usize], placements: &[Placement], markdown: bool) -> String {
    let mut notes = Notes::default();
    let mut out = String::from("\n");
    out += &match markdown {
        true => markdown_design(rows, sizes, placements, &mut notes),
        false => terminal_design(rows, sizes, placements, &mut notes),
    };
    if sizes.len() > 1 {
        out += &by_size(rows, sizes, placements, &mut notes, markdown);
    }
    out + &notes_text(&notes, markdown)
        + &unsteady_text(rows, markdown)
        + &x_pipe_text(rows, markdown)
}

/// What the rounds' mark means, from this run: how many cells' rounds disagreed, the widest.
fn unsteady_text(rows: &[Row], markdown: bool) -> String {
    let measured: Vec<(&Row, &RoundTrips)> = rows
        .iter()
        .filter_map(|r| Some((r, r.latency.as_ref().ok()?)))
        .filter(|(_, l)| l.rounds.len() > 1)
        .collect();
    let unsteady = measured.iter().filter(|(_, l)| l.unsteady()).count();
    let Some((row, widest)) = measured
        .iter()
        .max_by(|a, b| a.1.spread().total_cmp(&b.1.spread()))
    else {
        return String::new();
    };
    // Throughput is measured once per mechanism and placement, whatever the size.
    let mut rates: Vec<(&str, &str, &Rates)> = Vec::new();
    for r in rows {
        if let Ok(t) = &r.throughput
            && t.rounds.len() > 1
            && !rates
                .iter()
                .any(|(k, p, _)| (*k, *p) == (r.mechanism.key, r.placement.name))
        {
            rates.push((r.mechanism.key, r.placement.name, t));
        }
    }
    let slow = rates.iter().filter(|(_, _, t)| t.unsteady()).count();
    let throughputs = match rates.len() {
        0 => String::new(),
        n => format!(" and {slow} of {n} throughputs"),
    };
    let (low, high) = widest.p50_range();
    let here = match unsteady + slow {
        0 => format!(
            "Here none of the {} round-trip cells{throughputs}: this run's rounds agreed.",
            measured.len()
        ),
        _ => format!(
            "Here {unsteady} of {} round-trip cells{}{throughputs}: the machine was quick at some \
             moments of this run and slow at others (the rounds are interleaved across rows, so \
             a slow moment touches every row alike); the widest round trip, {}, {}, {}, ran its \
             rounds at {} to {} µs.",
            measured.len(),
            by_placement(&measured),
            row.mechanism.label,
            size_words(row.size),
            placement_words(row.placement.name),
            us(low as f64),
            us(high as f64),
        ),
    };
    // Why the second best, where it is (4 rounds or more): see `row::headline_rank`.
    let why = match widest.rounds.len() >= 4 {
        true => {
            ", the machine's quieter moments, which a second run repeats more closely than a \
                 median of the rounds would"
        }
        false => "; with so few rounds, a second run may differ a good deal",
    };
    // A p99 of few samples is one of the slowest few: say which.
    let samples = widest.samples();
    let p99 = match samples < 1000 {
        true => {
            let slowest = samples - (samples * 99).div_ceil(100) + 1;
            format!(
                " Each p99 is of about {samples} round trips, so it is about the {} slowest \
                 of them: a rough number.",
                lessons::ordinal(slowest)
            )
        }
        false => String::new(),
    };
    let text = format!(
        "{UNSTEADY_MARK} after a p50: that cell's slowest round ran more than {:.0}% above it (+ \
         says how far); after a throughput, more than {:.0}% below it. Treat a marked number as \
         uncertain. {here} Each p50 and throughput shown comes from the {} rounds (the fastest \
         round is the best){why}.{p99} Every round is in --format json and csv.",
        UNSTEADY * 100.0,
        UNSTEADY * 100.0,
        widest.rank_words(),
    );
    match markdown {
        true => format!("\n{text}\n\n"),
        false => format!("\n{}", wrap("", &text, 0, width())),
    }
}

/// " (2 of 40 on one core, 33 of 40 across cores)": the marked round-trip cells of each
/// placement, which can differ a great deal (a cross-core wakeup waits on the other core's
/// idle state); nothing when the run has one placement.
fn by_placement(measured: &[(&Row, &RoundTrips)]) -> String {
    let mut names: Vec<&str> = Vec::new();
    for (r, _) in measured {
        if !names.contains(&r.placement.name) {
            names.push(r.placement.name);
        }
    }
    names.sort_by_key(|name| *name != "same"); // the tables' order: one core first
    if names.len() < 2 {
        return String::new();
    }
    let counts = names.iter().map(|name| {
        let cells = measured.iter().filter(|(r, _)| r.placement.name == *name);
        let marked = cells.clone().filter(|(_, l)| l.unsteady()).count();
        let place = match *name {
            "same" => "on one core",
            _ => "across cores",
        };
        format!("{marked} of {} {place}", cells.count())
    });
    format!(" ({})", counts.collect::<Vec<_>>().join(", "))
}

/// Latency by message size: one row per mechanism that carries bytes and placement.
fn by_size(
    rows: &[Row],
    sizes: &[usize],
    placements: &[Placement],
    notes: &mut Notes,
    markdown: bool,
) -> String {
    let mut names = Vec::new();
    let mut places = Vec::new();
    let mut by_size: Vec<Column> = sizes
        .iter()
        .map(|s| match markdown {
            true => Column::new(format!("{} p50 / p99 µs", size_words(*s)), Vec::new()),
            false => Column::new(size_words(*s), Vec::new()),
        })
        .collect();
    for m in byte_mechanisms(rows) {
        for p in placements {
            names.push(m.label.to_string());
            places.push(short_placement(p.name).to_string());
            for (column, size) in by_size.iter_mut().zip(sizes) {
                let row = find(rows, &m, p, *size);
                let cell = row.map_or("-".into(), |r| latency_cell(r, notes, !markdown, false));
                column.cells.push(cell);
            }
        }
    }
    let keys = [
        Column::new("mechanism", names),
        Column::new("placement", places),
    ];
    if markdown {
        let mut table = new_table(true);
        let all: Vec<&Column> = keys.iter().chain(&by_size).collect();
        table.set_header(all.iter().map(|c| c.header.clone()));
        for i in 0..keys[0].cells.len() {
            table.add_row(all.iter().map(|c| c.cells[i].clone()));
        }
        return format!("### Round trip by message size\n\n{table}\n\n");
    }
    format!(
        "Round trip by message size: p50 / p99 in µs\n{}\n",
        tables_text(&packed(&keys, &by_size))
    )
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
    let reference = reference_size(sizes.iter().copied()).unwrap_or(64);
    let mut design = new_table(true);
    let mut header: Vec<String> = vec!["mechanism".into()];
    header.extend(COLUMNS.map(String::from));
    for p in placements {
        header.push(format!(
            "RTT p50 / p99 µs, {}, {}",
            size_words(reference),
            placement_words(p.name)
        ));
    }
    if has_pipe(rows) {
        for p in placements {
            header.push(format!(
                "x pipe, {}, {}",
                size_words(reference),
                placement_words(p.name)
            ));
        }
    }
    let both = |what: &str| match placements.len() {
        1 => what.to_string(),
        _ => format!(
            "{what} ({})",
            placement_names(placements).replace("split", "diff. cores")
        ),
    };
    header.push(both("MiB/s one way"));
    header.push(both("CPU µs / msg of both processes, 2 msgs a round trip"));
    header.push("setup µs".into());
    design.set_header(header);
    for m in mechanisms(rows) {
        let mut cells: Vec<String> = vec![m.label.to_string()];
        let probes = lecture::probes_of(rows, &m);
        cells.extend(COLUMNS.map(|column| lecture::cell(&m, probes, column, true)));
        let measured = measured_cells(rows, &m, reference, placements, notes, false);
        cells.extend(measured.rtt);
        cells.extend(measured.x_pipe);
        cells.push(measured.throughput.join(" / "));
        cells.push(measured.cpu.join(" / "));
        cells.push(measured.setup);
        design.add_row(cells);
    }
    format!(
        "### Design space, measured: round trips of {} messages\n\nIn the lecture's columns ({} \
         to {}), each cell is {}\n\n{design}\n\n",
        size_words(reference),
        COLUMNS[0],
        COLUMNS[COLUMNS.len() - 1],
        legend(", after the semicolon,")
    )
}

/// How to read a cell of the lecture's columns (`lecture::cell`): the crate's words, then
/// (`then`: where) what this run's probe saw.
fn legend(then: &str) -> String {
    format!(
        "the mechanism's own words, then{then} what a probe (a system call) showed in this run, \
         or \"(as documented)\" where no probe exists."
    )
}

/// The lecture's qualitative columns, then the measured numbers, each table within `width()`.
fn terminal_design(
    rows: &[Row],
    sizes: &[usize],
    placements: &[Placement],
    notes: &mut Notes,
) -> String {
    let reference = reference_size(sizes.iter().copied()).unwrap_or(64);
    let found = mechanisms(rows);
    let names = Column::new(
        "mechanism",
        found.iter().map(|m| m.label.to_string()).collect(),
    );
    let qualitative: Vec<Column> = COLUMNS
        .iter()
        .map(|column| {
            let values = found
                .iter()
                .map(|m| lecture::cell(m, lecture::probes_of(rows, m), column, false));
            Column::new(*column, values.collect())
        })
        .collect();
    let mut out =
        String::from("The lecture's design space, in each crate's words, and as observed\n");
    out += &wrap("Each cell: ", &legend(""), 0, width());
    out += &tables_text(&packed(std::slice::from_ref(&names), &qualitative));
    out += "\n";

    // The coordination column explains the CPU column; unless every number fits beside it
    // in one table, it is left out (it is in the tables above).
    let (keys, mut measured) = measured_columns(rows, &found, reference, placements, notes);
    let mut tables = packed(std::slice::from_ref(&keys), &measured);
    let coordination = found.iter().map(|m| m.design.coordination.to_string());
    measured.insert(0, Column::new("coordination", coordination.collect()));
    let with_coordination = packed(std::slice::from_ref(&keys), &measured);
    if with_coordination.len() == 1 {
        tables = with_coordination;
    }
    let rank = match rows.iter().find_map(|r| r.latency.as_ref().ok()) {
        Some(l) if l.rounds.len() > 1 => format!(" (the {} rounds)", l.rank_words()),
        _ => String::new(),
    };
    let x_pipe = match has_pipe(rows) {
        true => "; x pipe: that round trip over the pipe's, round by round (±: their spread)",
        false => "",
    };
    let caption = format!(
        "Measured: round trips (RTT) of {} messages, p50{rank} +how far above it the slowest \
         round ran / p99, in µs{x_pipe}; one-way throughput; CPU time of both processes per \
         message, a round trip being two messages (one each way), so twice this per round \
         trip; setup.{}",
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
    out + &tables_text(&tables) + "\n"
}

/// The terminal's measured numbers at the reference size, a column each, and the key column
/// (the mechanism, with the marks of notes about its whole row).
fn measured_columns(
    rows: &[Row],
    found: &[Mechanism],
    reference: usize,
    placements: &[Placement],
    notes: &mut Notes,
) -> (Column, Vec<Column>) {
    let pair = match placements {
        [one] => short_placement(one.name).to_string(),
        _ => placement_names(placements).replace("split", "diff."),
    };
    let mut names = Column::new("mechanism", Vec::new());
    // Each placement's round trip, then (with a pipe in the run) its x pipe beside it.
    let mut columns: Vec<Column> = Vec::new();
    for p in placements {
        let place = short_placement(p.name);
        columns.push(Column::new(format!("RTT µs\n{place}"), Vec::new()));
        if has_pipe(rows) {
            columns.push(Column::beside(format!("x pipe\n{place}"), Vec::new()));
        }
    }
    let per_placement = columns.len() / placements.len().max(1);
    let mut mib = Column::new(format!("MiB/s\n{pair}"), Vec::new());
    // Per message, not per round trip: the second line says so within the column's width.
    let mut cpu = Column::new(format!("CPU µs/msg\n2 msgs/RTT\n{pair}"), Vec::new());
    let mut setup = Column::new("setup\nµs", Vec::new());
    for m in found {
        let cells = measured_cells(rows, m, reference, placements, notes, true);
        let mut label = m.label.to_string();
        for mark in &cells.marks {
            label += &format!(" {mark}");
        }
        names.cells.push(label);
        for (i, cell) in cells.rtt.into_iter().enumerate() {
            columns[i * per_placement].cells.push(cell);
        }
        for (i, cell) in cells.x_pipe.into_iter().enumerate() {
            columns[i * per_placement + 1].cells.push(cell);
        }
        mib.cells.push(same_once(&cells.throughput));
        cpu.cells.push(same_once(&cells.cpu));
        setup.cells.push(cells.setup);
    }
    columns.extend([mib, cpu, setup]);
    (names, columns)
}

/// "a / b", or "a" when every placement gives the same cell (a size limit's "n/a [2]").
fn same_once(cells: &[String]) -> String {
    match cells.first() {
        Some(first) if cells.iter().all(|c| c == first) && first.contains('[') => first.clone(),
        _ => cells.join(" / "),
    }
}

fn byte_mechanisms(rows: &[Row]) -> Vec<Mechanism> {
    let mut found = mechanisms(rows);
    found.retain(|m| m.carries_bytes);
    found
}

fn placement_names(placements: &[Placement]) -> String {
    placements
        .iter()
        .map(|p| p.name)
        .collect::<Vec<_>>()
        .join(" / ")
}
