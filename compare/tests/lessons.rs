//! "What this run shows", line by line, recomputed from the same run's rows: every row name,
//! rank, ratio and time in each lesson must be what the JSON's rows give, to the printed
//! precision, and a line the rows cannot support must be absent. The JSON carries both (its
//! `lessons` are the lines the table prints). Round-trip p50s are integers in ns there, every
//! round's too, so the lines built from them are rebuilt exactly, x pipe ratios included (the
//! median over the rounds of a row's p50 over the pipe's, recomputed here from the rounds);
//! CPU time and setup are rounded to 3 significant digits in the JSON, so a number printed
//! from them must lie within that rounding.
#![allow(clippy::unwrap_used)]

mod common;

use serde_json::Value;

use common::{compare, json_rows};
use testkit::stderr;

/// What the lessons read of one JSON row.
struct Row {
    key: String,
    label: String,
    placement: String,
    size: u64,
    /// the headline round-trip p50, when the row was measured (status "ok")
    p50: Option<u64>,
    /// every round's p50, in the order measured (empty when not measured)
    round_p50s: Vec<u64>,
    cpu_us: Option<f64>,
    setup_us: Option<f64>,
    design: Value,
}

impl Row {
    fn from(v: &Value) -> Row {
        let ok = v["status"] == "ok";
        Row {
            key: v["key"].as_str().unwrap().to_string(),
            label: v["mechanism"].as_str().unwrap().to_string(),
            placement: v["placement"].as_str().unwrap().to_string(),
            size: v["size"].as_u64().unwrap(),
            p50: v["rtt_p50_ns"].as_u64().filter(|_| ok),
            round_p50s: match &v["rtt_round_p50s_ns"] {
                Value::Array(each) if ok => each.iter().map(|p| p.as_u64().unwrap()).collect(),
                _ => Vec::new(),
            },
            cpu_us: v["cpu_us_per_msg"].as_f64().filter(|_| ok),
            setup_us: v["setup_us"].as_f64(),
            design: v.clone(),
        }
    }
}

/// A mechanism as the lessons see it: its name and the lecture's columns its crate gives.
#[derive(Clone)]
struct Mech {
    key: String,
    label: String,
    data: String,
    coordination: String,
    /// a doorbell (signals): its only row has no payload
    doorbell: bool,
}

impl Mech {
    fn spins(&self) -> bool {
        self.coordination.contains("spin")
    }

    /// Its data column or its name says it copies nothing.
    fn zero_copy(&self) -> bool {
        let says = |s: &str| s.contains("zero-copy") || s.contains("zero copy");
        says(&self.data) || says(&self.label)
    }
}

/// The run's rows and mechanisms (in the order the report lists them).
struct Run {
    rows: Vec<Row>,
    mechs: Vec<Mech>,
}

/// The peer crates' lesson (`--features peers`: what each crate adds over the nearest kernel
/// row, or why it was not compared), which tests/peers.rs recomputes; a run without peer rows
/// has no such line.
const CRATES_LESSON: &str = "A crate costs what it adds";

impl Run {
    /// The lecture's rows of a run: a peer crate's row (`--features peers`, "wraps" names
    /// the lecture row it is set against) has its own lesson, checked in tests/peers.rs.
    fn from(json_rows: &[Value]) -> Run {
        let lecture = json_rows.iter().filter(|r| r["wraps"].is_null());
        let rows: Vec<Row> = lecture.map(Row::from).collect();
        let mut mechs: Vec<Mech> = Vec::new();
        for r in &rows {
            if mechs.iter().any(|m| m.key == r.key) {
                continue;
            }
            let column = |c: &str| r.design[c].as_str().unwrap().to_string();
            mechs.push(Mech {
                key: r.key.clone(),
                label: r.label.clone(),
                data: column("data"),
                coordination: column("coordination"),
                doorbell: rows.iter().filter(|o| o.key == r.key).all(|o| o.size == 0),
            });
        }
        Run { rows, mechs }
    }

    fn row(&self, key: &str, place: &str, size: u64) -> Option<&Row> {
        self.rows
            .iter()
            .find(|r| r.key == key && r.placement == place && r.size == size)
    }

