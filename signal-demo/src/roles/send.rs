//! `send SIGNAL`, by hand: one signal by name to a fresh `catcher`, and what came of it.

use std::time::{Duration, Instant};

use nix::sys::signal::Signal;
use nix::sys::wait::WaitPidFlag;

use plumbing::Result;
use plumbing::child::{Heard, describe};

use super::{REPLY_TIMEOUT, start_ready};

/// One signal by name to a fresh catcher; report what the child said and how
/// waitpid saw it (caught, stopped, continued, killed) within 300 ms.
pub fn run(signal: Signal) -> Result {
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

/// Signals `send` accepts: the standard ones whose effect the demo can show without a core dump.
const SENDABLE: [Signal; 11] = [
    Signal::SIGHUP,
    Signal::SIGINT,
    Signal::SIGUSR1,
    Signal::SIGUSR2,
    Signal::SIGTERM,
    Signal::SIGALRM,
    Signal::SIGCHLD,
    Signal::SIGCONT,
    Signal::SIGSTOP,
    Signal::SIGKILL,
    Signal::SIGWINCH,
];

/// "usr1", "USR1" and "SIGUSR1" all name SIGUSR1.
pub fn parse_signal(name: &str) -> std::result::Result<Signal, String> {
    let upper = name.to_ascii_uppercase();
    let full = if upper.starts_with("SIG") {
        upper
    } else {
        format!("SIG{upper}")
    };
    SENDABLE
        .into_iter()
        .find(|signal| signal.as_str() == full)
        .ok_or_else(|| {
            let names: Vec<&str> = SENDABLE.iter().map(|s| &s.as_str()[3..]).collect();
            format!(
                "unknown signal {name:?}; allowed: {}",
                names.join(", ").to_lowercase()
            )
        })
}
