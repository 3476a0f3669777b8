//! Steps 8-9: what one signal costs, and who pays for it. Both use the library's doorbell
//! (`signal_demo::ring` / `wait_doorbell`), the same calls `compare` times.

use std::time::{Duration, Instant};

use nix::sched::sched_getcpu;
use nix::sys::wait::WaitPidFlag;
use nix::time::{ClockId, clock_getcpuclockid, clock_gettime};
use nix::unistd::{Pid, getppid};
use plumbing::child::{Child, describe};
use plumbing::{Result, cpu, stats, stop};
use signal_demo::{block_doorbell, ring, wait_doorbell};

use crate::role::{REPLY_TIMEOUT, start_ready};

/// Round trips run and thrown away before timing (caches, page faults, CPU frequency).
const WARM_UP: u32 = 100;

/// Child side (role `doorbell`): ring the parent back after every ring, `rounds` times; then say
/// on which CPU.
pub fn answer(parent: Pid, rounds: u64) -> Result {
    block_doorbell().map_err(|e| format!("block doorbell: {e}"))?;
    println!("ready");
    for _ in 0..rounds {
        while !wait_doorbell(Duration::from_secs(1)).map_err(|e| format!("sigtimedwait: {e}"))? {
            // PR_SET_PDEATHSIG already kills us if the parent dies; this is the belt to it.
            if getppid() != parent {
                return Err("parent gone".into());
            }
        }
        ring(parent).map_err(|e| format!("kill({parent}, doorbell): {e}"))?;
    }
    let cpu = sched_getcpu().map_err(|e| format!("sched_getcpu: {e}"))?;
    println!("cpu {cpu}");
    Ok(())
}

/// Waits for the child's ring back; an error if the child dies or is silent for 2 s.
fn wait_reply(child: &mut Child) -> Result {
    let end = Instant::now() + REPLY_TIMEOUT;
    while !wait_doorbell(Duration::from_millis(100)).map_err(|e| format!("sigtimedwait: {e}"))? {
        stop::check()?;
        if let Some(status) = child.try_wait(WaitPidFlag::empty())? {
            let pid = child.pid();
            return Err(format!("doorbell child {pid} {}", describe(status)).into());
        }
        if Instant::now() > end {
            return Err(format!("child {} did not ring back within 2 s", child.pid()).into());
        }
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

fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

/// Starts a doorbell child for `rounds` (+ warm-up) round trips, pins it to `cpu` (the parent
/// pins itself first: the child starts on the parent's CPUs), and runs the warm-up.
fn start_pair(cpu: usize, rounds: u32) -> Result<Child> {
    let total = (WARM_UP + rounds).to_string();
    let mut child = start_ready("doorbell", &["--rounds", &total])?;
    cpu::pin(child.pid(), cpu)?;
    for _ in 0..WARM_UP {
        round_trip(&mut child)?;
    }
    Ok(child)
}

/// Reads the child's "cpu N" line and reaps it.
fn finish_pair(mut child: Child) -> Result<String> {
    let line = child.expect_line(REPLY_TIMEOUT)?;
    child.wait(REPLY_TIMEOUT)?;
    Ok(line.trim_start_matches("cpu ").to_string())
}

fn micros(nanos: u64) -> String {
    format!("{:.1} µs", nanos as f64 / 1e3)
}

/// The median of `samples` (nearest rank), 0 for none.
fn median(mut samples: Vec<u64>) -> u64 {
    stats::summarize(&mut samples).map_or(0, |summary| summary.p50)
}

/// Where to run parent and child: the same core, and two different cores when we may use two.
/// (parent CPU, child CPU) for each.
fn placements() -> Result<Vec<(&'static str, [usize; 2])>> {
    let [first, second] = cpu::two_cpus()?;
    let mut placements = vec![("same core", [first, first])];
    if second == first {
        println!("  only CPU {first} is available: the different-cores case is skipped");
    } else {
        placements.push(("different cores", [first, second]));
    }
    Ok(placements)
}

pub fn run_round_trips(step: u32, rounds: u32) -> Result {
    println!("\nStep {step}: delivery cost — ring (kill) -> child's sigtimedwait -> ring back");
    block_doorbell().map_err(|e| format!("block doorbell: {e}"))?;
    println!(
        "  {rounds} timed round trips each, after {WARM_UP} warm-up ones; doorbell = SIGRTMIN"
    );
    for (name, cpus) in placements()? {
        // On our own CPU until `_pinned` is dropped, whichever way this iteration ends.
        let _pinned = cpu::pin_for_now(cpus[0])?;
        let mut child = start_pair(cpus[1], rounds)?;
        let mut samples = Vec::with_capacity(rounds as usize);
        for _ in 0..rounds {
            // A stop signal that lands between two waits is seen here, not after every round.
            stop::check()?;
            samples.push(round_trip(&mut child)?);
        }
        let parent_cpu = sched_getcpu().map_err(|e| format!("sched_getcpu: {e}"))?;
        let child_cpu = finish_pair(child)?;
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

/// Nanoseconds on a clock.
fn read_ns(clock: ClockId) -> Result<u64> {
    let now = clock_gettime(clock).map_err(|e| format!("clock_gettime({clock}): {e}"))?;
    Ok(nanos(Duration::from(now)))
}

pub fn run_who_pays(step: u32, rounds: u32) -> Result {
    println!("\nStep {step}: who pays — CPU time of sender and receiver around kill()");
    block_doorbell().map_err(|e| format!("block doorbell: {e}"))?;
    println!("  medians of {rounds} round trips. sender: its thread's CPU clock across its");
    println!("  kill(); receiver: its CPU clock from before the ring to its ring back");
    let mut empty = Vec::new();
    for (name, cpus) in placements()? {
        let _pinned = cpu::pin_for_now(cpus[0])?;
        let mut child = start_pair(cpus[1], rounds)?;
        let (sender, receiver) = measure_who_pays(&mut child, rounds, &mut empty)?;
        let child_cpu = finish_pair(child)?;
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