    fn p50(&self, m: &Mech, place: &str, size: u64) -> Option<u64> {
        self.row(&m.key, place, size)?.p50
    }

    /// The size the lessons compare at: 64 B when measured, else the smallest.
    fn reference(&self) -> u64 {
        let sizes = || self.rows.iter().map(|r| r.size).filter(|s| *s > 0);
        if sizes().any(|s| s == 64) {
            64
        } else {
            sizes().min().unwrap_or(0)
        }
    }

    /// `m` against the pipe in `place`, round by round: the median over the rounds of its p50
    /// over the pipe's p50 of the same round, at `size` (a doorbell, size 0: the pipe at the
    /// reference size, when that is at most 64 B).
    fn x_pipe(&self, m: &Mech, place: &str, size: u64) -> Option<f64> {
        let pipe_size = match size {
            0 if self.reference() <= 64 => self.reference(),
            0 => return None,
            s => s,
        };
        let mine = &self.row(&m.key, place, size)?.round_p50s;
        let pipe = &self.row("pipe", place, pipe_size)?.round_p50s;
        if mine.is_empty() || mine.len() != pipe.len() {
            return None;
        }
        let mut ratios: Vec<f64> = mine.iter().zip(pipe).map(|(a, b)| ratio(*a, *b)).collect();
        ratios.sort_by(f64::total_cmp);
        let n = ratios.len();
        Some(match n % 2 {
            1 => ratios[n / 2],
            _ => (ratios[n / 2 - 1] + ratios[n / 2]) / 2.0,
        })
    }

    fn setup(&self, m: &Mech) -> Option<f64> {
        self.rows.iter().find(|r| r.key == m.key)?.setup_us
    }
}

/// A piece of an expected line: text that must be there as it is, or a number printed with
/// `decimals` decimals that must be the rounding of some value in `lo..=hi`.
#[derive(Debug)]
enum Piece {
    Text(String),
    Near { lo: f64, hi: f64, decimals: usize },
}

#[derive(Debug, Default)]
struct Line(Vec<Piece>);

impl Line {
    fn text(mut self, s: impl Into<String>) -> Line {
        self.0.push(Piece::Text(s.into()));
        self
    }

    fn near(mut self, (lo, hi): (f64, f64), decimals: usize) -> Line {
        self.0.push(Piece::Near { lo, hi, decimals });
        self
    }

    /// `Ok` when `actual` is this line; else what differs.
    fn check(&self, actual: &str) -> Result<(), String> {
        let mut rest = actual;
        for piece in &self.0 {
            match piece {
                Piece::Text(t) => {
                    rest = rest
                        .strip_prefix(t.as_str())
                        .ok_or_else(|| format!("expected {t:?}\n   found {rest:?}"))?;
                }
                Piece::Near { lo, hi, decimals } => {
                    let end = rest
                        .find(|c: char| !c.is_ascii_digit() && c != '.')
                        .unwrap_or(rest.len());
                    let printed = rest[..end].trim_end_matches('.');
                    let shown = printed.split_once('.').map_or(0, |(_, f)| f.len());
                    let value: f64 = printed
                        .parse()
                        .map_err(|_| format!("expected a number at {rest:?}"))?;
                    let half = 0.5 * 10f64.powi(-(*decimals as i32)) + 1e-9;
                    if shown != *decimals || value + half < *lo || value - half > *hi {
                        return Err(format!(
                            "{printed} is not {lo}..={hi} to {decimals} decimals, at {rest:?}"
                        ));
                    }
                    rest = &rest[printed.len()..];
                }
            }
        }
        match rest.is_empty() {
            true => Ok(()),
            false => Err(format!("more than expected: {rest:?}")),
        }
    }
}

/// The values a number the JSON rounded to 3 significant digits may have had.
fn sig3_range(v: f64) -> (f64, f64) {
    if v == 0.0 {
        return (0.0, 0.0);
    }
    let half = 0.5 * 10f64.powi(v.abs().log10().floor() as i32 - 2);
    (v - half, v + half)
}

fn size_words(size: u64) -> String {
    match size {
        0 => "no payload".to_string(),
        s if s >= 1024 && s % 1024 == 0 => format!("{} KiB", s / 1024),
        s => format!("{s} B"),
    }
}

