//! Signals are an enum: a fixed set of named numbers with no data attached.
//!
//! Lecture: "Signals: Communication With Almost No Data", section "Signals Are Enums".
//!
//! Run:
//!     cargo run -p signal-demo --example signal_enum
//!
//! You will see one line per variant of the lecture's enum: the signal's name, the number
//! this platform gives it, what the kernel does when nobody handles it (signal(7)), and
//! whether a program may catch it. Compare with `kill -l` in your shell.
//!
//! To use it alone: `cargo new signal_enum`, put this file in src/main.rs, add these
//! lines under [dependencies] in Cargo.toml, then `cargo run`:
//! ```toml
//! [dependencies]
//! libc = "0.2"
//! ```

use std::error::Error;
use std::io::{Write, stdout};

/// The lecture's enum. A signal is only this number: no payload, no buffer, no sender
/// message. The process learns *which* event happened, never the details.
// Correction: the lecture writes the numbers out (Child = 17, Stop = 19, Usr1 = 10); those
// hold for Linux on x86 and ARM only (macOS has SIGCHLD 20, SIGSTOP 17, SIGUSR1 30, and
// Linux on MIPS differs too), so the values here come from the C headers through libc.
#[repr(i32)]
#[derive(Clone, Copy)]
enum Signal {
    Int = libc::SIGINT,    // Ctrl+C in a terminal
    Kill = libc::SIGKILL,  // force terminate; cannot be caught
    Term = libc::SIGTERM,  // polite shutdown, what `kill PID` sends
    Child = libc::SIGCHLD, // a child process changed state
    Stop = libc::SIGSTOP,  // pause; cannot be caught (SIGCONT resumes)
    Usr1 = libc::SIGUSR1,  // meaning chosen by the program
}

impl Signal {
    const ALL: [Signal; 6] = [
        Signal::Int,
        Signal::Kill,
        Signal::Term,
        Signal::Child,
        Signal::Stop,
        Signal::Usr1,
    ];

    /// (name, default action, can a handler be installed?)
    fn describe(self) -> (&'static str, &'static str, bool) {
        match self {
            Signal::Int => ("SIGINT", "terminate", true),
            // The kernel refuses sigaction() for these two (EINVAL): they always work,
            // which is what makes `kill -9` the last resort.
            Signal::Kill => ("SIGKILL", "terminate", false),
            Signal::Term => ("SIGTERM", "terminate", true),
            // Ignored by default, yet the parent can still wait() for the child.
            Signal::Child => ("SIGCHLD", "ignore", true),
            Signal::Stop => ("SIGSTOP", "stop", false),
            Signal::Usr1 => ("SIGUSR1", "terminate", true),
        }
    }
}

fn main() -> Result<(), Box<dyn Error>> {
    // SAFETY: SIG_DFL installs no handler. Rust ignores SIGPIPE; by default a closed
    // stdout (`| head -1`) ends us quietly, as it ends a C program.
    unsafe { libc::signal(libc::SIGPIPE, libc::SIG_DFL) };
    let mut out = stdout();
    writeln!(
        out,
        "{:<9}{:>6}  {:<16}catchable",
        "signal", "number", "default action"
    )
    .map_err(|e| format!("write stdout: {e}"))?;
    for signal in Signal::ALL {
        let (name, default_action, catchable) = signal.describe();
        let catchable = if catchable { "yes" } else { "no" };
        // `as i32` reads the discriminant: the number `kill` puts in the target's
        // pending-signal bitmask.
        writeln!(
            out,
            "{name:<9}{:>6}  {default_action:<16}{catchable}",
            signal as i32
        )
        .map_err(|e| format!("write stdout: {e}"))?;
    }
    Ok(())
}
