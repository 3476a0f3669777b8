//! The run's setup: what was measured, on what, and how; printed after the tables, short (the
//! machine, placement, samples, what was verified) or in full with `--verbose`. JSON and CSV
//! carry the same facts (`records.rs`).

use crate::report::text::{width, wrap};
use crate::row::{
    LONGEST_ROUND, MIN_SAMPLES, Machine, Placement, Plan, Run, headline_words, size_words,
};

/// The run's setup, short or (`verbose`) in full.
pub fn render(run: &Run, markdown: bool, verbose: bool) -> String {
    let lines = match verbose {
        true => {
            let mut lines = machine_lines(run.machine);
            lines.extend(method_lines(run));
            lines
        }
        false => short_lines(run),
    };
    let mut out = match markdown {
        true => String::from("### This run\n\n"),
        false => String::from("This run\n"),
    };
    for (key, value) in lines {
        out += &match markdown {
            true => format!("- **{key}**: {value}\n"),
            false => wrap(&format!("  {key:<13}"), &value, 15, width()),
        };
    }
    if !verbose && !markdown {
        out += "  (--verbose: the clock, throughput, setup and CPU methods in full)\n";
    }
    out
}

/// The machine, the placement, the samples and what was verified, one line each.
fn short_lines(run: &Run) -> Vec<(&'static str, String)> {
    let m = run.machine;
    vec![
        (
            "machine",
            format!(
                "{}, {} ({} CPUs online)",
                m.kernel, m.cpu_model, m.cpus_online
            ),
        ),
        ("placement", placement(run.placements)),
        ("samples", samples(run)),
        (
            "verified",
            "every message's pattern, by both processes (signals: every ring answered)".to_string(),
        ),
    ]
}

fn samples(run: &Run) -> String {
    let plan = run.plan;
    let cap = match plan.cap {
        // With no more than the floor asked for, the cap cuts no round short (but at 4 s).
        Some(cap) if plan.iters > MIN_SAMPLES => format!(
            ", or fewer: a round stops at {} ms once it has {MIN_SAMPLES}",
            cap.as_millis()
        ),
        _ => String::new(),
    };
    format!(
        "{} rounds per cell, spread over the run; a round: {} warm-up, then {} round trips{cap}",
        run.rounds, plan.warmup, plan.iters
    )
}

/// The kernel, the CPU and the clock.
fn machine_lines(machine: &Machine) -> Vec<(&'static str, String)> {
    vec![
        ("kernel", machine.kernel.clone()),
        (
            "cpu",
            format!(
                "{}, {} online, usable by this process: {:?}",
                machine.cpu_model, machine.cpus_online, machine.allowed
            ),
        ),
        (
            "clock",
            format!(
                "CLOCK_MONOTONIC (std::time::Instant), clocksource {}, one read ≈ {:.0} ns \
                 (included in every sample)",
                machine.clocksource, machine.clock_read_ns
            ),
        ),
    ]
}

/// How each number was measured.
fn method_lines(run: &Run) -> Vec<(&'static str, String)> {
    let (plan, stream_chunk) = (run.plan, run.stream_chunk);
    vec![
        ("round trips", round_trips(plan)),
        ("rounds", rounds(run.rounds)),
        (
            "placement",
            format!(
                "{}; both pinned with sched_setaffinity after fork",
                placement(run.placements)
            ),
        ),
        (
            "payload",
            "every message carries a pattern that changes per message, checked on arrival by \
             the child and on the echo by the parent"
                .to_string(),
        ),
        ("throughput", throughput(plan, stream_chunk)),
        (
            "setup",
            format!(
                "each way the channel can be made (named, anonymous, memfd: the progress log \
                 lists them; the table shows the first), from nothing to a two-way channel that \
                 has carried one checked 64 B message, and back to nothing (ends dropped, names \
                 removed); in one process, no fork; median of {}",
                plan.setup_reps
            ),
        ),
        (
            "CPU / msg",
            "user + system time of both processes (getrusage; the child counts its own, from \
             its start to its return, so fork and exit are left out) / messages exchanged, \
             warm-up included; a round trip is 2 messages"
                .to_string(),
        ),
        (
            "coordination",
            "how each row waits (kernel, spin, futex, signal): its column in the table".to_string(),
        ),
    ]
}

fn rounds(rounds: usize) -> String {
    let which = headline_words(rounds);
    format!(
        "every cell measured in {rounds} rounds, round-robin across rows and placements, so a \
         slow stretch of the machine touches every row alike; a cell's p50 is the {which} of \
         its rounds' p50s (the machine's quieter moments), its p99 pooled over every sample of \
         every round, its range the lowest and highest round p50 (JSON, CSV)"
    )
}

fn round_trips(plan: &Plan) -> String {
    let cap = match plan.cap {
        Some(cap) => format!(
            ", fewer when a round stops early: at {} ms from its start (warm-up included) once it \
             has {MIN_SAMPLES} timed, at {} s whatever it has (rows give their \
             sample count in JSON/CSV)",
            cap.as_millis(),
            LONGEST_ROUND.as_secs()
        ),
        None => String::new(),
    };
    format!(
        "{} timed per round after {} discarded warm-up{cap}; rows under 2 µs also \
         timed in batches of 100 (\"batch\")",
        plan.iters, plan.warmup
    )
}

fn placement(placements: &[Placement]) -> String {
    placements
        .iter()
        .map(|p| match (p.name, p.possible) {
            ("same", _) => format!("same core = both processes on CPU {}", p.parent_cpu),
            (_, true) => format!(
                "different cores = parent on CPU {}, child on CPU {}",
                p.parent_cpu, p.child_cpu
            ),
            (_, false) => format!(
                "different cores = NOT POSSIBLE: only CPU {} is usable by this process",
                p.parent_cpu
            ),
        })
        .collect::<Vec<_>>()
        .join("; ")
}

fn throughput(plan: &Plan, stream_chunk: usize) -> String {
    format!(
        "one way, {} messages (or the mechanism's largest, if smaller): 1 MiB untimed (the \
         child's start, the first pass through the buffers), which the child acknowledges, then \
         up to {} MiB{} on the clock; the child checks every message and acknowledges the last",
        size_words(stream_chunk),
        plan.stream_bytes >> 20,
        plan.cap
            .map_or(String::new(), |c| format!(" or {} ms", c.as_millis()))
    )
}
