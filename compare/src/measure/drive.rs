//! One measurement of one cell: the mechanism table's transport picks the kind (`bytes.rs`,
//! `zero_copy.rs`, `doorbell.rs`), the kind makes its two sides for the message size, and the
//! harness runs and times them. Also the setup of a mechanism (`setups.rs`), and the words a
//! measurement's result gets in the progress log.

use plumbing::program::say;

use crate::measure::mechanisms::{Entry, Transport};
use crate::measure::{bytes, doorbell, harness, setups, zero_copy};
use crate::row::{Latency, Placement, Plan, STREAM_CHUNK, Skip, Throughput, size_words, us};

/// What one measurement of a cell measures.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// round trips of messages of this size (0: a doorbell, which carries none)
    RoundTrip(usize),
    /// one-way throughput of `STREAM_CHUNK` messages (the table's)
    Throughput,
    /// one-way throughput of messages of this size (`--plot-throughput`)
    Stream(usize),
}

pub fn skipped(e: &Skip) -> String {
    match e {
        Skip::NotApplicable(why) => format!("n/a: {why}"),
        Skip::Failed(why) => format!("FAILED: {why}"),
        Skip::Stopped => "stopped".to_string(),
    }
}

pub fn latency_words(result: &Result<Latency, Skip>) -> String {
    match result {
        Ok(l) => format!(
            "p50 {} µs, p99 {} µs",
            us(l.summary.p50 as f64),
            us(l.summary.p99 as f64)
        ),
        Err(e) => skipped(e),
    }
}

pub fn throughput_words(result: &Result<Throughput, Skip>) -> String {
    match result {
        Ok(t) => format!("{:.0} MiB/s, {} msgs", t.mib_s, size_words(t.chunk)),
        Err(e) => skipped(e),
    }
}

/// Round trips of `m` at `size`, one round.
pub fn latency(
    m: &Entry,
    p: Placement,
    size: usize,
    plan: &Plan,
    watchdog: u32,
    label: &str,
) -> Result<Latency, Skip> {
    let corrupt_after = plan.corrupt_after;
    match m.transport {
        Transport::Bytes { duplex, .. } => bytes::round_trips(duplex, size, corrupt_after)
            .and_then(|sides| harness::latency(label, p, plan, watchdog, sides)),
        Transport::InPlace(pair) => zero_copy::round_trips(pair, size, corrupt_after)
            .and_then(|sides| harness::latency(label, p, plan, watchdog, sides)),
        Transport::Doorbell(bell) => doorbell::round_trips(bell)
            .and_then(|sides| harness::latency(label, p, plan, watchdog, sides)),
    }
}

/// One-way throughput: of the table's `STREAM_CHUNK` messages (or the mechanism's largest),
/// or for `Kind::Stream(size)` of messages of that size (n/a when the mechanism cannot carry it).
pub fn throughput(
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
        Transport::Bytes {
            no_stream: Some(why),
            ..
        } => Err(Skip::NotApplicable(why.to_string())),
        Transport::Bytes {
            duplex, largest, ..
        } => chunk(largest).and_then(|chunk| {
            bytes::stream(duplex, chunk)
                .and_then(|sides| harness::throughput(label, p, plan, watchdog, chunk, sides))
        }),
        Transport::InPlace(pair) => chunk(None).and_then(|chunk| {
            zero_copy::stream(pair, chunk)
                .and_then(|sides| harness::throughput(label, p, plan, watchdog, chunk, sides))
        }),
        Transport::Doorbell(_) => Err(Skip::NotApplicable(
            "a signal carries no bytes, so there is no throughput".to_string(),
        )),
    }
}

/// Setup cost of `m`, in every way its channel can be made (`setups::of`), one line each on
/// stderr; the first (the named form where there are names) is the row's number.
pub fn setup(m: &Entry, plan: &Plan) -> Result<f64, Skip> {
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
            "no setup entries for {} (compare/src/measure/setups.rs)",
            m.mechanism.key
        )))
    })
}
