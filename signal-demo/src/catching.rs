//! Step 2: catching signals with signal-hook's iterator, as the lecture does.

use std::time::{Duration, Instant};

use nix::sys::signal::Signal;
use nix::sys::wait::WaitPidFlag;
use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM, SIGUSR1, SIGUSR2};
use signal_hook::iterator::Signals;
use signal_hook::low_level::{emulate_default_handler, signal_name};

use plumbing::Result;
use plumbing::child::{Heard, describe};

use crate::role::{REPLY_TIMEOUT, start_ready};

/// Child side (role `catcher`): report every caught signal; SIGTERM ends the loop gracefully,
/// SIGINT restores the default action and re-raises it, so Ctrl-C still ends the program.
pub fn catcher() -> Result {
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

pub fn run(step: u32) -> Result {
    println!("\nStep {step}: catching — a child listens with signal_hook::iterator::Signals");
    let mut child = start_ready("catcher", &[])?;
    let pid = child.pid();
    println!("  child {pid} catches INT, TERM, USR1, USR2 and HUP, and said ready");
    for signal in [Signal::SIGUSR1, Signal::SIGTERM] {
        child.signal(signal)?;
        println!("  kill({pid}, {signal})");
        println!("    child: {}", child.expect_line(REPLY_TIMEOUT)?);
    }
    println!("    child: {}", child.expect_line(REPLY_TIMEOUT)?);
    let status = child.wait(REPLY_TIMEOUT)?;
    println!("  waitpid({pid}): the child {}", describe(status));

    let mut child = start_ready("catcher", &[])?;
    let pid = child.pid();
    child.signal(Signal::SIGINT)?;
    println!("  kill({pid}, SIGINT)");
    println!("    child: {}", child.expect_line(REPLY_TIMEOUT)?);
    let status = child.wait(REPLY_TIMEOUT)?;
    println!("  waitpid({pid}): the child {}", describe(status));
    println!("  caught, yet Ctrl-C still ends it");
    Ok(())
}

/// `send <signal>`: one signal by name to a fresh catcher; report what the child said and how
/// waitpid saw it (caught, stopped, continued, killed) within 300 ms.
pub fn run_send(signal: Signal) -> Result {
    let mut child = start_ready("catcher", &[])?;
    let pid = child.pid();
    println!("child {pid} catches SIGINT, SIGTERM, SIGUSR1, SIGUSR2 and SIGHUP");
    child.signal(signal)?;
    println!("kill({pid}, {signal})");
    let flags = WaitPidFlag::WUNTRACED | WaitPidFlag::WCONTINUED;
    let end = Instant::now() + Duration::from_millis(300);
    let mut seen_anything = false;
    while Instant::now() < end {
        match child.hear(Duration::from_millis(20))? {
            Heard::Line(line) => println!("  child says: {line}"),
            Heard::Closed => {
                // Its output closed: it is exiting or dead. Reap it and say how it ended
                // (unless the waitpid below already did, between two reads).
                if !child.is_reaped() {
                    println!(
                        "  waitpid: child {}",
                        describe(child.wait_for(flags, REPLY_TIMEOUT)?)
                    );
                }
                return Ok(());
            }
            Heard::Timeout => match child.try_wait(flags)? {
                Some(status) => println!("  waitpid: child {}", describe(status)),
                None => continue,
            },
        }
        seen_anything = true;
    }
    if !seen_anything {
        println!("  nothing visible in 300 ms: {signal}'s default action changes nothing here");
    }
    println!("  child still exists; ending it with SIGKILL and reaping it");
    Ok(())
}
