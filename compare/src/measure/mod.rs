//! The run: every chosen mechanism, in every placement and at every size, measured in rounds
//! through the harness. A round measures every cell once, round-robin across mechanisms,
//! sizes and placements, so a slow stretch of the machine touches every cell alike; each cell's
//! headline is then the second best of its rounds (`row::RoundTrips`). Gives the rows of the
//! report, and the failures the run ends with. Progress goes to stderr (`progress.rs`).

pub mod bytes;
pub mod doorbell;
pub mod harness;
pub mod machine;
pub mod mechanisms;
pub mod pattern;
pub mod progress;
pub mod setups;
pub mod watchdog;
pub mod zero_copy;

use plumbing::program::say;
use plumbing::stop::{self, Interrupted};

use crate::measure::mechanisms::{Entry, Transport};
use crate::measure::progress::Progress;
use crate::row::{
    Latency, Machine, Placement, Plan, Rates, RoundTrips, Row, STREAM_CHUNK, Skip, Throughput,
    placement_words, short_placement, size_words, us,
};

/// One cell of the run: a mechanism in a placement, its round trips at one size (0: a
/// doorbell), or its throughput.
#[derive(Clone, Copy)]
struct Cell {
    mechanism: usize,
    placement: usize,
    kind: Kind,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    RoundTrip(usize),
    /// one-way throughput of `STREAM_CHUNK` messages (the table's)
    Throughput,
    /// one-way throughput of messages of this size (`--plot-throughput`)
    Stream(usize),
}

/// What a cell has gathered so far: its rounds, or why it has none.
type Gathered<T> = Result<Vec<T>, Skip>;

/// Measures every mechanism: its setup once, then `rounds` rounds over every cell (with
/// `streams`, throughput at every size too). A cell that does not apply, or fails, is not
/// measured again. Stops with `Interrupted` when a stop signal arrived, and ends the run (as a
/// closed stdout does) when nobody reads stdout any more.
pub fn all(
    mechanisms: &[Entry],
    sizes: &[usize],
    placements: &[Placement],
    streams: bool,
    plan: &Plan,
    rounds: usize,
    machine: &Machine,
) -> Result<Vec<Row>, Interrupted> {
    progress::stop_if_nobody_reads();
    let setups: Vec<Result<f64, Skip>> = mechanisms.iter().map(|m| setup(m, plan)).collect();
    // A measurement that makes no progress for this long has a hung child: it is killed.
    let watchdog = plan.cap.map_or(0, |cap| (2 * cap.as_secs() + 10) as u32);
    let cells = cells(mechanisms, sizes, placements, streams);
    let mut latencies: Vec<Gathered<Latency>> = vec![Ok(Vec::new()); cells.len()];
    let mut rates: Vec<Gathered<Throughput>> = vec![Ok(Vec::new()); cells.len()];
    let mut progress = Progress::new(count(mechanisms, sizes, placements, streams) * rounds);
    for round in 1..=rounds {
        for (i, cell) in cells.iter().enumerate() {
            let (m, p) = (&mechanisms[cell.mechanism], placements[cell.placement]);
            if !p.possible {
                latencies[i] = Err(cannot_split(machine));
                rates[i] = Err(cannot_split(machine));
                continue;
            }
            let label = label(m, p, cell.kind);
            match cell.kind {
                Kind::RoundTrip(size) if latencies[i].is_ok() => {
                    progress.start(&label, round, rounds);
                    let result = latency(m, p, size, plan, watchdog, &label);
                    progress.done(&label, &latency_words(&result));
                    gather(&mut latencies[i], result);
                }
                Kind::Throughput | Kind::Stream(_) if rates[i].is_ok() => {
                    progress.start(&label, round, rounds);
                    let result = throughput(m, p, cell.kind, plan, watchdog, &label);
                    progress.done(&label, &throughput_words(&result));
                    gather(&mut rates[i], result);
                }
                _ => progress.skip(),
            }
            stop::check()?;
            progress::stop_if_nobody_reads();
        }
    }
    progress.finish();
    Ok(rows(
        mechanisms, placements, &cells, latencies, rates, &setups,
    ))
}

