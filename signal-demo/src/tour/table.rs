//! Step 1: the lecture's `enum Signal`, with this platform's real numbers.

use nix::sys::signal::Signal;

use plumbing::Result;
use plumbing::tour::heading;
use plumbing::verdict::{self, Verdict, judge};
use signal_demo::try_install_handler;

/// The lecture's variants, and each signal's default action as signal(7) lists it.
const LECTURE_ENUM: [(&str, Signal, &str); 6] = [
    ("Int", Signal::SIGINT, "terminate"),
    ("Kill", Signal::SIGKILL, "terminate"),
    ("Term", Signal::SIGTERM, "terminate"),
    ("Child", Signal::SIGCHLD, "ignore"),
    ("Stop", Signal::SIGSTOP, "stop"),
    ("Usr1", Signal::SIGUSR1, "terminate"),
];

pub fn run(step: u32) -> Result {
    heading(
        step,
        "signals are an enum — the lecture's variants on this platform",
    );
    println!(
        "  {:<8}{:<9}{:>6}  {:<16}can be caught? (sigaction here)",
        "variant", "signal", "number", "default action"
    );
    for (variant, signal, default_action) in LECTURE_ENUM {
        let caught = match try_install_handler(signal)? {
            Ok(()) => "yes: handler accepted".to_string(),
            Err(e) => format!("no: {e}"),
        };
        println!(
            "  {variant:<8}{:<9}{:>6}  {default_action:<16}{caught}",
            signal.as_str(),
            signal as i32
        );
    }
    println!(
        "  real-time: SIGRTMIN..=SIGRTMAX = {}..={} here; queued, not merged (step 5)",
        libc::SIGRTMIN(),
        libc::SIGRTMAX()
    );
    println!("  A standard signal carries only its number; a queued real-time signal can");
    println!("  add one integer (si_value, step 5).");
    let numbers: Vec<(&str, i32)> = LECTURE_ENUM
        .iter()
        .map(|&(variant, signal, _)| (variant, signal as i32))
        .collect();
    let (v, because) = enum_claim(&numbers, libc::SIGRTMIN(), libc::SIGRTMAX());
    verdict::record("signals are a fixed set of named numbers", v, because);
    Ok(())
}

/// The lecture: signals are an enum, a fixed set of named variants. Holds when the lecture's
/// variants are distinct standard signals (below `rtmin`); qualified when real-time signals
/// `rtmin..=rtmax` exist as well: numbers with no name of their own, SIGRTMIN decided by the C
/// library at run time.
pub fn enum_claim(variants: &[(&str, i32)], rtmin: i32, rtmax: i32) -> (Verdict, String) {
    let mut seen: Vec<i32> = variants.iter().map(|&(_, n)| n).collect();
    seen.sort_unstable();
    seen.dedup();
    let distinct = seen.len() == variants.len();
    let standard = variants.iter().all(|&(_, n)| 0 < n && n < rtmin);
    let named: Vec<String> = variants.iter().map(|(v, n)| format!("{v} {n}")).collect();
    let real_time = if rtmax >= rtmin { rtmax - rtmin + 1 } else { 0 };
    let mut because = named.join(", ");
    if real_time > 0 {
        because += &format!("; and {real_time} real-time, {rtmin}..={rtmax}, unnamed");
    }
    (judge(distinct && standard, real_time > 0), because)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SIX: [(&str, i32); 3] = [("Int", 2), ("Kill", 9), ("Usr1", 10)];

    #[test]
    fn real_time_signals_qualify_the_enum() {
        let (v, because) = enum_claim(&SIX, 34, 64);
        assert_eq!(v, Verdict::Qualified);
        assert_eq!(
            because,
            "Int 2, Kill 9, Usr1 10; and 31 real-time, 34..=64, unnamed"
        );
        let (v, because) = enum_claim(&SIX, 65, 64);
        assert_eq!(v, Verdict::Confirmed);
        assert_eq!(because, "Int 2, Kill 9, Usr1 10");
    }

    #[test]
    fn a_shared_or_real_time_number_refutes_it() {
        let twice = [("Int", 2), ("Kill", 2)];
        assert_eq!(enum_claim(&twice, 34, 64).0, Verdict::Refuted);
        let late = [("Int", 2), ("Kill", 40)];
        assert_eq!(enum_claim(&late, 34, 64).0, Verdict::Refuted);
    }
}