/// Microseconds from ns with about 3 significant digits, as compare prints them.
/// µs with 3 significant digits: the format is chosen by the value as it will be rounded
/// (9.997 is "10.0", not "10.00").
fn us(ns: u64) -> String {
    let decimals = |u: f64| match u {
        u if u < 10.0 => 2,
        u if u < 100.0 => 1,
        _ => 0,
    };
    let us = ns as f64 / 1000.0;
    let rounded: f64 = format!("{us:.*}", decimals(us)).parse().unwrap();
    format!("{us:.*}", decimals(rounded))
}

fn ordinal(n: usize) -> String {
    let suffix = match (n % 10, n % 100) {
        (_, 11..=13) => "th",
        (1, _) => "st",
        (2, _) => "nd",
        (3, _) => "rd",
        _ => "th",
    };
    format!("{n}{suffix}")
}

/// "2.0x", or "2.0x to 3.8x" when the two differ as printed.
fn ratio_words(low: f64, high: f64) -> String {
    match (format!("{low:.1}"), format!("{high:.1}")) {
        (a, b) if a == b => format!("{a}x"),
        (a, b) => format!("{a}x to {b}x"),
    }
}

fn ratio(a: u64, b: u64) -> f64 {
    a as f64 / b.max(1) as f64
}

/// A ratio as compare prints an x pipe: rounded to 3 significant digits (half away from
/// zero), trailing zeros kept.
fn times(x: f64) -> String {
    let decimals = |x: f64| 2 - x.log10().floor() as i32;
    let scale = 10f64.powi(decimals(x));
    let rounded = (x * scale).round() / scale;
    format!("{rounded:.*}", decimals(rounded).max(0) as usize)
}

/// Sorted by value, ties in the report's order (a stable sort, as compare's).
fn by_value<T>(mut all: Vec<(f64, T)>) -> Vec<(f64, T)> {
    all.sort_by(|a, b| a.0.total_cmp(&b.0));
    all
}

/// The cost of a wakeup across cores: split over same-core p50 of every row that blocks.
fn wakeup(run: &Run) -> Option<Line> {
    let size = run.reference();
    let mut ratios = Vec::new();
    for m in run.mechs.iter().filter(|m| !m.spins()) {
        let at = |s| Some((run.p50(m, "same", s)?, run.p50(m, "split", s)?));
        let Some((same, split)) = at(size).or_else(|| at(0)) else {
            continue;
        };
        ratios.push((ratio(split, same), m.label.as_str()));
    }
    let ratios = by_value(ratios);
    let (low, high) = (ratios.first()?, ratios.last()?);
    let which = match ratios.len() {
        1 => format!("for {}", low.1),
        n => format!(
            "in the {n} rows that block ({} least, {} most)",
            low.1, high.1
        ),
    };
    Some(Line::default().text(format!(
        "The kernel handles blocking and wakeup, and where the woken process runs sets the \
         price: a {} round trip between two cores took {} the same-core one {which}.",
        size_words(size),
        ratio_words(low.0, high.0)
    )))
}

/// Where the spinning row ranks among all rows at the reference size, in each placement;
/// nothing when a placement's ranking has no row outside shared memory to rank against.
fn spinning(run: &Run) -> Option<Line> {
    let size = run.reference();
    let spin = run.mechs.iter().find(|m| m.spins())?;
    let ranked = |place: &str| {
        let measured = run
            .mechs
            .iter()
            .filter_map(|m| Some((run.p50(m, place, size)?, m)));
        let all: Vec<(u64, &Mech)> = measured.collect();
        if all.iter().all(|(_, m)| m.data.contains("shared")) {
            return None;
        }
        let mut all: Vec<(u64, &str)> = all.iter().map(|(p, m)| (*p, m.label.as_str())).collect();
        all.sort_unstable();
        Some(all)
    };
    let (split, same) = (ranked("split")?, ranked("same")?);
    let rank = |all: &[(u64, &str)]| all.iter().position(|(_, l)| *l == spin.label);
    let (split_at, same_at) = (rank(&split)?, rank(&same)?);
    let where_split = match split_at {
        0 => format!(
            "fastest on two cores ({} µs; next, {}: {} µs)",
            us(split[0].0),
            split.get(1)?.1,
            us(split.get(1)?.0)
        ),
        n => format!("{} fastest of {} on two cores", ordinal(n + 1), split.len()),
    };
    let where_same = match same_at + 1 == same.len() {
        true => format!(
            "slowest on one core ({} µs, {:.0}x {})",
            us(same[same_at].0),
            ratio(same[same_at].0, same[0].0),
            same[0].1
        ),
        false => format!(
            "{} fastest of {} on one core",
            ordinal(same_at + 1),
            same.len()
        ),
    };
    Some(Line::default().text(format!(
        "Spinning on shared memory is the fastest IPC only while each process has a core to \
         spin on: of the rows that carry {} messages, {} was the {where_split}, and the \
         {where_same}, where the spinner waits for the scheduler to run its peer.",
        size_words(size),
        spin.label
    )))
}

