//! Step 8: what one signal costs: a round trip of the library's doorbell (`signal_demo::ring`
//! / `wait_doorbell`, the same calls `compare` times), on one core and across two. The child
//! is `roles::doorbell`.

use std::time::Instant;

use nix::sched::sched_getcpu;
use plumbing::child::Child;
use plumbing::{Result, cpu, stats, stop};
use signal_demo::{block_doorbell, ring};

use super::{micros, nanos, placements};
use crate::roles::doorbell::{self, WARM_UP, wait_reply};

pub fn run(step: u32, rounds: u32) -> Result {
    println!("\nStep {step}: delivery cost — ring (kill) -> child's sigtimedwait -> ring back");
    block_doorbell().map_err(|e| format!("block doorbell: {e}"))?;
    println!(
        "  {rounds} timed round trips each, after {WARM_UP} warm-up ones; doorbell = SIGRTMIN"
    );
    for (name, cpus) in placements()? {
        // On our own CPU until `_pinned` is dropped, whichever way this iteration ends.
        let _pinned = cpu::pin_for_now(cpus[0])?;
        let mut child = doorbell::start_pinned(cpus[1], rounds)?;
        let mut samples = Vec::with_capacity(rounds as usize);
        for _ in 0..rounds {
            // A stop signal that lands between two waits is seen here, not after every round.
            stop::check()?;
            samples.push(round_trip(&mut child)?);
        }
        let parent_cpu = sched_getcpu().map_err(|e| format!("sched_getcpu: {e}"))?;
        let child_cpu = doorbell::finish(child)?;
        let summary = stats::summarize(&mut samples).ok_or("no round trip was timed")?;
        let placement = format!("{name} (CPU {parent_cpu} -> {child_cpu}):");
        println!(
            "  {placement:<31}p50 {}  p99 {}  max {}",
            micros(summary.p50),
            micros(summary.p99),
            micros(summary.max)
        );
    }
    Ok(())
}

/// One ring to the child and its ring back, timed with the monotonic clock, in nanoseconds.
fn round_trip(child: &mut Child) -> Result<u64> {
    let start = Instant::now();
    ring(child.pid()).map_err(|e| format!("kill({}, doorbell): {e}", child.pid()))?;
    wait_reply(child)?;
    Ok(nanos(start.elapsed()))
}
