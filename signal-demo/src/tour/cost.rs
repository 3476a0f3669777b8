//! Step 8: what one signal costs: a round trip of the library's doorbell (`signal_demo::ring`
//! / `wait_doorbell`, the same calls `compare` times), on one core and across two. Beside it,
//! in the same placement, a pipe's round trip timed the same way, and the CPU time both sides
//! spent per round trip on each: the lecture calls a signal the lightest communication; the
//! numbers decide. The children are `roles::doorbell` and `roles::echo`.

use std::time::{Duration, Instant};

use nix::sched::sched_getcpu;
use nix::time::{ClockId, clock_getcpuclockid, clock_gettime};
use nix::unistd::Pid;
use plumbing::child::Child;
use plumbing::stats::{self, Summary};
use plumbing::tour::heading;
use plumbing::verdict::{self, Verdict};
use plumbing::{Result, cpu, stop};
use signal_demo::{block_doorbell, ring};

use super::{micros, nanos, placements, tenths_of_micros};
use crate::roles::doorbell::{self, WARM_UP, wait_reply};
use crate::roles::echo;

pub fn run(step: u32, rounds: u32) -> Result {
    heading(
        step,
        "delivery cost — ring (kill) -> child's sigtimedwait -> ring back",
    );
    block_doorbell().map_err(|e| format!("block doorbell: {e}"))?;
    println!(
        "  {rounds} timed round trips each, after {WARM_UP} warm-up ones; doorbell = SIGRTMIN"
    );
    println!("  beside each, a pipe the same way: 1 byte -> child's read -> 1 byte back");
    let mut compared = Vec::new();
    for (name, cpus) in placements()? {
        // On our own CPU until `_pinned` is dropped, whichever way this iteration ends.
        let _pinned = cpu::pin_for_now(cpus[0])?;
        let mut child = doorbell::start_pinned(cpus[1], rounds)?;
        let pid = child.pid();
        let signal = timed(rounds, pid, |_| round_trip(&mut child))?;
        let parent_cpu = sched_getcpu().map_err(|e| format!("sched_getcpu: {e}"))?;
        let child_cpu = doorbell::finish(child)?;
        let placement = format!("{name} (CPU {parent_cpu} -> {child_cpu}):");
        println!("  {placement:<31}{}", spread(&signal.summary));

        let mut echo = echo::start_pinned(cpus[1])?;
        let pid = echo.pid();
        let pipe = timed(rounds, pid, |round| {
            let start = Instant::now();
            echo.round_trip(round)?;
            Ok(nanos(start.elapsed()))
        })?;
        echo.finish()?;
        println!(
            "    {:<29}{}",
            "a pipe, the same way:",
            spread(&pipe.summary)
        );
        println!(
            "    {:<29}signal {}  pipe {}",
            "mean CPU per trip, both:",
            micros(signal.cpu),
            micros(pipe.cpu)
        );
        compared.push(Compared {
            placement: name,
            signal: [signal.summary.p50, signal.cpu],
            pipe: [pipe.summary.p50, pipe.cpu],
        });
    }
    let (v, because) = lightest_claim(&compared);
    verdict::record("a signal is the lightest communication", v, because);
    Ok(())
}

/// "p50 3.3 µs  p99 9.5 µs  max 2858.0 µs"
fn spread(summary: &Summary) -> String {
    format!(
        "p50 {}  p99 {}  max {}",
        micros(summary.p50),
        micros(summary.p99),
        micros(summary.max)
    )
}

/// One mechanism's round trips: their times, and the CPU time both processes spent per trip.
struct Measured {
    summary: Summary,
    /// Nanoseconds of CPU, parent's thread and child together, per round trip.
    cpu: u64,
}

