//! Steps 7-8: what one signal costs, and who pays for it. Both use the library's doorbell
//! (`signal_demo::ring` / `wait_doorbell`), the same calls `compare` times.

use std::time::{Duration, Instant};

use nix::sched::{CpuSet, sched_getaffinity, sched_getcpu, sched_setaffinity};
use nix::sys::wait::WaitPidFlag;
use nix::time::{ClockId, clock_getcpuclockid, clock_gettime};
use nix::unistd::{Pid, getppid};
use signal_demo::{block_doorbell, ring, wait_doorbell};

use crate::child::{Child, REPLY_TIMEOUT, describe, say};
use crate::{Res, check_stop};

/// Round trips run and thrown away before timing (caches, page faults, CPU frequency).
const WARM_UP: u32 = 100;

/// Child side: ring the parent back after every ring, `rounds` times; then say on which CPU.
pub fn answer(parent: Pid, rounds: u64) -> Res {
    block_doorbell().map_err(|e| format!("block doorbell: {e}"))?;
    say("ready")?;
    for _ in 0..rounds {
        while !wait_doorbell(Duration::from_secs(1)).map_err(|e| format!("sigtimedwait: {e}"))? {
            // PR_SET_PDEATHSIG already kills us if the parent dies; this is the belt to it.
            if getppid() != parent {
                return Err("parent gone".into());
            }
        }
        ring(parent).map_err(|e| format!("kill({parent}, doorbell): {e}"))?;
    }
    say(&format!(
        "cpu {}",
        sched_getcpu().map_err(|e| format!("sched_getcpu: {e}"))?
    ))
}

/// Waits for the child's ring back; an error if the child dies or is silent for 2 s.
fn wait_reply(child: &mut Child) -> Res {
    let end = Instant::now() + REPLY_TIMEOUT;
    while !wait_doorbell(Duration::from_millis(100)).map_err(|e| format!("sigtimedwait: {e}"))? {
        check_stop()?;
        if let Some(status) = child.try_wait(WaitPidFlag::empty())? {
            return Err(format!("doorbell child {}", describe(status)).into());
        }
        if Instant::now() > end {
            return Err(format!("child {} did not ring back within 2 s", child.pid()).into());
        }
    }
    Ok(())
}

/// One ring to the child and its ring back, timed with the monotonic clock.
fn round_trip(child: &mut Child) -> Res<Duration> {
    let start = Instant::now();
    ring(child.pid()).map_err(|e| format!("kill({}, doorbell): {e}", child.pid()))?;
    wait_reply(child)?;
    Ok(start.elapsed())
}

/// The CPUs this process may run on.
fn allowed_cpus() -> Res<Vec<usize>> {
    let set = sched_getaffinity(Pid::from_raw(0)).map_err(|e| format!("sched_getaffinity: {e}"))?;
    Ok((0..CpuSet::count())
        .filter(|&cpu| set.is_set(cpu).unwrap_or(false))
        .collect())
}

/// Pins a process (0 = us) to one CPU.
fn pin(pid: Pid, cpu: usize) -> Res {
    let mut set = CpuSet::new();
    set.set(cpu)
        .map_err(|e| format!("CpuSet::set({cpu}): {e}"))?;
    sched_setaffinity(pid, &set)
        .map_err(|e| format!("sched_setaffinity({pid}, CPU {cpu}): {e}"))?;
    Ok(())
}

/// Our CPU affinity as it was; restored on drop, so an error cannot leave us pinned.
struct Unpin(CpuSet);

impl Unpin {
    fn save() -> Res<Unpin> {
        Ok(Unpin(
            sched_getaffinity(Pid::from_raw(0)).map_err(|e| format!("sched_getaffinity: {e}"))?,
        ))
    }
}

impl Drop for Unpin {
    fn drop(&mut self) {
        let _ = sched_setaffinity(Pid::from_raw(0), &self.0);
    }
}

/// Starts a doorbell child for `rounds` (+ warm-up) round trips, parent on `cpus.0`, child on
/// `cpus.1`, and runs the warm-up.
fn start_pair(cpus: (usize, usize), rounds: u32) -> Res<Child> {
    pin(Pid::from_raw(0), cpus.0)?;
    let total = (WARM_UP + rounds).to_string();
    let mut child = Child::spawn_ready("doorbell", &["--rounds", &total])?;
    pin(child.pid(), cpus.1)?;
    for _ in 0..WARM_UP {
        round_trip(&mut child)?;
    }
    Ok(child)
}

/// Reads the child's "cpu N" line and reaps it.
fn finish_pair(mut child: Child) -> Res<String> {
    let line = child.expect_line()?;
    child.wait_for(WaitPidFlag::empty())?;
    Ok(line.trim_start_matches("cpu ").to_string())
}

fn micros(d: Duration) -> String {
    format!("{:.1} µs", d.as_secs_f64() * 1e6)
}