/// Every cell, in the order a round measures them: mechanism by mechanism, and within one,
/// size by size with the placements alternating, so neither placement gets a stretch of the
/// run to itself.
fn cells(
    mechanisms: &[Entry],
    sizes: &[usize],
    placements: &[Placement],
    streams: bool,
) -> Vec<Cell> {
    let mut cells = Vec::new();
    for (mechanism, m) in mechanisms.iter().enumerate() {
        let mut kinds = vec![Kind::Throughput];
        match m.transport {
            Transport::Bytes { .. } | Transport::InPlace(_) => {
                kinds.extend(sizes.iter().map(|s| Kind::RoundTrip(*s)));
                if streams {
                    kinds.extend(sizes.iter().map(|s| Kind::Stream(*s)));
                }
            }
            Transport::Doorbell(_) => kinds = vec![Kind::RoundTrip(0)],
        }
        for kind in kinds {
            for placement in 0..placements.len() {
                cells.push(Cell {
                    mechanism,
                    placement,
                    kind,
                });
            }
        }
    }
    cells
}

fn gather<T>(gathered: &mut Gathered<T>, result: Result<T, Skip>) {
    match (gathered.as_mut(), result) {
        (Ok(rounds), Ok(value)) => rounds.push(value),
        (Ok(_), Err(e)) => *gathered = Err(e),
        (Err(_), _) => {}
    }
}

/// The rows of the report: one per mechanism, placement and size.
fn rows(
    mechanisms: &[Entry],
    placements: &[Placement],
    cells: &[Cell],
    latencies: Vec<Gathered<Latency>>,
    rates: Vec<Gathered<Throughput>>,
    setups: &[Result<f64, Skip>],
) -> Vec<Row> {
    let throughput_of = |mechanism: usize, placement: usize, kind: Kind| -> Result<Rates, Skip> {
        let found = cells
            .iter()
            .position(|c| c.mechanism == mechanism && c.placement == placement && c.kind == kind);
        match found.map(|i| rates[i].clone()) {
            Some(Ok(rounds)) => Ok(Rates { rounds }),
            Some(Err(e)) => Err(e),
            None => Err(Skip::NotApplicable(
                "a signal carries no bytes, so there is no throughput".to_string(),
            )),
        }
    };
    let mut rows = Vec::new();
    for (cell, gathered) in cells.iter().zip(latencies) {
        let Kind::RoundTrip(size) = cell.kind else {
            continue;
        };
        rows.push(Row {
            mechanism: mechanisms[cell.mechanism].mechanism,
            placement: placements[cell.placement],
            size,
            latency: gathered.map(|rounds| RoundTrips { rounds }),
            throughput: throughput_of(cell.mechanism, cell.placement, Kind::Throughput),
            stream: cells
                .iter()
                .any(|c| c.kind == Kind::Stream(size))
                .then(|| throughput_of(cell.mechanism, cell.placement, Kind::Stream(size))),
            setup_us: setups[cell.mechanism].clone(),
        });
    }
    rows.sort_by_key(|r| {
        let m = mechanisms
            .iter()
            .position(|e| e.mechanism.key == r.mechanism.key);
        let p = placements.iter().position(|p| p.name == r.placement.name);
        (m, p, r.size)
    });
    rows
}

/// How many forked measurements one round makes: per placement that can be honoured, one
/// round-trip measurement per size and one throughput measurement (with `streams`, one per
/// size more) per byte mechanism, one round-trip measurement per doorbell.
pub fn count(
    mechanisms: &[Entry],
    sizes: &[usize],
    placements: &[Placement],
    streams: bool,
) -> usize {
    let per_byte_mechanism = 1 + sizes.len() * if streams { 2 } else { 1 };
    let per_placement: usize = mechanisms
        .iter()
        .map(|m| match m.transport {
            Transport::Bytes { .. } | Transport::InPlace(_) => per_byte_mechanism,
            Transport::Doorbell(_) => 1,
        })
        .sum();
    per_placement * placements.iter().filter(|p| p.possible).count()
}

/// Every measurement that failed (not the ones that do not apply), each said once:
/// "pipe, 64 B, same core: message 5 came back changed: ...".
pub fn failures(rows: &[Row]) -> Vec<String> {
    let mut failures: Vec<String> = Vec::new();
    for r in rows {
        let place = placement_words(r.placement.name);
        let found = [
            (
                format!("{}, {}, {place}", r.mechanism.label, size_words(r.size)),
                r.latency.as_ref().err(),
            ),
            (
                format!("{} throughput, {place}", r.mechanism.label),
                r.throughput.as_ref().err(),
            ),
            (
                format!("{} setup", r.mechanism.label),
                r.setup_us.as_ref().err(),
            ),
        ];
        for (what, skip) in found {
            if let Some(Skip::Failed(why)) = skip {
                let line = format!("{what}: {why}");
                if !failures.contains(&line) {
                    failures.push(line);
                }
            }
        }
    }
    failures
}

