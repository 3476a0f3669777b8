//! Step 7 of the pipe tour: what setting up a pipe costs, beside two other channels set up
//! and torn down the same way in the same rounds: a socket pair and a System V message
//! queue. The lecture calls the pipe the lightest to set up; the numbers decide.

use std::io;
use std::time::Instant;

use nix::sys::signal::{SigSet, SigmaskHow, Signal, sigprocmask};
use nix::sys::socket::{AddressFamily, SockFlag, SockType, socketpair};
use plumbing::Result;
use plumbing::stats::summarize;
use plumbing::tour::heading;
use plumbing::verdict::{self, Verdict, judge};

/// Rounds discarded first (caches, the allocator's first pages).
const WARM_UP: usize = 200;
/// Rounds measured: each creates and destroys one of each, in turn.
const ROUNDS: usize = 2000;

/// One way to set up a channel and tear it down again, named as the step prints it.
struct Setup {
    name: &'static str,
    once: fn() -> Result,
}

const SETUPS: [Setup; 3] = [
    Setup {
        name: "pipe() + close both ends",
        once: pipe_once,
    },
    Setup {
        name: "socketpair() + close both ends",
        once: socketpair_once,
    },
    Setup {
        name: "msgget(IPC_PRIVATE) + IPC_RMID",
        once: sysv_queue_once,
    },
];

/// Step 7: the cost of setting up a pipe, beside a socket pair and a System V queue.
pub fn run() -> Result {
    heading(7, "What a pipe costs to set up");
    println!("   {ROUNDS} rounds, each sets up and tears down one of each in turn;");
    println!("   the middle round (p50) of each:");
    let medians = measure()?;
    for (setup, ns) in SETUPS.iter().zip(&medians) {
        println!("   {:<34} {ns:>6} ns", setup.name);
    }
    let others: Vec<(&str, u64)> = SETUPS[1..]
        .iter()
        .zip(&medians[1..])
        .map(|(s, &ns)| (s.name, ns))
        .collect();
    let (v, because) = lightest_claim(medians[0], &others);
    verdict::record("a pipe is the lightest IPC to set up", v, because);
    Ok(())
}

/// The p50 of each setup, in nanoseconds, in the order of [`SETUPS`]. The stop signals stay
/// blocked meanwhile: a System V queue has no owner but us, so a Ctrl-C between msgget and
/// IPC_RMID would leave it behind. One that arrives is delivered when we unblock.
fn measure() -> Result<Vec<u64>> {
    let mut stop = SigSet::empty();
    for signal in [
        Signal::SIGINT,
        Signal::SIGTERM,
        Signal::SIGHUP,
        Signal::SIGQUIT,
    ] {
        stop.add(signal);
    }
    let mut old = SigSet::empty();
    sigprocmask(SigmaskHow::SIG_BLOCK, Some(&stop), Some(&mut old))
        .map_err(|e| format!("sigprocmask: {e}"))?;
    let samples = rounds();
    sigprocmask(SigmaskHow::SIG_SETMASK, Some(&old), None)
        .map_err(|e| format!("sigprocmask: {e}"))?;
    samples?
        .iter_mut()
        .map(|s| Ok(summarize(s).ok_or("no samples")?.p50))
        .collect()
}

/// Every round times one setup of each kind, so all three share the machine's moods.
fn rounds() -> Result<Vec<Vec<u64>>> {
    let mut samples = vec![Vec::with_capacity(ROUNDS); SETUPS.len()];
    for round in 0..WARM_UP + ROUNDS {
        for (setup, kept) in SETUPS.iter().zip(&mut samples) {
            let started = Instant::now();
            (setup.once)()?;
            let ns = u64::try_from(started.elapsed().as_nanos())?;
            if round >= WARM_UP {
                kept.push(ns);
            }
        }
    }
    Ok(samples)
}

fn pipe_once() -> Result {
    let ends = io::pipe().map_err(|e| format!("pipe: {e}"))?;
    drop(ends); // close() both
    Ok(())
}

fn socketpair_once() -> Result {
    let ends = socketpair(
        AddressFamily::Unix,
        SockType::Stream,
        None,
        SockFlag::SOCK_CLOEXEC,
    )
    .map_err(|e| format!("socketpair: {e}"))?;
    drop(ends); // close() both
    Ok(())
}

fn sysv_queue_once() -> Result {
    // SAFETY: msgget takes two integers and touches no memory of ours.
    let id = unsafe { libc::msgget(libc::IPC_PRIVATE, libc::IPC_CREAT | 0o600) };
    if id < 0 {
        return Err(format!("msgget: {}", io::Error::last_os_error()).into());
    }
    // SAFETY: IPC_RMID takes no buffer; the id is the queue we just created, which no other
    // process knows (IPC_PRIVATE).
    if unsafe { libc::msgctl(id, libc::IPC_RMID, std::ptr::null_mut()) } < 0 {
        return Err(format!("msgctl IPC_RMID: {}", io::Error::last_os_error()).into());
    }
    Ok(())
}

/// The lecture: a pipe is the lightest IPC to set up. Confirmed when no other setup's p50
/// (`others`) is below the pipe's (`pipe_ns`); qualified when the cheapest other is within a
/// quarter of it (a tie, as far as one run can tell); refuted when it is cheaper by more.
pub fn lightest_claim(pipe_ns: u64, others: &[(&str, u64)]) -> (Verdict, String) {
    let cheapest = others.iter().min_by_key(|(_, ns)| *ns);
    let mut because = format!("pipe {pipe_ns} ns");
    for (name, ns) in others {
        let short = name.split('(').next().unwrap_or(name);
        because += &format!(", {short} {ns} ns");
    }
    let (holds, but) = match cheapest {
        Some(&(_, least)) if least < pipe_ns => (pipe_ns * 4 <= least * 5, true),
        _ => (true, false),
    };
    (judge(holds, but), because)
}

#[cfg(test)]
mod tests {
    use super::*;

    const OTHERS: [(&str, u64); 2] = [("socketpair()", 2900), ("msgget(IPC_PRIVATE)", 1800)];

    #[test]
    fn the_cheapest_pipe_confirms_it() {
        let (v, because) = lightest_claim(1700, &OTHERS);
        assert_eq!(v, Verdict::Confirmed);
        assert_eq!(because, "pipe 1700 ns, socketpair 2900 ns, msgget 1800 ns");
    }

    #[test]
    fn a_tie_qualifies_it_and_a_cheaper_queue_refutes_it() {
        assert_eq!(lightest_claim(2000, &OTHERS).0, Verdict::Qualified);
        assert_eq!(lightest_claim(2250, &OTHERS).0, Verdict::Qualified);
        assert_eq!(lightest_claim(2300, &OTHERS).0, Verdict::Refuted);
        assert_eq!(lightest_claim(3600, &OTHERS).0, Verdict::Refuted);
    }
}
