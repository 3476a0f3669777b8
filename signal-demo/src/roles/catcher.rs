//! Role `catcher` (step 2 and `send`): catches signals with signal-hook's iterator, as the
//! lecture does, and says what it caught.

use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM, SIGUSR1, SIGUSR2};
use signal_hook::iterator::Signals;
use signal_hook::low_level::{emulate_default_handler, signal_name};

use plumbing::Result;

/// Report every caught signal; SIGTERM ends the loop gracefully, SIGINT restores the default
/// action and re-raises it, so Ctrl-C still ends the program.
pub fn run() -> Result {
    // Registers the handlers; the iterator reads what they write (a socket pair, no thread).
    let mut signals = Signals::new([SIGINT, SIGTERM, SIGUSR1, SIGUSR2, SIGHUP])
        .map_err(|e| format!("Signals::new: {e}"))?;
    println!("ready");
    for signal in signals.forever() {
        let name = signal_name(signal).unwrap_or("an unknown signal");
        match signal {
            SIGTERM => {
                println!("caught SIGTERM: leaving the work loop for a graceful shutdown");
                break;
            }
            SIGINT => {
                println!("caught SIGINT: restoring the default action and re-raising it");
                // Resets SIGINT to SIG_DFL and raises it: the kernel ends us as Ctrl-C would.
                emulate_default_handler(SIGINT).map_err(|e| format!("re-raise SIGINT: {e}"))?;
                return Err("SIGINT re-raised, but still alive".into());
            }
            _ => println!("caught {name}: handled it, still running"),
        }
    }
    drop(signals);
    println!("shutdown done: Signals dropped (handlers unregistered), exit 0");
    Ok(())
}
