//! What this run shows, computed from its own numbers, each line tied to the lecture's claim
//! it confirms or qualifies. A line whose numbers this run lacks (one placement, one size, a
//! row left out) is not printed. Rows are found by what their demo crate says of them (the
//! coordination, data, naming and direction columns), so a new row takes its place by itself;
//! some lines also look at a name: the pipe (key "pipe") that `copying`, `setup` and
//! `signal_cost` compare with, the sockets of `sockets` (keys "uds-stream" and "tcp") and the
//! zero-copy row (label "zero-copy"). Where a line sets a row against the pipe and the ratio
//! is the point, it quotes the row's x pipe (`row::Ratio`: the rounds' ratios, paired round by
//! round), not one headline over the other.
//!
//! Here: the lines about what a message costs to carry and to set up (`copying`, `setup`,
//! `sockets`, `signal_cost`), with the helpers every line shares. In `lessons/coordination.rs`:
//! the lines about who waits and how (`wakeup`, `spinning`, `spin_cpu`); in `lessons/crates.rs`:
//! what a peer crate adds over the nearest kernel row (`crates`).

mod coordination;
mod crates;

use coordination::{spin_cpu, spinning, wakeup};
use crates::crates;

use crate::report::records::sig3;
use crate::report::text::{width, wrap};
use crate::row::{
    Mechanism, Row, lecture_mechanisms, placement_words, reference, rtt, size_words, times, us,
    x_pipe,
};

