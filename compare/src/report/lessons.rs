//! What this run shows, computed from its own numbers, each line tied to the lecture's claim
//! it confirms or qualifies. A line whose numbers this run lacks (one placement, one size, a
//! row left out) is not printed. Rows are found by what their demo crate says of them (the
//! coordination, data, naming and direction columns), so a new row takes its place by itself;
//! three lines also look at a name: the pipe that `copying` compares with (key "pipe"), the
//! sockets of `setup` (label "UDS") and the zero-copy row (label "zero-copy").

use crate::report::text::{width, wrap};
use crate::row::{Mechanism, RoundTrips, Row, mechanisms, reference_size, size_words, us};

/// The lines, as plain sentences (JSON puts them in a field).
pub fn lines(rows: &[Row]) -> Vec<String> {
    [
        wakeup(rows),
        spinning(rows),
        spin_cpu(rows),
        copying(rows),
        setup(rows),
    ]
    .into_iter()
    .flatten()
    .collect()
}

/// The lines under a heading, for the terminal or Markdown.
pub fn render(rows: &[Row], markdown: bool) -> String {
    let lines = lines(rows);
    if lines.is_empty() {
        return String::new();
    }
    let mut out = match markdown {
        true => String::from("### What this run shows\n\n"),
        false => String::from("\nWhat this run shows\n"),
    };
    for line in lines {
        out += &match markdown {
            true => format!("- {line}\n"),
            false => wrap("- ", &line, 2, width()),
        };
    }
    out + "\n"
}

fn spins(m: &Mechanism) -> bool {
    m.design.coordination.contains("spin")
}

/// The round trips of `m` in placement `place` ("same" / "split") at `size`, if measured.
fn rtt<'a>(rows: &'a [Row], m: &Mechanism, place: &str, size: usize) -> Option<&'a RoundTrips> {
    rows.iter()
        .find(|r| r.mechanism.key == m.key && r.placement.name == place && r.size == size)?
        .latency
        .as_ref()
        .ok()
}

/// The size the lines compare at (`reference_size` of the sizes measured), or 0 for a doorbell
/// alone.
fn reference(rows: &[Row]) -> usize {
    reference_size(rows.iter().map(|r| r.size).filter(|s| *s > 0)).unwrap_or(0)
}

fn ratio_words(low: f64, high: f64) -> String {
    match (format!("{low:.1}"), format!("{high:.1}")) {
        (a, b) if a == b => format!("{a}x"),
        (a, b) => format!("{a}x to {b}x"),
    }
}

