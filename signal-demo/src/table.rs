//! Step 1: the lecture's `enum Signal`, with this platform's real numbers.

use nix::errno::Errno;
use nix::sys::signal::{SaFlags, SigAction, SigHandler, SigSet, SigmaskHow, Signal, sigaction};

use plumbing::Result;

/// The lecture's variants, and each signal's default action as signal(7) lists it.
const LECTURE_ENUM: [(&str, Signal, &str); 6] = [
    ("Int", Signal::SIGINT, "terminate"),
    ("Kill", Signal::SIGKILL, "terminate"),
    ("Term", Signal::SIGTERM, "terminate"),
    ("Child", Signal::SIGCHLD, "ignore"),
    ("Stop", Signal::SIGSTOP, "stop"),
    ("Usr1", Signal::SIGUSR1, "terminate"),
];

extern "C" fn probe_handler(_: libc::c_int) {}

/// Asks the kernel to install a handler for `signal`, then puts the old disposition back.
/// Ok if the signal can be caught; the kernel's error (EINVAL) if it cannot.
pub fn try_install_handler(signal: Signal) -> Result<Result<(), Errno>> {
    // Block every signal meanwhile, so none can reach the probe handler; one that arrives now
    // stays pending and is delivered after the old disposition is back.
    let old_mask = SigSet::all()
        .thread_swap_mask(SigmaskHow::SIG_BLOCK)
        .map_err(|e| format!("pthread_sigmask: {e}"))?;
    let probe = SigAction::new(
        SigHandler::Handler(probe_handler),
        SaFlags::empty(),
        SigSet::empty(),
    );
    // SAFETY: the probe handler does nothing (trivially async-signal-safe) and cannot run while
    // everything is blocked; the previous action is restored before the mask is.
    let outcome = match unsafe { sigaction(signal, &probe) } {
        // SAFETY: `old` is exactly what the kernel returned for this signal a moment ago.
        Ok(old) => unsafe { sigaction(signal, &old) }.map(|_| ()),
        Err(e) => Err(e),
    };
    old_mask
        .thread_set_mask()
        .map_err(|e| format!("pthread_sigmask: {e}"))?;
    Ok(outcome)
}

pub fn run(step: u32) -> Result {
    println!("\nStep {step}: signals are an enum — the lecture's variants on this platform");
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
    println!("  add one integer (si_value, step 5). Neither carries data: no buffer.");
    Ok(())
}
