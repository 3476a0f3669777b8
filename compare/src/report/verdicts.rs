//! "The lecture, checked on this machine": the block every tour ends with, for compare's part
//! of the lecture: the design-space table row by row (`lecture.rs`, from the probes), then the
//! lecture's cost claims, each judged from this run's numbers, never typed. A machine where the
//! lecture holds gets CONFIRMED; a claim whose numbers this run lacks (one placement, one size,
//! a row left out) gets no line.

use plumbing::verdict::{Claim, Verdict, judge, lines};

use crate::report::lecture::{design_claim, probes_of};
use crate::row::{Mechanism, Row, lecture_mechanisms, placement_words, reference, rtt};
use crate::row::{size_words, us};

pub const HEADING: &str = "The lecture, checked on this machine";

/// A row whose setup is lighter than the pipe's by less than this fraction is within the
/// run-to-run spread of a setup median (QUALIFIED); by more, the claim is REFUTED.
pub const SETUP_MARGIN: f64 = 0.20;

/// Every claim this run can judge: the table's rows, then the costs.
pub fn claims(rows: &[Row]) -> Vec<Claim> {
    let found = lecture_mechanisms(rows);
    let mut all: Vec<Claim> = found
        .iter()
        .filter_map(|m| design_claim(m, probes_of(rows, m)))
        .collect();
    let costs = [
        setup(rows),
        signals(rows),
        shared_memory(rows),
        copies(rows),
        sockets(rows),
    ];
    all.extend(costs.into_iter().flatten());
    all
}

/// The block, for the terminal (plumbing's lines, 80 columns) or Markdown.
pub fn render(rows: &[Row], markdown: bool) -> String {
    let claims = claims(rows);
    if claims.is_empty() {
        return String::new();
    }
    let mut out = match markdown {
        true => format!("\n### {HEADING}\n\n"),
        false => format!("\n{HEADING}\n"),
    };
    for c in &claims {
        match markdown {
            true => out += &format!("- **{}** {}: {}\n", c.verdict, c.claim, c.because),
            false => lines(c).iter().for_each(|l| out += &format!("{l}\n")),
        }
    }
    out
}

fn by_key(rows: &[Row], key: &str) -> Option<Mechanism> {
    lecture_mechanisms(rows).into_iter().find(|m| m.key == key)
}

fn setup_of(rows: &[Row], m: &Mechanism) -> Option<f64> {
    let row = rows.iter().find(|r| r.mechanism.key == m.key)?;
    row.setup_us.as_ref().ok().copied()
}

/// "Pipes are the lightest-weight IPC to set up": the pipe's setup against every other
/// channel's (the rows that carry bytes; their named form where they have names).
fn setup(rows: &[Row]) -> Option<Claim> {
    let pipe = by_key(rows, "pipe")?;
    let pipe_us = setup_of(rows, &pipe)?;
    let mut others: Vec<(f64, &str)> = lecture_mechanisms(rows)
        .iter()
        .filter(|m| m.carries_bytes && m.key != pipe.key)
        .filter_map(|m| Some((setup_of(rows, m)?, m.label)))
        .collect();
    others.sort_by(|a, b| a.0.total_cmp(&b.0));
    let next = others.first()?;
    let lighter: Vec<String> = others
        .iter()
        .filter(|(us, _)| *us < pipe_us)
        .map(|(us, label)| format!("{label} {us:.1} µs ({:.2}x)", us / pipe_us.max(0.001)))
        .collect();
    let clearly = next.0 < pipe_us * (1.0 - SETUP_MARGIN);
    let because = match lighter.is_empty() {
        true => format!(
            "pipe {pipe_us:.1} µs, the lightest of {} channels (next: {} {:.1} µs)",
            others.len() + 1,
            next.1,
            next.0
        ),
        false => format!("pipe {pipe_us:.1} µs; lighter: {}", lighter.join(", ")),
    };
    Some(Claim {
        claim: "pipes are the lightest IPC to set up".into(),
        verdict: judge(!clearly, !lighter.is_empty()),
        because: because + " (create, connect, one message, close; the rows that carry bytes)",
    })
}

/// "Signals are the lightest possible communication": a doorbell round trip against the
/// pipe's, on one core, in time and in CPU per message.
fn signals(rows: &[Row]) -> Option<Claim> {
    let bell = lecture_mechanisms(rows)
        .into_iter()
        .find(|m| !m.carries_bytes)?;
    let pipe = by_key(rows, "pipe")?;
    let size = reference(rows);
    let (s, p) = (
        rtt(rows, &bell, "same", 0)?,
        rtt(rows, &pipe, "same", size)?,
    );
    let faster = s.p50() <= p.p50();
    let cheaper = s.cpu_us_per_msg() <= p.cpu_us_per_msg();
    let verdict = match (faster, cheaper) {
        (true, true) => Verdict::Confirmed,
        (false, false) => Verdict::Refuted,
        _ => Verdict::Qualified,
    };
    Some(Claim {
        claim: "signals are the lightest communication".into(),
        verdict,
        because: format!(
            "one core, per round trip: {} {} µs, {:.2} µs CPU per message; {} ({}) {} µs, {:.2} µs",
            bell.label,
            us(s.p50() as f64),
            s.cpu_us_per_msg(),
            pipe.label,
            size_words(size),
            us(p.p50() as f64),
            p.cpu_us_per_msg()
        ),
    })
}