fn cannot_split(machine: &Machine) -> Skip {
    let only = match machine.allowed.first() {
        Some(cpu) => format!("only CPU {cpu} is"),
        None => "no CPU could be listed that is".to_string(),
    };
    Skip::NotApplicable(format!(
        "{only} usable by this process (sched_getaffinity), so the two processes cannot run \
         on different cores"
    ))
}

/// "pipe, 64 B, same core" or "pipe throughput, diff. cores": which measurement.
fn label(m: &Entry, p: Placement, kind: Kind) -> String {
    let place = short_placement(p.name);
    match kind {
        Kind::RoundTrip(size) => format!("{}, {}, {place}", m.mechanism.label, size_words(size)),
        Kind::Throughput => format!("{} throughput, {place}", m.mechanism.label),
        Kind::Stream(size) => format!(
            "{} stream, {}, {place}",
            m.mechanism.label,
            size_words(size)
        ),
    }
}

fn skipped(e: &Skip) -> String {
    match e {
        Skip::NotApplicable(why) => format!("n/a: {why}"),
        Skip::Failed(why) => format!("FAILED: {why}"),
        Skip::Stopped => "stopped".to_string(),
    }
}

fn latency_words(result: &Result<Latency, Skip>) -> String {
    match result {
        Ok(l) => format!(
            "p50 {} µs, p99 {} µs",
            us(l.summary.p50 as f64),
            us(l.summary.p99 as f64)
        ),
        Err(e) => skipped(e),
    }
}

fn throughput_words(result: &Result<Throughput, Skip>) -> String {
    match result {
        Ok(t) => format!("{:.0} MiB/s, {} msgs", t.mib_s, size_words(t.chunk)),
        Err(e) => skipped(e),
    }
}

fn latency(
    m: &Entry,
    p: Placement,
    size: usize,
    plan: &Plan,
    watchdog: u32,
    label: &str,
) -> Result<Latency, Skip> {
    match m.transport {
        Transport::Bytes { duplex, .. } => bytes::latency(label, duplex, size, p, plan, watchdog),
        Transport::InPlace(pair) => zero_copy::latency(label, pair, size, p, plan, watchdog),
        Transport::Doorbell(bell) => doorbell::latency(label, bell, p, plan, watchdog),
    }
}

/// One-way throughput: of the table's `STREAM_CHUNK` messages (or the mechanism's largest),
/// or for `Kind::Stream(size)` of messages of that size (n/a when the mechanism cannot carry it).
fn throughput(
    m: &Entry,
    p: Placement,
    kind: Kind,
    plan: &Plan,
    watchdog: u32,
    label: &str,
) -> Result<Throughput, Skip> {
    let chunk = |largest: Option<fn() -> std::io::Result<usize>>| match (kind, largest.map(|f| f()))
    {
        (Kind::Stream(size), _) => Ok(size),
        (_, None) => Ok(STREAM_CHUNK),
        (_, Some(Ok(max))) => Ok(STREAM_CHUNK.min(max)),
        (_, Some(Err(e))) => Err(Skip::Failed(format!(
            "reading the largest message size: {e}"
        ))),
    };
    match m.transport {
        Transport::Bytes { duplex, largest } => chunk(largest)
            .and_then(|chunk| bytes::throughput(label, duplex, chunk, p, plan, watchdog)),
        Transport::InPlace(pair) => chunk(None)
            .and_then(|chunk| zero_copy::throughput(label, pair, chunk, p, plan, watchdog)),
        Transport::Doorbell(_) => Err(Skip::NotApplicable(
            "a signal carries no bytes, so there is no throughput".to_string(),
        )),
    }
}

/// Setup cost of `m`, in every way its channel can be made (`setups::of`), one line each on
/// stderr; the first (the named form where there are names) is the row's number.
fn setup(m: &Entry, plan: &Plan) -> Result<f64, Skip> {
    let mut first = None;
    for entry in setups::of(m.mechanism.key) {
        let result = setups::measure(entry, plan.setup_reps);
        say(&format!(
            "{} setup, {}: {}",
            m.mechanism.label,
            entry.label,
            match &result {
                Ok(us) => format!("{us:.1} µs"),
                Err(e) => skipped(e),
            }
        ));
        first.get_or_insert(result.map_err(|e| match e {
            Skip::Failed(why) => Skip::Failed(format!("{}: {why}", entry.label)),
            other => other,
        }));
    }
    first.unwrap_or_else(|| {
        Err(Skip::NotApplicable(format!(
            "no setup entries for {} (compare/src/setups.rs)",
            m.mechanism.key
        )))
    })
}