/// Lecture: "the kernel handles blocking and wakeup". Its price depends on placement.
fn wakeup(rows: &[Row]) -> Option<String> {
    let size = reference(rows);
    let mut ratios: Vec<(f64, &'static str)> = Vec::new();
    for m in mechanisms(rows).iter().filter(|m| !spins(m)) {
        let at = |size| Some((rtt(rows, m, "same", size)?, rtt(rows, m, "split", size)?));
        let Some((same, split)) = at(size).or_else(|| at(0)) else {
            continue;
        };
        ratios.push((split.p50() as f64 / same.p50().max(1) as f64, m.label));
    }
    ratios.sort_by(|a, b| a.0.total_cmp(&b.0));
    let (low, high) = (ratios.first()?, ratios.last()?);
    let which = match ratios.len() {
        1 => format!("for {}", low.1),
        n => format!(
            "in the {n} rows that block ({} least, {} most)",
            low.1, high.1
        ),
    };
    Some(format!(
        "The kernel handles blocking and wakeup, and where the woken process runs sets the \
         price: a {} round trip between two cores took {} the same-core one {which}.",
        size_words(size),
        ratio_words(low.0, high.0),
    ))
}

/// Lecture: "shared memory is the fastest IPC". Only when each process has a core to spin on.
fn spinning(rows: &[Row]) -> Option<String> {
    let size = reference(rows);
    let found = mechanisms(rows);
    let spin = found.iter().find(|m| spins(m))?;
    let ranked = |place: &str| -> Vec<(u64, &'static str)> {
        let mut all: Vec<(u64, &'static str)> = found
            .iter()
            .filter_map(|m| Some((rtt(rows, m, place, size)?.p50(), m.label)))
            .collect();
        all.sort_unstable();
        all
    };
    let (split, same) = (ranked("split"), ranked("same"));
    let rank = |all: &[(u64, &str)]| all.iter().position(|(_, l)| *l == spin.label);
    let (split_at, same_at) = (rank(&split)?, rank(&same)?);
    let where_split = match split_at {
        0 => format!(
            "fastest on two cores ({} µs; next, {}: {} µs)",
            us(split[0].0 as f64),
            split.get(1)?.1,
            us(split.get(1)?.0 as f64)
        ),
        n => format!("{} fastest of {} on two cores", ordinal(n + 1), split.len()),
    };
    let where_same = match same_at + 1 == same.len() {
        true => format!(
            "slowest on one core ({} µs, {:.0}x {})",
            us(same[same_at].0 as f64),
            same[same_at].0 as f64 / same[0].0.max(1) as f64,
            same[0].1
        ),
        false => format!(
            "{} fastest of {} on one core",
            ordinal(same_at + 1),
            same.len()
        ),
    };
    Some(format!(
        "Spinning on shared memory is the fastest IPC only while each process has a core to \
         spin on: of the rows that carry {} messages, {} was the {where_split}, and the \
         {where_same}, where the spinner waits for the scheduler to run its peer.",
        size_words(size),
        spin.label
    ))
}

/// "1st", "2nd", "3rd", "4th", ... "11th", "12th", "13th", "21st".
pub fn ordinal(n: usize) -> String {
    let suffix = match (n % 10, n % 100) {
        (_, 11..=13) => "th",
        (1, _) => "st",
        (2, _) => "nd",
        (3, _) => "rd",
        _ => "th",
    };
    format!("{n}{suffix}")
}

/// Lecture: with shared memory "you own coordination". Spinning is paid for in CPU time.
fn spin_cpu(rows: &[Row]) -> Option<String> {
    let size = reference(rows);
    let found = mechanisms(rows);
    let spin = found.iter().find(|m| spins(m))?;
    let blocking = found.iter().find(|m| !spins(m) && m.key != spin.key)?;
    let cpu = |m: &Mechanism, place| Some(rtt(rows, m, place, size)?.cpu_us_per_msg());
    let (spin_same, block_same) = (cpu(spin, "same")?, cpu(blocking, "same")?);
    Some(format!(
        "Coordination is the user's to pay for with shared memory: on one core {} burned {:.1} \
         µs of CPU per message against {:.1} µs for {}, which sleeps in the kernel until woken.",
        spin.label, spin_same, block_same, blocking.label
    ))
}

/// Lecture: kernel IPC copies every byte through the kernel (twice per round trip); shared
/// memory without a copy does not grow with the message.
fn copying(rows: &[Row]) -> Option<String> {
    let smallest = rows.iter().map(|r| r.size).filter(|s| *s > 0).min()?;
    let largest = rows.iter().map(|r| r.size).max()?;
    if largest <= smallest {
        return None;
    }
    let growth = |m: &Mechanism| -> Option<f64> {
        let small = rtt(rows, m, "same", smallest)?.p50() as f64;
        Some(rtt(rows, m, "same", largest)?.p50() as f64 / small.max(1.0))
    };
    let found = mechanisms(rows);
    let copies = |m: &&Mechanism| m.design.data.contains("copy") && !zero_copy(m);
    let mut grew: Vec<(f64, &str)> = found
        .iter()
        .filter(copies)
        .filter_map(|m| Some((growth(m)?, m.label)))
        .collect();
    grew.sort_by(|a, b| a.0.total_cmp(&b.0));
    let (low, high) = (grew.first()?, grew.last()?);
    let which = match grew.len() {
        1 => low.1.to_string(),
        n => {
            let names: Vec<&str> = grew.iter().map(|(_, label)| *label).collect();
            format!(
                "the {n} rows that copy through the kernel ({})",
                names.join(", ")
            )
        }
    };
    let mut line = format!(
        "Every byte is copied through the kernel: from {} to {} the round trip of {which} grew \
         {} (same core).",
        size_words(smallest),
        size_words(largest),
        ratio_words(low.0, high.0)
    );
    // The zero-copy row against the pipe at the largest size on two cores: on one core both
    // spinning rows wait for the scheduler, which hides what the copies cost.
    let pipe = found.iter().find(|m| m.key == "pipe");
    for m in found.iter().filter(|m| zero_copy(m)) {
        let at = |m: &Mechanism| Some(rtt(rows, m, "split", largest)?.p50() as f64);
        if let (Some(zc), Some(p)) = (at(m), pipe.and_then(at)) {
            line += &format!(
                " {}, which copies nothing, took {} µs at {} on two cores, {:.2}x the pipe's {} µs.",
                m.label,
                us(zc),
                size_words(largest),
                zc / p.max(1.0),
                us(p)
            );
        }
    }
    Some(line)
}

/// A row whose data column or name says it copies nothing.
fn zero_copy(m: &Mechanism) -> bool {
    let says = |s: &str| s.contains("zero-copy") || s.contains("zero copy");
    says(m.design.data) || says(m.label)
}

/// Lecture: sockets cost more to set up than a pipe (bind, listen, connect, accept). The table's
/// setup is the named form where there are names: what the run shows is that the name costs,
/// for a pipe too (a FIFO), not the socket (the progress log times `socketpair`).
fn setup(rows: &[Row]) -> Option<String> {
    let found = mechanisms(rows);
    let setup_of = |m: &Mechanism| {
        let row = rows.iter().find(|r| r.mechanism.key == m.key)?;
        row.setup_us.as_ref().ok().copied()
    };
    let is_bytes = |m: &&Mechanism| m.carries_bytes;
    let one_way_stream =
        |m: &&Mechanism| m.design.direction == "one-way" && m.design.structure.contains("stream");
    let pipe = found
        .iter()
        .filter(is_bytes)
        .filter(one_way_stream)
        .find(|m| m.design.naming.contains("anonymous"))?;
    let pipe_us = setup_of(pipe)?;
    let times = |us: f64| format!("{:.1}x", us / pipe_us.max(0.001));
    let fifo = found
        .iter()
        .filter(is_bytes)
        .filter(one_way_stream)
        .find(|m| m.design.naming.contains("path"))
        .and_then(|m| Some((m.label, setup_of(m)?)));
    let sockets: Vec<String> = found
        .iter()
        .filter(|m| m.design.data.contains("network") || m.label.contains("UDS"))
        .filter_map(|m| Some((m.label, setup_of(m)?)))
        .map(|(label, us)| format!("{label} {us:.1} µs ({})", times(us)))
        .collect();
    if sockets.is_empty() && fifo.is_none() {
        return None;
    }
    let mut line = format!(
        "Setting up a channel with a name costs more than the anonymous pipe (create, connect, \
         one message, close, in one process): {} {pipe_us:.1} µs",
        pipe.label
    );
    if let Some((label, us)) = fifo {
        line += &format!("; {label}, a pipe with a name, {us:.1} µs ({})", times(us));
    }
    if !sockets.is_empty() {
        line += &format!("; named sockets: {}", sockets.join(", "));
    }
    Some(line + ". The progress log times the anonymous forms too (socketpair).")
}