fn percentile(sorted: &[Duration], p: usize) -> Duration {
    sorted[(sorted.len() - 1) * p / 100]
}

/// Where to run parent and child: the same core, and two different cores when we may use two.
fn placements() -> Res<Vec<(&'static str, (usize, usize))>> {
    let cpus = allowed_cpus()?;
    let first = *cpus.first().ok_or("sched_getaffinity: no CPU allowed")?;
    let mut placements = vec![("same core", (first, first))];
    match cpus.get(1) {
        Some(&second) => placements.push(("different cores", (first, second))),
        None => println!("  only CPU {first} is available: the different-cores case is skipped"),
    }
    Ok(placements)
}

pub fn run_round_trips(step: u32, rounds: u32) -> Res {
    println!("\nStep {step}: delivery cost — ring (kill) -> child's sigtimedwait -> ring back");
    block_doorbell().map_err(|e| format!("block doorbell: {e}"))?;
    let _unpin = Unpin::save()?;
    println!(
        "  {rounds} timed round trips each, after {WARM_UP} warm-up ones; doorbell = SIGRTMIN"
    );
    for (name, cpus) in placements()? {
        let mut child = start_pair(cpus, rounds)?;
        let mut samples = Vec::with_capacity(rounds as usize);
        for _ in 0..rounds {
            samples.push(round_trip(&mut child)?);
        }
        let parent_cpu = sched_getcpu().map_err(|e| format!("sched_getcpu: {e}"))?;
        let child_cpu = finish_pair(child)?;
        samples.sort();
        println!(
            "  {name:<16}(parent CPU {parent_cpu}, child CPU {child_cpu}): p50 {}  p99 {}  max {}",
            micros(percentile(&samples, 50)),
            micros(percentile(&samples, 99)),
            micros(percentile(&samples, 100))
        );
    }
    Ok(())
}

/// Nanoseconds on a clock.
fn read_ns(clock: ClockId) -> Res<i64> {
    let now = clock_gettime(clock).map_err(|e| format!("clock_gettime({clock}): {e}"))?;
    Ok(now.tv_sec() * 1_000_000_000 + now.tv_nsec())
}

fn median(mut values: Vec<i64>) -> Duration {
    values.sort();
    let middle = values.get(values.len() / 2).copied().unwrap_or(0);
    Duration::from_nanos(u64::try_from(middle).unwrap_or(0))
}

pub fn run_who_pays(step: u32, rounds: u32) -> Res {
    println!("\nStep {step}: who pays — CPU time of sender and receiver around kill()");
    block_doorbell().map_err(|e| format!("block doorbell: {e}"))?;
    let _unpin = Unpin::save()?;
    println!(
        "  medians of {rounds} round trips; sender: its thread CPU clock across its kill() call;"
    );
    println!("  receiver: its process CPU clock from before the ring until its ring back arrived");
    let own_clock = ClockId::CLOCK_THREAD_CPUTIME_ID;
    let mut empty = Vec::new();
    for (name, cpus) in placements()? {
        let mut child = start_pair(cpus, rounds)?;
        let receiver_clock =
            clock_getcpuclockid(child.pid()).map_err(|e| format!("clock_getcpuclockid: {e}"))?;
        let (mut sender, mut receiver) = (Vec::new(), Vec::new());
        for _ in 0..rounds {
            let receiver_before = read_ns(receiver_clock)?;
            let sender_before = read_ns(own_clock)?;
            ring(child.pid()).map_err(|e| format!("kill({}, doorbell): {e}", child.pid()))?;
            let sender_after = read_ns(own_clock)?;
            wait_reply(&mut child)?;
            let receiver_after = read_ns(receiver_clock)?;
            let (empty_before, empty_after) = (read_ns(own_clock)?, read_ns(own_clock)?);
            sender.push(sender_after - sender_before);
            receiver.push(receiver_after - receiver_before);
            empty.push(empty_after - empty_before);
        }
        let child_cpu = finish_pair(child)?;
        println!(
            "  {name:<16}(sender CPU {}, receiver CPU {child_cpu}): sender {} in kill(), receiver {} per ring",
            cpus.0,
            micros(median(sender)),
            micros(median(receiver))
        );
    }
    println!(
        "  (an empty bracket, two clock reads and no kill, measures {})",
        micros(median(empty))
    );
    println!(
        "  The sender's own time slice paid for its kill(): the trap, queueing the signal and"
    );
    println!(
        "  waking the receiver (on another core: an inter-processor interrupt; on a VM, a trap to"
    );
    println!(
        "  the hypervisor). The receiver paid for waking, taking the signal and ringing back."
    );
    println!(
        "  Not visible from user space: how each figure splits inside the kernel, and interrupt"
    );
    println!("  work, which is charged to whichever task happened to be running.");
    Ok(())
}
