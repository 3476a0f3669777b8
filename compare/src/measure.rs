//! The run: every chosen mechanism, in every placement and at every size, measured one after
//! the other through the harness, with one progress line on stderr per measurement. Gives the
//! rows of the report, and the failures the run ends with.

use plumbing::program::say;
use plumbing::stop::{self, Interrupted};

use crate::harness::{Latency, Placement, Plan, Skip, Throughput};
use crate::machine::Machine;
use crate::mechanisms::{Mechanism, Transport};
use crate::report::{self, Row, size_words};
use crate::{bytes, doorbell, setups, zero_copy};

/// Throughput message size: 64 KiB, or a mechanism's largest message if that is smaller.
pub const STREAM_CHUNK: usize = 64 << 10;

/// Measures every mechanism in every placement: its setup once, its throughput once per
/// placement, its round trips per placement and size (a doorbell: once, it has no size).
/// Stops with `Interrupted` after the placement during which a stop signal arrived.
pub fn all(
    mechanisms: &[Mechanism],
    sizes: &[usize],
    placements: &[Placement],
    plan: &Plan,
    machine: &Machine,
) -> Result<Vec<Row>, Interrupted> {
    // A measurement that makes no progress for this long has a hung child: it is killed.
    let watchdog = plan.cap.map_or(0, |cap| (2 * cap.as_secs() + 10) as u32);
    let mut progress = Progress::new(mechanisms, sizes, placements);
    let mut rows: Vec<Row> = Vec::new();
    for m in mechanisms {
        let setup_us = setup(m, plan);
        for p in placements {
            let throughput = match p.possible {
                true => throughput(m, *p, plan, watchdog, &mut progress),
                false => Err(cannot_split(machine)),
            };
            let row_sizes = match m.transport {
                Transport::Bytes { .. } | Transport::InPlace(_) => sizes.to_vec(),
                Transport::Doorbell(_) => vec![0],
            };
            for size in row_sizes {
                let latency = match p.possible {
                    true => latency(m, *p, size, plan, watchdog, &mut progress),
                    false => Err(cannot_split(machine)),
                };
                rows.push(Row {
                    mechanism: *m,
                    placement: *p,
                    size,
                    latency,
                    throughput: throughput.clone(),
                    setup_us: setup_us.clone(),
                });
            }
            stop::check()?;
        }
    }
    Ok(rows)
}

/// How many forked measurements the run makes: per placement that can be honoured, one
/// round-trip measurement per size and one throughput measurement per byte mechanism, one
/// round-trip measurement per doorbell.
pub fn count(mechanisms: &[Mechanism], sizes: &[usize], placements: &[Placement]) -> usize {
    let per_placement: usize = mechanisms
        .iter()
        .map(|m| match m.transport {
            Transport::Bytes { .. } | Transport::InPlace(_) => sizes.len() + 1,
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
        let place = report::placement_words(r.placement.name);
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

/// Numbers the progress lines: `[i/n]`.
struct Progress {
    done: usize,
    total: usize,
}

impl Progress {
    fn new(mechanisms: &[Mechanism], sizes: &[usize], placements: &[Placement]) -> Progress {
        Progress {
            done: 0,
            total: count(mechanisms, sizes, placements),
        }
    }

    fn line(&mut self, what: &str) {
        self.done += 1;
        say(&format!("[{:>3}/{}] {what}", self.done, self.total));
    }
}

fn where_(p: Placement) -> String {
    format!(
        "{} (CPUs {}/{})",
        report::placement_words(p.name),
        p.parent_cpu,
        p.child_cpu
    )
}

fn skipped(e: &Skip) -> String {
    match e {
        Skip::NotApplicable(why) => format!("n/a: {why}"),
        Skip::Failed(why) => format!("FAILED: {why}"),
        Skip::Stopped => "stopped".to_string(),
    }
}

fn latency(
    m: &Mechanism,
    p: Placement,
    size: usize,
    plan: &Plan,
    watchdog: u32,
    progress: &mut Progress,
) -> Result<Latency, Skip> {
    let label = format!("{}, {}, {}", m.label, size_words(size), where_(p));
    let result = match m.transport {
        Transport::Bytes { duplex, .. } => bytes::latency(&label, duplex, size, p, plan, watchdog),
        Transport::InPlace(pair) => zero_copy::latency(&label, pair, size, p, plan, watchdog),
        Transport::Doorbell(bell) => doorbell::latency(&label, bell, p, plan, watchdog),
    };
    progress.line(&match &result {
        Ok(l) => format!(
            "{label}: p50 {} µs, p99 {} µs{}, {} samples, {:.2} µs CPU/msg",
            report::us(l.summary.p50 as f64),
            report::us(l.summary.p99 as f64),
            l.batch_ns
                .map_or(String::new(), |b| format!(", batch {} µs", report::us(b))),
            l.summary.count,
            l.cpu_us_per_msg
        ),
        Err(e) => format!("{label}: {}", skipped(e)),
    });
    result
}

fn throughput(
    m: &Mechanism,
    p: Placement,
    plan: &Plan,
    watchdog: u32,
    progress: &mut Progress,
) -> Result<Throughput, Skip> {
    let label = format!("{} throughput, {}", m.label, where_(p));
    let result = match m.transport {
        Transport::Bytes { duplex, largest } => chunk(largest)
            .and_then(|chunk| bytes::throughput(&label, duplex, chunk, p, plan, watchdog)),
        Transport::InPlace(pair) => {
            zero_copy::throughput(&label, pair, STREAM_CHUNK, p, plan, watchdog)
        }
        Transport::Doorbell(_) => {
            return Err(Skip::NotApplicable(
                "a signal carries no bytes, so there is no throughput".to_string(),
            ));
        }
    };
    progress.line(&match &result {
        Ok(t) => format!(
            "{label}: {:.0} MiB/s ({} messages, {:.1} MiB)",
            t.mib_s,
            size_words(t.chunk),
            t.bytes as f64 / (1 << 20) as f64
        ),
        Err(e) => format!("{label}: {}", skipped(e)),
    });
    result
}

/// Throughput message size: STREAM_CHUNK, or the mechanism's largest message if smaller.
fn chunk(largest: Option<fn() -> std::io::Result<usize>>) -> Result<usize, Skip> {
    match largest.map(|f| f()) {
        None => Ok(STREAM_CHUNK),
        Some(Ok(max)) => Ok(STREAM_CHUNK.min(max)),
        Some(Err(e)) => Err(Skip::Failed(format!(
            "reading the largest message size: {e}"
        ))),
    }
}

/// Setup cost of `m`, in every way its channel can be made (`setups::of`), one line each on
/// stderr; the first (the named form where there are names) is the row's number.
fn setup(m: &Mechanism, plan: &Plan) -> Result<f64, Skip> {
    let mut first = None;
    for entry in setups::of(m.key) {
        let result = setups::measure(entry, plan.setup_reps);
        say(&format!(
            "{} setup, {}: {}",
            m.label,
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
            m.key
        )))
    })
}