/// A row whose data lives in a shared region (its demo crate's data column says so).
fn shared(m: &Mechanism) -> bool {
    m.design.data.contains("shared")
}

/// The fastest row at `size` in `place` and whether it is shared memory; None unless rows of
/// both kinds were measured there: "fastest" needs something outside shared memory to beat.
fn fastest(rows: &[Row], place: &str, size: usize) -> Option<(&'static str, u64, bool)> {
    let measured: Vec<(&'static str, u64, bool)> = lecture_mechanisms(rows)
        .iter()
        .filter_map(|m| Some((m.label, rtt(rows, m, place, size)?.p50(), shared(m))))
        .collect();
    let kinds = (measured.iter().any(|r| r.2), measured.iter().any(|r| !r.2));
    if kinds != (true, true) {
        return None;
    }
    measured.into_iter().min_by_key(|(_, p50, _)| *p50)
}

/// "Shared memory is the fastest IPC": which row was fastest, in each placement where rows
/// in and outside shared memory were measured. No line when neither placement had both.
fn shared_memory(rows: &[Row]) -> Option<Claim> {
    let size = reference(rows);
    let mut seen = Vec::new();
    let mut wins = Vec::new();
    for place in ["split", "same"] {
        let Some((label, p50, shared)) = fastest(rows, place, size) else {
            continue;
        };
        wins.push(shared);
        seen.push(format!(
            "{}: fastest {label} {} µs",
            placement_words(place),
            us(p50 as f64)
        ));
    }
    if wins.is_empty() {
        return None;
    }
    Some(Claim {
        claim: "shared memory is the fastest IPC".into(),
        verdict: judge(wins.contains(&true), wins.contains(&false)),
        because: format!("{} round trips: {}", size_words(size), seen.join("; ")),
    })
}

/// "Zero copies" against "at least 2": the zero-copy row against the pipe at the largest size,
/// where the copies weigh most, in each placement.
fn copies(rows: &[Row]) -> Option<Claim> {
    let smallest = rows.iter().map(|r| r.size).filter(|s| *s > 0).min()?;
    let largest = rows.iter().map(|r| r.size).max()?;
    let zc = lecture_mechanisms(rows)
        .into_iter()
        .find(|m| m.design.data.contains("in place") || m.label.contains("zero-copy"))?;
    let pipe = by_key(rows, "pipe")?;
    if largest <= smallest {
        return None;
    }
    let (wins, seen) = head_to_head(rows, &zc, &pipe, largest, ["split", "same"])?;
    Some(Claim {
        claim: "shared memory without copies beats copying through the kernel".into(),
        verdict: judge(wins.contains(&true), wins.contains(&false)),
        because: format!("{} round trips: {}", size_words(largest), seen.join("; ")),
    })
}

/// "Unix domain socket: fast, no network overhead; network socket: slower": the UDS stream
/// against TCP over loopback, in each placement.
fn sockets(rows: &[Row]) -> Option<Claim> {
    let uds = by_key(rows, "uds-stream")?;
    let tcp = by_key(rows, "tcp")?;
    let size = reference(rows);
    let (wins, seen) = head_to_head(rows, &uds, &tcp, size, ["same", "split"])?;
    let verdict = match (wins.contains(&true), wins.contains(&false)) {
        (true, false) => Verdict::Confirmed,
        (true, true) => Verdict::Qualified,
        _ => Verdict::Refuted,
    };
    Some(Claim {
        claim: "a Unix socket is faster than a network socket".into(),
        verdict,
        because: format!("{} round trips: {}", size_words(size), seen.join("; ")),
    })
}

/// `a` against `b` at `size`, in each of `places` where both were measured: whether `a`'s p50
/// was the lower, and the two in words ("same core: pipe 2.2 µs, FIFO 2.4 µs"). None when no
/// placement has both.
fn head_to_head(
    rows: &[Row],
    a: &Mechanism,
    b: &Mechanism,
    size: usize,
    places: [&str; 2],
) -> Option<(Vec<bool>, Vec<String>)> {
    let mut wins = Vec::new();
    let mut seen = Vec::new();
    for place in places {
        let (Some(x), Some(y)) = (rtt(rows, a, place, size), rtt(rows, b, place, size)) else {
            continue;
        };
        wins.push(x.p50() < y.p50());
        seen.push(format!(
            "{}: {} {} µs, {} {} µs",
            placement_words(place),
            a.label,
            us(x.p50() as f64),
            b.label,
            us(y.p50() as f64)
        ));
    }
    (!wins.is_empty()).then_some((wins, seen))
}

#[cfg(test)]
#[path = "verdicts_tests.rs"]
mod tests;
