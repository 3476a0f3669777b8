//! Catching signals with signal-hook's iterator: the handler only records the number, and
//! ordinary code in `main` decides what to do with it.
//!
//! Lecture: "Signals: Communication With Almost No Data", the `Signals::new` snippet.
//!
//! Run, terminal 1:
//!     cargo run -p signal-demo --example catch_signals
//! Terminal 2, with the pid that terminal 1 printed:
//!     kill -USR1 PID
//!     cargo run -p signal-demo --example send_signal PID USR2
//!     kill -TERM PID
//!
//! You will see `caught SIGUSR1 (10)` and `caught SIGUSR2 (12)` in terminal 1 (numbers as on
//! Linux); SIGTERM (or Ctrl-C, which is SIGINT) prints a last line and the program exits
//! with status 0.
//! Two signals of the same kind sent before the first is handled may arrive as one: the
//! kernel keeps one pending bit per signal, not a queue.
//!
//! To use it alone: `cargo new catch_signals`, put this file in src/main.rs, add these
//! lines under [dependencies] in Cargo.toml, then `cargo run` in terminal 1; in terminal 2,
//! `kill -USR1 PID`, or `cargo run -- PID USR2` in send_signal's own project:
//! ```toml
//! [dependencies]
//! nix = { version = "0.32", features = ["signal"] }
//! signal-hook = "0.4"
//! ```

use std::error::Error;
use std::io::{Write, stdout};

use nix::sys::signal::{SigHandler, SigSet, Signal, signal};
use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM, SIGUSR1, SIGUSR2};
use signal_hook::iterator::Signals;
use signal_hook::low_level::signal_name;

fn main() -> Result<(), Box<dyn Error>> {
    // The signal mask is inherited: started with these signals blocked (by a careless
    // parent), no handler below would ever run and only kill -9 would stop us.
    SigSet::empty()
        .thread_set_mask()
        .map_err(|e| format!("sigprocmask: {e}"))?;
    // SAFETY: SIG_DFL installs no handler. Rust ignores SIGPIPE; by default a closed
    // stdout (`| head -1`) ends us quietly, as it ends a C program.
    unsafe { signal(Signal::SIGPIPE, SigHandler::SigDfl) }?;
    // Installs one handler per signal. The handler runs asynchronously, between any two
    // instructions of this program, so it does the one async-signal-safe thing: it writes
    // the number into a pipe. The loop below reads that pipe in normal context, where
    // println! and locks are safe.
    // Correction: the lecture listens for SIGINT alone, so a plain `kill PID` (SIGTERM)
    // would still end the process by the default action, skipping any cleanup; we take
    // SIGTERM too.
    let mut signals = Signals::new([SIGINT, SIGTERM, SIGUSR1, SIGUSR2, SIGHUP])
        .map_err(|e| format!("sigaction (Signals::new): {e}"))?;

    // Print the pid only now: from here on a signal is caught, not fatal, so whoever
    // reads this line may send one at once.
    let (pid, mut out) = (std::process::id(), stdout());
    writeln!(
        out,
        "pid {pid}: waiting for SIGUSR1, SIGUSR2, SIGHUP, SIGINT, SIGTERM"
    )
    .map_err(|e| format!("write stdout: {e}"))?;
    writeln!(
        out,
        "try in another terminal:  kill -USR1 {pid}   then   kill -TERM {pid}"
    )
    .map_err(|e| format!("write stdout: {e}"))?;

    // forever() blocks in read() on the pipe; each item is one signal number.
    for sig in signals.forever() {
        let name = signal_name(sig).unwrap_or("unknown signal");
        match sig {
            SIGINT | SIGTERM => {
                writeln!(out, "caught {name} ({sig}), shutting down...")
                    .map_err(|e| format!("write stdout: {e}"))?;
                break;
            }
            _ => {
                writeln!(out, "caught {name} ({sig})").map_err(|e| format!("write stdout: {e}"))?
            }
        }
    }
    // Returning from main runs every destructor, then exits with status 0: the clean
    // shutdown a default SIGTERM would not have given us.
    Ok(())
}
