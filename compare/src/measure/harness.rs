//! The harness: times what a kind's sides do (`sides.rs`), in a session (`session.rs`: fork,
//! pin, reap). No transport code lives here: a mechanism is a pair of `Read + Write` ends from
//! its demo crate (`bytes.rs`), slots lent in shared memory (`zero_copy.rs`) or, for signals, a
//! doorbell (`doorbell.rs`); each makes its two sides, and [`latency`] and [`throughput`] run
//! them the same way: round trips timed one by one after a warm-up, or a one-way stream timed
//! from an acknowledged warm-up to the acknowledged end.

use std::time::{Duration, Instant};

use nix::sys::resource::UsageWho;
use plumbing::stats::{self, Summary};
use plumbing::stop;

use crate::measure::session::{cpu_time, session};
use crate::measure::sides::{Child, OneWay, Ping, warmup_messages};
use crate::row::{LONGEST_ROUND, Latency, MIN_SAMPLES, Placement, Plan, Skip, Throughput};

/// One round of round trips between `ping` (the parent's side) and `child`, in one forked
/// session: `plan.warmup` discarded, then each round trip timed, then the end message; the CPU
/// of both processes is counted per message, the end message included.
pub fn latency(
    label: &str,
    placement: Placement,
    plan: &Plan,
    watchdog: u32,
    (ping, child): (impl Ping, impl Child),
) -> Result<Latency, Skip> {
    let (timed, child_cpu) = session(label, placement, watchdog, ping, child, |child, ping| {
        ping.open(child)?;
        let timed = time_round_trips(plan, |seq| ping.round_trip(child, seq))?;
        ping.end(child, timed.round_trips)?;
        Ok(timed)
    })?;
    let messages = 2 * timed.round_trips + 1; // and the end message
    Ok(timed.latency(child_cpu, messages))
}

/// One-way throughput of `chunk`-byte messages from `sender` (the parent's side) to `child`:
/// the clock runs from the acknowledged last warm-up message (nothing in flight, the child
/// running) to the acknowledged end message.
pub fn throughput(
    label: &str,
    placement: Placement,
    plan: &Plan,
    watchdog: u32,
    chunk: usize,
    (sender, child): (impl OneWay, impl Child),
) -> Result<Throughput, Skip> {
    let ((sent, elapsed), _) = session(label, placement, watchdog, sender, child, |_, sender| {
        sender.open()?;
        let (sent, started) = stream(plan, chunk, sender)?;
        sender.end()?;
        Ok((sent, started.elapsed()))
    })?;
    Ok(Throughput::new(sent, elapsed, chunk))
}

/// The parent's side of a one-way stream of `chunk`-byte messages: first
/// `warmup_messages(chunk)` messages untimed, then a `drain`, then `plan.stream_bytes` (at
/// least 16 messages) on the clock, or fewer if `plan.cap` runs out. Returns the timed bytes
/// and the moment the clock started; the caller ends the stream and stops the clock when the
/// receiver has taken the rest.
fn stream(plan: &Plan, chunk: usize, sender: &mut impl OneWay) -> Result<(u64, Instant), Skip> {
    let warm = warmup_messages(chunk);
    for seq in 0..warm {
        sender.send(seq)?;
    }
    sender.drain(warm - 1)?;
    let started = Instant::now();
    let timed = (plan.stream_bytes / chunk as u64).max(16);
    let mut seq = warm;
    while seq < warm + timed {
        sender.send(seq)?;
        seq += 1;
        if seq.is_multiple_of(16) {
            if stop::requested().is_some() {
                return Err(Skip::Stopped);
            }
            if plan.cap.is_some_and(|cap| started.elapsed() >= cap) {
                break;
            }
        }
    }
    Ok(((seq - warm) * chunk as u64, started))
}

/// Per-sample and batched round trips are only taken when a round trip is this fast.
const BATCH_BELOW_NS: u64 = 2_000;
const BATCH_LEN: usize = 100;

/// Everything timed on the parent side of a latency measurement.
pub struct Timed {
    pub summary: Summary,
    /// every timed round trip, in ns, sorted
    pub samples: Vec<u64>,
    pub batch_ns: Option<f64>,
    pub round_trips: u64,
    pub parent_cpu: Duration,
}

impl Timed {
    /// A measurement's result: what the parent timed, and the CPU both processes used for
    /// `messages` messages.
    pub fn latency(self, child_cpu: Duration, messages: u64) -> Latency {
        let cpu = (self.parent_cpu + child_cpu).as_secs_f64();
        Latency {
            summary: self.summary,
            samples: self.samples,
            batch_ns: self.batch_ns,
            cpu_us_per_msg: cpu * 1e6 / messages.max(1) as f64,
        }
    }
}

/// Runs warm-up, per-sample and (for fast rows) batched round trips. `round_trip(seq)` does one.
fn time_round_trips(
    plan: &Plan,
    mut round_trip: impl FnMut(u64) -> Result<(), Skip>,
) -> Result<Timed, Skip> {
    let cpu_before = cpu_time(UsageWho::RUSAGE_SELF);
    let started = Instant::now();
    let over = |now: Instant| plan.cap.is_some_and(|cap| now - started >= cap);
    let too_long = |now: Instant| plan.cap.is_some() && now - started >= LONGEST_ROUND;
    let stopped = || match stop::requested() {
        Some(_) => Err(Skip::Stopped),
        None => Ok(()),
    };
    let mut seq = 0u64;
    while (seq as usize) < plan.warmup && !over(Instant::now()) {
        round_trip(seq)?;
        seq += 1;
    }
    let mut samples = Vec::with_capacity(plan.iters);
    let mut t0 = Instant::now();
    while samples.len() < plan.iters
        && !(samples.len() >= MIN_SAMPLES && over(t0))
        && (samples.is_empty() || !too_long(t0))
    {
        stopped()?;
        round_trip(seq)?;
        seq += 1;
        let t1 = Instant::now();
        samples.push((t1 - t0).as_nanos() as u64);
        t0 = t1;
    }
    let summary = stats::summarize(&mut samples)
        .ok_or_else(|| Skip::Failed("no samples were taken".to_string()))?;
    let mut batch_ns = None;
    if summary.p50 < BATCH_BELOW_NS {
        let mut batches = Vec::new();
        for _ in 0..(samples.len() / BATCH_LEN).max(10) {
            stopped()?;
            let t0 = Instant::now();
            for _ in 0..BATCH_LEN {
                round_trip(seq)?;
                seq += 1;
            }
            batches.push(t0.elapsed().as_nanos() as u64 / BATCH_LEN as u64);
        }
        batch_ns = stats::summarize(&mut batches).map(|s| s.p50 as f64);
    }
    Ok(Timed {
        summary,
        samples,
        batch_ns,
        round_trips: seq,
        parent_cpu: cpu_time(UsageWho::RUSAGE_SELF).saturating_sub(cpu_before),
    })
}
