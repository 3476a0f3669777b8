//! Step 9: who pays for a signal: the CPU time of sender and receiver around one ring of the
//! library's doorbell, the lecture's "Who Actually Delivers the Signal?". The child is
//! `roles::doorbell`.

use std::time::Duration;

use nix::time::{ClockId, clock_getcpuclockid, clock_gettime};
use plumbing::child::Child;
use plumbing::tour::heading;
use plumbing::verdict::{self, Verdict, judge};
use plumbing::{Result, cpu, stats, stop};
use signal_demo::{block_doorbell, ring};

use super::{micros, nanos, placements, tenths_of_micros};
use crate::roles::doorbell::{self, wait_reply};

pub fn run(step: u32, rounds: u32) -> Result {
    heading(
        step,
        "who pays — CPU time of sender and receiver around kill()",
    );
    block_doorbell().map_err(|e| format!("block doorbell: {e}"))?;
    println!("  medians of {rounds} round trips. sender: its thread's CPU clock across its");
    println!("  kill(); receiver: its CPU clock from before the ring to its ring back");
    let mut empty = Vec::new();
    let mut paid = Vec::new();
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
        paid.push(Paid {
            placement: name,
            sender,
            receiver,
        });
    }
    let empty = median(empty);
    println!(
        "  (an empty bracket, two clock reads and no kill, measures {})",
        micros(empty)
    );
    println!("  The sender's own time slice paid for its kill(): the trap, queueing the");
    println!("  signal and waking the receiver (on another core: an inter-processor");
    println!("  interrupt; on a VM, a trap to the hypervisor). The receiver paid for");
    println!("  waking, taking the signal and ringing back. Not visible from user space:");
    println!("  how each figure splits inside the kernel, and interrupt work, which is");
    println!("  charged to whichever task happened to be running.");
    let (v, because) = sender_claim(&paid, empty);
    verdict::record("kill() runs on the sender's own CPU time", v, because);
    let (v, because) = receiver_claim(&paid, empty);
    verdict::record("delivery runs in the receiver's own time", v, because);
    Ok(())
}

/// The medians of one placement, nanoseconds of CPU: the sender's across its kill(), the
/// receiver's per ring (its own ring back included).
pub struct Paid {
    pub placement: &'static str,
    pub sender: u64,
    pub receiver: u64,
}

/// The lecture: the sender's kill() does the kernel's work on the sender's time slice. Holds
/// when, in every placement, the sender's CPU clock moved more across kill() than across an
/// empty bracket (`empty`), as printed (tenths of a µs).
pub fn sender_claim(paid: &[Paid], empty: u64) -> (Verdict, String) {
    let bracket = tenths_of_micros(empty);
    let holds = paid.iter().all(|p| tenths_of_micros(p.sender) > bracket);
    let each: Vec<String> = paid
        .iter()
        .map(|p| format!("{} {}", p.placement, micros(p.sender)))
        .collect();
    let because = format!(
        "sender's CPU per kill(): {}; empty bracket {}",
        each.join(", "),
        micros(empty)
    );
    (judge(holds, false), because)
}

/// The lecture: the target takes the signal later, in its own time on the CPU. Holds when, in
/// every placement, the receiver's CPU per ring exceeds what its own ring back costs the
/// sender's side plus the empty bracket: it paid for taking the signal itself.
pub fn receiver_claim(paid: &[Paid], empty: u64) -> (Verdict, String) {
    let bracket = tenths_of_micros(empty);
    let holds = paid
        .iter()
        .all(|p| tenths_of_micros(p.receiver) > tenths_of_micros(p.sender) + bracket);
    let each: Vec<String> = paid
        .iter()
        .map(|p| {
            format!(
                "{} {} (sender {})",
                p.placement,
                micros(p.receiver),
                micros(p.sender)
            )
        })
        .collect();
    let because = format!("receiver's CPU per ring: {}", each.join(", "));
    (judge(holds, false), because)
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

#[cfg(test)]
mod tests {
    use super::*;

    const PAID: [Paid; 2] = [
        Paid {
            placement: "same core",
            sender: 600,
            receiver: 1100,
        },
        Paid {
            placement: "different cores",
            sender: 11500,
            receiver: 31400,
        },
    ];

    #[test]
    fn each_side_pays_its_share() {
        let (v, because) = sender_claim(&PAID, 200);
        assert_eq!(v, Verdict::Confirmed);
        assert_eq!(
            because,
            "sender's CPU per kill(): same core 0.6 µs, different cores 11.5 µs; \
             empty bracket 0.2 µs"
        );
        let (v, because) = receiver_claim(&PAID, 200);
        assert_eq!(v, Verdict::Confirmed);
        assert_eq!(
            because,
            "receiver's CPU per ring: same core 1.1 µs (sender 0.6 µs), \
             different cores 31.4 µs (sender 11.5 µs)"
        );
    }

    #[test]
    fn a_side_that_paid_nothing_refutes_it() {
        assert_eq!(sender_claim(&PAID, 600).0, Verdict::Refuted);
        assert_eq!(receiver_claim(&PAID, 600).0, Verdict::Refuted);
        assert_eq!(receiver_claim(&PAID[1..], 600).0, Verdict::Confirmed);
    }
}
