//! The run: every chosen mechanism, in every placement and at every size, measured in rounds
//! through the harness. A round measures every cell once, round-robin across mechanisms,
//! sizes and placements, so a slow stretch of the machine touches every cell alike; each cell's
//! headline is then the second best of its rounds (`row::RoundTrips`). Gives the rows of the
//! report, and the failures the run ends with. Progress goes to stderr (`progress.rs`); one
//! measurement of one cell is `drive.rs`.

use plumbing::stop::{self, Interrupted};

use crate::measure::drive::{self, Kind};
use crate::measure::mechanisms::{Entry, Transport};
use crate::measure::plan::count;
use crate::measure::probes;
use crate::measure::progress::{self, Progress};
use crate::row::{
    Latency, Machine, Placement, Plan, Probe, Rates, RoundTrips, Row, Skip, Throughput,
    placement_words, short_placement, size_words,
};

/// One cell of the run: a mechanism in a placement, its round trips at one size (0: a
/// doorbell), or its throughput.
#[derive(Clone, Copy)]
struct Cell {
    mechanism: usize,
    placement: usize,
    kind: Kind,
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
    let setups: Vec<Result<f64, Skip>> = mechanisms.iter().map(|m| drive::setup(m, plan)).collect();
    let probes: Vec<Vec<Probe>> = mechanisms.iter().map(probes::of).collect();
    // A measurement that makes no progress for this long has a hung child: it is killed.
    // Without a time cap (--iters), 0 asks instead for the watchdog that kills a child which
    // has not run for 10 s (watchdog.rs).
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
            match (cell.kind, &latencies[i], &rates[i]) {
                // An earlier round was n/a or failed: not measured again.
                (Kind::RoundTrip(_), Err(why), _)
                | (Kind::Throughput | Kind::Stream(_), _, Err(why)) => progress.skip(why),
                (Kind::RoundTrip(size), ..) => {
                    progress.start(&label, round, rounds);
                    let result = drive::latency(m, p, size, plan, watchdog, &label);
                    progress.done(&label, &drive::latency_words(&result));
                    gather(&mut latencies[i], result);
                }
                (Kind::Throughput | Kind::Stream(_), ..) => {
                    progress.start(&label, round, rounds);
                    let result = drive::throughput(m, p, cell.kind, plan, watchdog, &label);
                    progress.done(&label, &drive::throughput_words(&result));
                    gather(&mut rates[i], result);
                }
            }
            stop::check()?;
            progress::stop_if_nobody_reads();
        }
    }
    progress.finish();
    Ok(rows(
        mechanisms, placements, &cells, latencies, rates, &setups, &probes,
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
    probes: &[Vec<Probe>],
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
            probes: probes[cell.mechanism].clone(),
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
