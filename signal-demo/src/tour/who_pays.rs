//! Step 9: who pays for a signal: the CPU time of sender and receiver around one ring of the
//! library's doorbell, the lecture's "Who Actually Delivers the Signal?". The child is
//! `roles::doorbell`.

use std::time::Duration;

use nix::time::{ClockId, clock_getcpuclockid, clock_gettime};
use plumbing::child::Child;
use plumbing::{Result, cpu, stats, stop};
use signal_demo::{block_doorbell, ring};

use super::{micros, nanos, placements};
use crate::roles::doorbell::{self, wait_reply};

pub fn run(step: u32, rounds: u32) -> Result {
    println!("\nStep {step}: who pays — CPU time of sender and receiver around kill()");
    block_doorbell().map_err(|e| format!("block doorbell: {e}"))?;
    println!("  medians of {rounds} round trips. sender: its thread's CPU clock across its");
    println!("  kill(); receiver: its CPU clock from before the ring to its ring back");
    let mut empty = Vec::new();
    for (name, cpus) in placements()? {
        let _pinned = cpu::pin_for_now(cpus[0])?;
        let mut child = doorbell::start_pinned(cpus[1], rounds)?;
        let (sender, receiver) = measure_who_pays(&mut child, rounds, &mut empty)?;
        let child_cpu = doorbell::finish(child)?;
        let placement = format!("{name} (CPU {} -> {child_cpu}):", cpus[0]);
        println!(
            "  {placement:<31}sender {}  receiver {}",
            micros(sender),
            micros(receiver)
        );
    }
    println!(
        "  (an empty bracket, two clock reads and no kill, measures {})",
        micros(median(empty))
    );
    println!("  The sender's own time slice paid for its kill(): the trap, queueing the");
    println!("  signal and waking the receiver (on another core: an inter-processor");
    println!("  interrupt; on a VM, a trap to the hypervisor). The receiver paid for");
    println!("  waking, taking the signal and ringing back. Not visible from user space:");
    println!("  how each figure splits inside the kernel, and interrupt work, which is");
    println!("  charged to whichever task happened to be running.");
    Ok(())
}

/// `rounds` round trips with CPU clocks read around them: the medians of the sender's time in
/// kill() and of the receiver's time per ring, in nanoseconds. Pushes to `empty` the time of
/// two clock reads with nothing between them, once a round.
fn measure_who_pays(child: &mut Child, rounds: u32, empty: &mut Vec<u64>) -> Result<(u64, u64)> {
    let own_clock = ClockId::CLOCK_THREAD_CPUTIME_ID;
    let receiver_clock =
        clock_getcpuclockid(child.pid()).map_err(|e| format!("clock_getcpuclockid: {e}"))?;
    let (mut sender, mut receiver) = (Vec::new(), Vec::new());
    for _ in 0..rounds {
        stop::check()?;
        let receiver_before = read_ns(receiver_clock)?;
        let sender_before = read_ns(own_clock)?;
        ring(child.pid()).map_err(|e| format!("kill({}, doorbell): {e}", child.pid()))?;
        let sender_after = read_ns(own_clock)?;
        wait_reply(child)?;
        let receiver_after = read_ns(receiver_clock)?;
        let (empty_before, empty_after) = (read_ns(own_clock)?, read_ns(own_clock)?);
        sender.push(sender_after.saturating_sub(sender_before));
        receiver.push(receiver_after.saturating_sub(receiver_before));
        empty.push(empty_after.saturating_sub(empty_before));
    }
    Ok((median(sender), median(receiver)))
}

/// Nanoseconds on a clock.
fn read_ns(clock: ClockId) -> Result<u64> {
    let now = clock_gettime(clock).map_err(|e| format!("clock_gettime({clock}): {e}"))?;
    Ok(nanos(Duration::from(now)))
}

/// The median of `samples` (nearest rank), 0 for none.
fn median(mut samples: Vec<u64>) -> u64 {
    stats::summarize(&mut samples).map_or(0, |summary| summary.p50)
}
