//! The facts of the run that every format reports: what the numbers were measured on, where
//! the two processes ran, and how much each round did. `measure/` probes the machine and plans
//! the rounds; `report/` says them after the tables, in JSON and CSV, and under the charts.

use std::time::Duration;

/// Where the two processes run.
#[derive(Clone, Copy, Debug)]
pub struct Placement {
    /// "same" or "split", as on the command line
    pub name: &'static str,
    pub parent_cpu: usize,
    pub child_cpu: usize,
    /// false when the machine cannot honour it (one usable CPU for "split")
    pub possible: bool,
}

/// Even when a round's time cap runs out, p99 needs at least this many samples...
pub const MIN_SAMPLES: usize = 100;
/// ...unless the round has run this long: a time-capped round stays well inside the
/// watchdog's 10 s (100 round trips of 16 MiB through a serializing peer crate take 17 s). The
/// p99 is pooled over every round, and says over how many round trips.
pub const LONGEST_ROUND: Duration = Duration::from_secs(4);

/// How much to measure.
#[derive(Clone, Debug)]
pub struct Plan {
    /// timed round trips per round of a latency cell
    pub iters: usize,
    /// untimed round trips before them, in every round
    pub warmup: usize,
    /// stop a round early after this long (reported as fewer samples); None = no cap
    pub cap: Option<Duration>,
    /// bytes timed one way in a round of a throughput cell, after its untimed warm-up (fewer
    /// if `cap` runs out first)
    pub stream_bytes: u64,
    /// repetitions of the setup measurement
    pub setup_reps: usize,
    /// test only: the echo child flips a byte of its reply to message N
    pub corrupt_after: Option<u64>,
}

/// What the numbers were measured on: kernel, CPU, the CPUs we may use, and the clock.
pub struct Machine {
    /// e.g. "Linux 6.18.44 x86_64"
    pub kernel: String,
    /// /proc/cpuinfo "model name"
    pub cpu_model: String,
    /// CPUs online in the machine
    pub cpus_online: usize,
    /// CPUs this process may run on (sched_getaffinity), in order
    pub allowed: Vec<usize>,
    /// /sys/.../current_clocksource, e.g. "tsc" or "kvm-clock"
    pub clocksource: String,
    /// what one Instant::now() costs here, in nanoseconds (median of 11 runs of 1000 reads)
    pub clock_read_ns: f64,
}

/// The facts of this run that every format reports.
pub struct Run<'a> {
    pub machine: &'a Machine,
    pub plan: &'a Plan,
    pub rounds: usize,
    pub placements: &'a [Placement],
    pub stream_chunk: usize,
    /// the command-line options, as given
    pub options: String,
}
