//! The other half of every step: this same program, started again as
//! `signal-demo child --parent <our pid> <ROLE>`; main.rs hands the role to its file here.
//! Also `send`, the by-hand subcommand that signals a catcher.
//!
//! Why start our own binary rather than fork(): a freshly exec'd child starts with a clean signal
//! state — default dispositions, an empty signal mask (std resets it), no handlers copied from the
//! parent's Ctrl-C flag — which is exactly what a demo of defaults must start from. It is safe
//! whatever threads exist (fork is only safe in a single-threaded process). And the child's stdout
//! pipe is the readiness handshake: the parent never sleeps hoping the child is ready, it waits
//! for the child's "ready" line. A role answers with `println!`: Rust's stdout is line-buffered
//! even on a pipe, so each line reaches the parent as soon as it is printed.

use std::process::{self, Command, Stdio};
use std::time::Duration;

use plumbing::Result;
use plumbing::child::{Child, this_program};

/// Step 2 and `send`: catches INT, TERM, USR1, USR2, HUP
pub mod catcher;

/// Step 3: counts, with handlers that STOP and KILL bypass
pub mod worker;

/// Step 4: exits at once with a given status
pub mod exit;

/// Step 4: waits until a signal ends it
pub mod sleeper;

/// Step 5: blocks SIGUSR1 and SIGRTMIN, then counts them
pub mod pending;

/// Step 6: blocks in read(2) with a SIGUSR1 handler
pub mod eintr;

/// Step 7: logs under a lock, from its handler too (or not)
pub mod handler;

/// Steps 8-9: rings back after every ring
pub mod doorbell;

/// Step 8: writes back every byte it reads, through pipes
pub mod echo;

/// By hand: one signal by name to a fresh catcher
pub mod send;

/// How long the parent waits for a child's reply or change of state before calling it dead or
/// stuck.
pub const REPLY_TIMEOUT: Duration = Duration::from_secs(2);

/// Starts `signal-demo child --parent <our pid> <role> <args>` with its stdin and stdout piped
/// to us (its stderr is ours, so a child's error reaches the terminal).
pub fn start(role: &str, args: &[&str]) -> Result<Child> {
    let mut command = command(role, args)?;
    command.stdin(Stdio::piped()).stdout(Stdio::piped());
    Child::spawn(&mut command)
}

/// `signal-demo child --parent <our pid> <role> <args>`, its stdio not yet chosen.
pub fn command(role: &str, args: &[&str]) -> Result<Command> {
    let mut command = this_program()?;
    command
        .args(["child", "--parent", &process::id().to_string(), role])
        .args(args);
    Ok(command)
}

/// Starts a role and waits for its "ready" line: its handlers and signal mask are in place.
pub fn start_ready(role: &str, args: &[&str]) -> Result<Child> {
    let mut child = start(role, args)?;
    let line = child.expect_line(REPLY_TIMEOUT)?;
    if line != "ready" {
        return Err(format!("child {role}: expected \"ready\", got {line:?}").into());
    }
    Ok(child)
}
