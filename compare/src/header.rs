//! The header: what was measured, on what, and how; printed before the tables (on stderr for
//! JSON and CSV, which must stay machine-readable).

use crate::harness::{Placement, Plan};
use crate::machine::Machine;
use crate::report::{size_words, width, wrap};

/// What was measured, on what, and how: printed before the tables.
pub fn render(
    machine: &Machine,
    plan: &Plan,
    placements: &[Placement],
    stream_chunk: usize,
    markdown: bool,
) -> String {
    let mut lines = machine_lines(machine);
    lines.extend(method_lines(plan, placements, stream_chunk));
    let mut out =
        String::from("ipc-tour compare: every mechanism measured the same way, in this run\n\n");
    for (key, value) in lines {
        out += &match markdown {
            true => format!("- **{key}**: {value}\n"),
            false => wrap(&format!("  {key:<13}"), &value, 15, width()),
        };
    }
    out + "\n"
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
fn method_lines(
    plan: &Plan,
    placements: &[Placement],
    stream_chunk: usize,
) -> Vec<(&'static str, String)> {
    vec![
        ("round trips", round_trips(plan)),
        (
            "placement",
            format!(
                "{}; both pinned with sched_setaffinity after fork",
                placement(placements)
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
                "duplex(64) (create + connect), one 64 B message written on one end and read on \
                 the other, drop both ends; in one process, no fork; median of {}",
                plan.setup_reps
            ),
        ),
        (
            "CPU / msg",
            "user + system time of both processes (getrusage; the child's after reaping, its \
             start-up included) / messages exchanged; a round trip is 2 messages"
                .to_string(),
        ),
        (
            "coordination",
            "how each row waits (kernel, spin, futex, signal): its column in the table".to_string(),
        ),
    ]
}

fn round_trips(plan: &Plan) -> String {
    let cap = match plan.cap {
        Some(cap) => format!(
            ", each measurement stopped after {} ms if not done (rows give their sample count in JSON/CSV)",
            cap.as_millis()
        ),
        None => String::new(),
    };
    format!(
        "{} timed per measurement after {} discarded warm-up{cap}; rows under 2 µs also \
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
        "one way, {} messages (or the mechanism's largest, if smaller), up to {} MiB{}; \
         the child checks every message and acknowledges the last",
        size_words(stream_chunk),
        plan.stream_bytes >> 20,
        plan.cap
            .map_or(String::new(), |c| format!(" or {} ms", c.as_millis()))
    )
}
