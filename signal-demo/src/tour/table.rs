//! Step 1: the lecture's `enum Signal`, with this platform's real numbers.

use nix::sys::signal::Signal;

use plumbing::Result;
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