/// Runs `round_trip` `rounds` times (each returns its own time, in nanoseconds), with the CPU
/// clocks of our thread and of `child` read before and after all of them.
fn timed(
    rounds: u32,
    child: Pid,
    mut round_trip: impl FnMut(u32) -> Result<u64>,
) -> Result<Measured> {
    let own = ClockId::CLOCK_THREAD_CPUTIME_ID;
    let theirs = clock_getcpuclockid(child).map_err(|e| format!("clock_getcpuclockid: {e}"))?;
    let before = read_ns(own)? + read_ns(theirs)?;
    let mut samples = Vec::with_capacity(rounds as usize);
    for round in 0..rounds {
        // A stop signal that lands between two waits is seen here, not after every round.
        stop::check()?;
        samples.push(round_trip(round)?);
    }
    // The child has not been reaped yet, so its clock can still be read.
    let after = read_ns(own)? + read_ns(theirs)?;
    let summary = stats::summarize(&mut samples).ok_or("no round trip was timed")?;
    let cpu = after.saturating_sub(before) / u64::from(rounds.max(1));
    Ok(Measured { summary, cpu })
}

/// One ring to the child and its ring back, timed with the monotonic clock, in nanoseconds.
fn round_trip(child: &mut Child) -> Result<u64> {
    let start = Instant::now();
    ring(child.pid()).map_err(|e| format!("kill({}, doorbell): {e}", child.pid()))?;
    wait_reply(child)?;
    Ok(nanos(start.elapsed()))
}

/// Nanoseconds on a clock.
fn read_ns(clock: ClockId) -> Result<u64> {
    let now = clock_gettime(clock).map_err(|e| format!("clock_gettime({clock}): {e}"))?;
    Ok(nanos(Duration::from(now)))
}

/// A signal's and a pipe's round trip in one placement: [p50, CPU per trip], nanoseconds.
pub struct Compared {
    pub placement: &'static str,
    pub signal: [u64; 2],
    pub pipe: [u64; 2],
}

/// The lecture: a signal is the lightest possible communication. In a placement the signal
/// wins when its p50 and its CPU per round trip are both below the pipe's, as printed (tenths
/// of a µs). Confirmed when it wins in every placement, refuted when in none, else qualified.
pub fn lightest_claim(compared: &[Compared]) -> (Verdict, String) {
    let tenths = |pair: [u64; 2]| pair.map(tenths_of_micros);
    let wins = compared
        .iter()
        .filter(|c| {
            let (signal, pipe) = (tenths(c.signal), tenths(c.pipe));
            signal[0] < pipe[0] && signal[1] < pipe[1]
        })
        .count();
    let parts: Vec<String> = compared
        .iter()
        .map(|c| {
            format!(
                "{}: signal {} (CPU {}), pipe {} (CPU {})",
                c.placement,
                micros(c.signal[0]),
                micros(c.signal[1]),
                micros(c.pipe[0]),
                micros(c.pipe[1])
            )
        })
        .collect();
    let verdict = match wins {
        0 => Verdict::Refuted,
        n if n == compared.len() => Verdict::Confirmed,
        _ => Verdict::Qualified,
    };
    (verdict, format!("p50 round trips, {}", parts.join("; ")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pair(placement: &'static str, signal: [u64; 2], pipe: [u64; 2]) -> Compared {
        Compared {
            placement,
            signal,
            pipe,
        }
    }

    #[test]
    fn the_cheaper_pipe_refutes_it() {
        let same = pair("same core", [3300, 3100], [2900, 2600]);
        let (v, because) = lightest_claim(&[same]);
        assert_eq!(v, Verdict::Refuted);
        assert_eq!(
            because,
            "p50 round trips, same core: signal 3.3 µs (CPU 3.1 µs), pipe 2.9 µs (CPU 2.6 µs)"
        );
    }

    #[test]
    fn only_cheaper_in_time_and_cpu_everywhere_confirms_it() {
        let wins = pair("same core", [2000, 2000], [2900, 2600]);
        let faster_only = pair("different cores", [2000, 3000], [2900, 2600]);
        assert_eq!(lightest_claim(&[wins]).0, Verdict::Confirmed);
        let both = [pair("same core", [2000, 2000], [2900, 2600]), faster_only];
        assert_eq!(lightest_claim(&both).0, Verdict::Qualified);
        // Equal as printed is not cheaper.
        let tie = pair("same core", [2940, 2000], [2900, 2600]);
        assert_eq!(lightest_claim(&[tie]).0, Verdict::Refuted);
    }
}
