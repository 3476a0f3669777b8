//! Role `worker` (step 3): handlers for INT, TERM and USR1, and a progress counter printed
//! every 10 ms, so the parent can see SIGSTOP freeze it and SIGKILL end it, handlers unrun.

use std::time::Duration;

use signal_hook::consts::{SIGINT, SIGTERM, SIGUSR1};
use signal_hook::iterator::Signals;
use signal_hook::low_level::signal_name;

use plumbing::Result;

pub fn run() -> Result {
    let mut signals =
        Signals::new([SIGINT, SIGTERM, SIGUSR1]).map_err(|e| format!("Signals::new: {e}"))?;
    println!("ready");
    for progress in 1u64.. {
        for signal in signals.pending() {
            println!("caught {}", signal_name(signal).unwrap_or("?"));
        }
        println!("progress {progress}");
        std::thread::sleep(Duration::from_millis(10));
    }
    Ok(())
}