/// The CPU the spinner burns on one core against the first row that blocks.
fn spin_cpu(run: &Run) -> Option<Line> {
    let size = run.reference();
    let spin = run.mechs.iter().find(|m| m.spins())?;
    let blocking = run.mechs.iter().find(|m| !m.spins() && m.key != spin.key)?;
    let cpu = |m: &Mech| run.row(&m.key, "same", size)?.cpu_us;
    let (spin_us, block_us) = (cpu(spin)?, cpu(blocking)?);
    Some(
        Line::default()
            .text(format!(
                "Coordination is the user's to pay for with shared memory: on one core {} \
                 burned ",
                spin.label
            ))
            .near(sig3_range(spin_us), 1)
            .text(" µs of CPU per message against ")
            .near(sig3_range(block_us), 1)
            .text(format!(
                " µs for {}, which sleeps in the kernel until woken.",
                blocking.label
            )),
    )
}

/// Growth of the copying rows' round trip from the smallest to the largest size (same core),
/// and the zero-copy row against the pipe at the largest size, on two cores and on one: the
/// two headlines, and their ratio as the x pipe (the median of the rounds' ratios).
fn copying(run: &Run) -> Option<Line> {
    let smallest = run.rows.iter().map(|r| r.size).filter(|s| *s > 0).min()?;
    let largest = run.rows.iter().map(|r| r.size).max()?;
    if largest <= smallest {
        return None;
    }
    let growth = |m: &Mech| {
        Some(ratio(
            run.p50(m, "same", largest)?,
            run.p50(m, "same", smallest)?,
        ))
    };
    let copies = run
        .mechs
        .iter()
        .filter(|m| m.data.contains("copy") && !m.zero_copy());
    let grew = by_value(
        copies
            .filter_map(|m| Some((growth(m)?, m.label.as_str())))
            .collect(),
    );
    let (low, high) = (grew.first()?, grew.last()?);
    let which = match grew.len() {
        1 => low.1.to_string(),
        n => {
            let names: Vec<&str> = grew.iter().map(|(_, l)| *l).collect();
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
    // The zero-copy row against the pipe: the headlines' times, and the x pipe as the ratio.
    let pipe = run.mechs.iter().find(|m| m.key == "pipe");
    for m in run.mechs.iter().filter(|m| m.zero_copy()) {
        for place in ["split", "same"] {
            let at = |m: &Mech| run.p50(m, place, largest);
            let (Some(zc), Some(p), Some(x)) =
                (at(m), pipe.and_then(at), run.x_pipe(m, place, largest))
            else {
                continue;
            };
            line += &match place {
                "split" => format!(
                    " {}, which copies nothing, took {} µs at {} on two cores against the \
                     pipe's {} µs: {}x the pipe, round by round.",
                    m.label,
                    us(zc),
                    size_words(largest),
                    us(p),
                    times(x)
                ),
                _ => format!(
                    " On one core it took {} µs against the pipe's {} µs: {}x.",
                    us(zc),
                    us(p),
                    times(x)
                ),
            };
        }
    }
    Some(Line::default().text(line))
}

/// Every row's setup, ranked by the value the JSON keeps (ties in the report's order), each
/// printed to 0.1 µs, and the pipe's rank.
fn setup(run: &Run) -> Option<Line> {
    let mut ranked: Vec<(f64, &Mech)> = run
        .mechs
        .iter()
        .filter_map(|m| Some((run.setup(m)?, m)))
        .collect();
    if ranked.len() < 2 {
        return None;
    }
    ranked.sort_by(|a, b| a.0.total_cmp(&b.0));
    let mut line = Line::default().text(
        "Setting up a channel, every row ranked (create, connect, one message, close, in one \
         process; the named form where there are names): ",
    );
    for (i, (us, m)) in ranked.iter().enumerate() {
        let lead = if i == 0 { "" } else { ", " };
        line = line
            .text(format!("{lead}{} ", m.label))
            .near(sig3_range(*us), 1)
            .text(" µs");
    }
    if let Some(at) = ranked.iter().position(|(_, m)| m.key == "pipe") {
        line = line.text(format!(
            "; the pipe ranked {} of {}",
            ordinal(at + 1),
            ranked.len()
        ));
    }
    Some(line.text(
        ". The progress log times the other forms too (socketpair, IPC_PRIVATE, an anonymous \
         mapping).",
    ))
}

/// The UDS stream against TCP over loopback, in each placement: TCP's p50 over the UDS
/// stream's, said as how much longer TCP took.
fn sockets(run: &Run) -> Option<Line> {
    let uds = run.mechs.iter().find(|m| m.key == "uds-stream")?;
    let tcp = run.mechs.iter().find(|m| m.key == "tcp")?;
    let size = run.reference();
    let each: Vec<String> = ["same", "split"]
        .iter()
        .filter_map(|place| {
            let (u, t) = (run.p50(uds, place, size)?, run.p50(tcp, place, size)?);
            let words = if *place == "same" {
                "same core"
            } else {
                "different cores"
            };
            Some(format!(
                "{} µs against {} µs, {words} ({} took {:.1}x as long)",
                us(u),
                us(t),
                tcp.label,
                ratio(t, u)
            ))
        })
        .collect();
    if each.is_empty() {
        return None;
    }
    Some(Line::default().text(format!(
        "A Unix socket skips the network stack: a {} round trip over {} against {} took {}.",
        size_words(size),
        uds.label,
        tcp.label,
        each.join("; ")
    )))
}

/// A signal's round trip against a pipe's on one core, in time and CPU, and the signal's x pipe
/// when it has one (the pipe's message at most 64 B).
fn signal_cost(run: &Run) -> Option<Line> {
    let bell = run.mechs.iter().find(|m| m.doorbell)?;
    let pipe = run.mechs.iter().find(|m| m.key == "pipe")?;
    let size = run.reference();
    let (s, p) = (run.p50(bell, "same", 0)?, run.p50(pipe, "same", size)?);
    let cpu = |m: &Mech, size| run.row(&m.key, "same", size)?.cpu_us;
    let (s_cpu, p_cpu) = (cpu(bell, 0)?, cpu(pipe, size)?);
    Some(
        Line::default()
            .text(format!(
                "A signal carries no bytes, but a ring is not free: on one core a {} round trip \
                 took {} µs and ",
                bell.label,
                us(s)
            ))
            .near(sig3_range(s_cpu), 2)
            .text(format!(" µs of CPU per message, against {} µs and ", us(p)))
            .near(sig3_range(p_cpu), 2)
            .text(format!(
                " µs for a {} {} round trip{}.",
                size_words(size),
                pipe.label,
                match run.x_pipe(bell, "same", 0) {
                    Some(x) => format!(": {}x the pipe, round by round", times(x)),
                    None => String::new(),
                }
            )),
    )
}

/// Every lesson this run's rows support, in the report's order.
fn expected(run: &Run) -> Vec<Line> {
    [
        wakeup(run),
        spinning(run),
        spin_cpu(run),
        copying(run),
        setup(run),
        sockets(run),
        signal_cost(run),
    ]
    .into_iter()
    .flatten()
    .collect()
}

/// Runs compare with `args` and `--format json`, and checks that its lessons are exactly the
/// lines its rows support, each with the rows' numbers. Returns the lessons.
fn lessons_match_rows(args: &[&str]) -> Vec<String> {
    let mut all = args.to_vec();
    all.extend(["--format", "json"]);
    let out = compare(&all);
    assert!(out.status.success(), "{args:?}: {}", stderr(&out));
    let json: Value = serde_json::from_slice(&out.stdout).unwrap();
    // The crates' line is left to tests/peers.rs, and only where there are peer rows.
    let peers = json_rows(&out).iter().any(|r| !r["wraps"].is_null());
    let lessons: Vec<String> = json["lessons"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l.as_str().unwrap().to_string())
        .filter(|l| !(peers && l.starts_with(CRATES_LESSON)))
        .collect();
    let run = Run::from(&json_rows(&out));
    let expected = expected(&run);
    let mut problems = Vec::new();
    for (i, line) in expected.iter().enumerate() {
        match lessons.get(i) {
            Some(actual) => {
                if let Err(why) = line.check(actual) {
                    problems.push(format!("line {}: {why}", i + 1));
                }
            }
            None => problems.push(format!("line {} missing: {line:?}", i + 1)),
        }
    }
    if lessons.len() > expected.len() {
        problems.push(format!(
            "lines the rows do not support: {:#?}",
            &lessons[expected.len()..]
        ));
    }
    assert!(
        problems.is_empty(),
        "{args:?}:\n{}\nlessons: {lessons:#?}",
        problems.join("\n")
    );
    lessons
}

fn usable_cpus() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// Starts with what a lesson says (its first words).
fn says(lessons: &[String], start: &str) -> bool {
    lessons.iter().any(|l| l.starts_with(start))
}

#[test]
fn every_lesson_is_recomputed_from_the_same_run_s_rows() {
    // Every row, both placements, 64 B and a larger size: every lesson has its numbers.
    let lessons = lessons_match_rows(&["--quick", "--sizes", "64,16384"]);
    if usable_cpus() >= 2 {
        assert_eq!(lessons.len(), 7, "{lessons:#?}");
        assert!(lessons[3].contains("which copies nothing"), "{lessons:#?}");
        assert!(lessons[3].contains("On one core it took"), "{lessons:#?}");
        // The setup line ranks every row present, System V and UDP included.
        for label in ["SysV mq", "UDP loopback", "signal", "pipe"] {
            assert!(
                lessons[4].contains(&format!("{label} ")),
                "{label}: {lessons:#?}"
            );
        }
    } else {
        eprintln!("one usable CPU: the lessons that compare placements were checked absent");
    }
}

#[test]
fn the_branches_a_real_machine_rarely_takes_are_recomputed_too() {
    // The spinner against one blocking row: the wakeup "for pipe", the spinner most likely
    // fastest across cores, one row that copies and no zero-copy row, no named channel.
    let lessons = lessons_match_rows(&["--quick", "--only", "pipe,shm-spin", "--sizes", "64,1024"]);
    assert!(
        says(&lessons, "Setting up"),
        "two rows are ranked: {lessons:#?}"
    );
    // With the zero-copy row, the spinner is seldom first across cores; the zero-copy row is
    // set against the pipe.
    lessons_match_rows(&[
        "--quick",
        "--only",
        "pipe,shm-zero-copy,shm-spin",
        "--sizes",
        "64,4096",
    ]);
    // One core only: nothing that needs two placements; the CPU pair, growth without a pipe,
    // and a setup line without the pipe's rank.
    let lessons = lessons_match_rows(&[
        "--quick",
        "--only",
        "fifo,shm-spin,uds-stream,shm-zero-copy",
        "--placement",
        "same",
        "--sizes",
        "64,4096",
    ]);
    assert!(!says(&lessons, "The kernel handles"), "{lessons:#?}");
    assert!(!says(&lessons, "Spinning on"), "{lessons:#?}");
    assert!(says(&lessons, "Coordination is"), "{lessons:#?}");
    // Two cores only, one size, a doorbell first: only the setup line (the signal line needs
    // one core, the sockets line a UDS stream).
    let lessons = lessons_match_rows(&[
        "--quick",
        "--only",
        "signal,tcp,pipe,shm-spin",
        "--placement",
        "split",
    ]);
    assert_eq!(lessons.len(), 1, "{lessons:#?}");
    // Shared memory alone: no rank of the spinner, which would only be among shm rows.
    let lessons = lessons_match_rows(&["--quick", "--only", "shm"]);
    assert!(!says(&lessons, "Spinning on"), "{lessons:#?}");
}