/// The lines, as plain sentences (JSON puts them in a field).
pub fn lines(rows: &[Row]) -> Vec<String> {
    [
        wakeup(rows),
        spinning(rows),
        spin_cpu(rows),
        copying(rows),
        setup(rows),
        sockets(rows),
        signal_cost(rows),
        crates(rows),
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

/// The x pipe of `m` in placement `place` ("same" / "split") at `size`: the median of its
/// rounds' ratios to the pipe's, if it has one.
fn x_pipe_of(rows: &[Row], m: &Mechanism, place: &str, size: usize) -> Option<f64> {
    let row = rows
        .iter()
        .find(|r| r.mechanism.key == m.key && r.placement.name == place && r.size == size)?;
    Some(x_pipe(rows, row).ok()?.median())
}

/// "2.0x", or "1.5x to 3.1x" when the lowest and highest ratio differ at one decimal.
fn ratio_words(low: f64, high: f64) -> String {
    match (format!("{low:.1}"), format!("{high:.1}")) {
        (a, b) if a == b => format!("{a}x"),
        (a, b) => format!("{a}x to {b}x"),
    }
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
    let found = lecture_mechanisms(rows);
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
                "the {n} rows that copy through the kernel and carry {} ({})",
                size_words(largest),
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
    // spinning rows wait for the scheduler, which hides what the copies cost. The ratio is
    // the x pipe (round by round), the times the headlines.
    let pipe = found.iter().find(|m| m.key == "pipe");
    for m in found.iter().filter(|m| zero_copy(m)) {
        for (place, words) in [("split", "on two cores"), ("same", "on one core")] {
            let at = |m: &Mechanism| Some(rtt(rows, m, place, largest)?.p50() as f64);
            let (Some(zc), Some(p), Some(x)) =
                (at(m), pipe.and_then(at), x_pipe_of(rows, m, place, largest))
            else {
                continue;
            };
            line += &match place {
                "split" => format!(
                    " {}, which copies nothing, took {} µs at {} {words} against the pipe's {} \
                     µs: {}x the pipe, round by round.",
                    m.label,
                    us(zc),
                    size_words(largest),
                    us(p),
                    times(x)
                ),
                // Where it loses: on one core the spinning receiver waits for the scheduler.
                _ => format!(
                    " On one core it took {} µs against the pipe's {} µs: {}x.",
                    us(zc),
                    us(p),
                    times(x)
                ),
            };
        }
    }
    Some(line)
}

/// A row whose data column or name says it copies nothing.
fn zero_copy(m: &Mechanism) -> bool {
    let says = |s: &str| s.contains("zero-copy") || s.contains("zero copy");
    says(m.design.data) || says(m.label)
}

/// Lecture: "pipes are the lightest-weight IPC to set up". Every row's setup, ranked (the
/// named form where there are names; the progress log times the others), and where the pipe
/// ranks. Ranked by the value as JSON keeps it (3 significant digits), ties in the rows' order.
fn setup(rows: &[Row]) -> Option<String> {
    let mut ranked: Vec<(f64, f64, &'static str, &'static str)> = lecture_mechanisms(rows)
        .iter()
        .filter_map(|m| {
            let row = rows.iter().find(|r| r.mechanism.key == m.key)?;
            let us = *row.setup_us.as_ref().ok()?;
            Some((sig3(us), us, m.label, m.key))
        })
        .collect();
    if ranked.len() < 2 {
        return None;
    }
    ranked.sort_by(|a, b| a.0.total_cmp(&b.0));
    let each: Vec<String> = ranked
        .iter()
        .map(|(_, us, label, _)| format!("{label} {us:.1} µs"))
        .collect();
    let pipe = match ranked.iter().position(|r| r.3 == "pipe") {
        Some(at) => format!("; the pipe ranked {} of {}", ordinal(at + 1), ranked.len()),
        None => String::new(),
    };
    Some(format!(
        "Setting up a channel, every row ranked (create, connect, one message, close, in one \
         process; the named form where there are names): {}{pipe}. The progress log times the \
         other forms too (socketpair, IPC_PRIVATE, an anonymous mapping).",
        each.join(", ")
    ))
}

/// Lecture: a Unix socket is "fast, no network overhead", a network socket "slower". The UDS
/// stream against TCP over loopback, the same calls in another address family.
fn sockets(rows: &[Row]) -> Option<String> {
    let found = lecture_mechanisms(rows);
    let uds = found.iter().find(|m| m.key == "uds-stream")?;
    let tcp = found.iter().find(|m| m.key == "tcp")?;
    let size = reference(rows);
    let mut each = Vec::new();
    for place in ["same", "split"] {
        let (Some(u), Some(t)) = (rtt(rows, uds, place, size), rtt(rows, tcp, place, size)) else {
            continue;
        };
        // TCP over UDS, said as such: the other ratios read "x the pipe", this one the
        // other way round, so the words name which row took longer.
        each.push(format!(
            "{} µs against {} µs, {} ({} took {:.1}x as long)",
            us(u.p50() as f64),
            us(t.p50() as f64),
            placement_words(place),
            tcp.label,
            t.p50() as f64 / u.p50().max(1) as f64,
        ));
    }
    if each.is_empty() {
        return None;
    }
    Some(format!(
        "A Unix socket skips the network stack: a {} round trip over {} against {} took {}.",
        size_words(size),
        uds.label,
        tcp.label,
        each.join("; ")
    ))
}

/// Lecture: signals are "the lightest possible communication". A ring against a pipe's
/// message, on one core, in time and in CPU.
fn signal_cost(rows: &[Row]) -> Option<String> {
    let found = lecture_mechanisms(rows);
    let bell = found.iter().find(|m| !m.carries_bytes)?;
    let pipe = found.iter().find(|m| m.key == "pipe")?;
    let size = reference(rows);
    let (s, p) = (rtt(rows, bell, "same", 0)?, rtt(rows, pipe, "same", size)?);
    // The ratio only where the ring has an x pipe (the pipe's message at most 64 B).
    let ratio = match x_pipe_of(rows, bell, "same", 0) {
        Some(x) => format!(": {}x the pipe, round by round", times(x)),
        None => String::new(),
    };
    Some(format!(
        "A signal carries no bytes, but a ring is not free: on one core a {} round trip took {} \
         µs and {:.2} µs of CPU per message, against {} µs and {:.2} µs for a {} {} round \
         trip{ratio}.",
        bell.label,
        us(s.p50() as f64),
        s.cpu_us_per_msg(),
        us(p.p50() as f64),
        p.cpu_us_per_msg(),
        size_words(size),
        pipe.label
    ))
}
