//! `main` for every tour: parse the command line, run, and turn the outcome into one line on
//! stderr and an exit status a shell understands.
//!
//! | outcome | stderr | status |
//! |---|---|---|
//! | success, `--help`, `--version` | nothing | 0 |
//! | a usage error | `NAME: <clap's message on one line>; see --help` | 2 |
//! | an error | `NAME: <the error>` | 1 |
//! | stopped by a signal ([`crate::stop`]) | `NAME: stopped by SIGINT...` | 128 + signal |
//! | stdout closed (`NAME \| head -1`) | nothing | 141, as if SIGPIPE had ended it |
//! | stdout failed otherwise (`> /dev/full`) | `NAME: cannot write to stdout: ...` | 1 |
//!
//! `println!` panics when stdout fails. The panic unwinds through every owner's `Drop` (names
//! removed, children reaped) before [`main`] catches it, so nothing is left behind either way.

use std::any::Any;
use std::io::{self, Write};
use std::panic::{self, AssertUnwindSafe};
use std::process::ExitCode;
use std::sync::OnceLock;

use clap::Parser;

use crate::stop;

static NAME: OnceLock<&'static str> = OnceLock::new();

/// The exit status of a program whose stdout was closed under it: what a shell shows for a
/// process that SIGPIPE ended (128 + 13).
pub const STDOUT_CLOSED: u8 = 141;

/// The running program's name, for messages (`pipe-demo`); set by [`main`].
pub fn name() -> &'static str {
    NAME.get().copied().unwrap_or("ipc-tour")
}

/// Parses the command line into `C` and runs `run` with it; see the module's table for what
/// each outcome prints and returns.
pub fn main<C: Parser>(name: &'static str, run: impl FnOnce(C) -> crate::Result) -> ExitCode {
    let _ = NAME.set(name);
    install_panic_hook();
    if let Err(e) = reset_inherited_signals() {
        say(&format!("cannot reset the inherited signal state: {e}"));
        return ExitCode::FAILURE;
    }
    let cli = match parse::<C>() {
        Ok(cli) => cli,
        Err(code) => return code,
    };
    match panic::catch_unwind(AssertUnwindSafe(|| run(cli))) {
        Ok(result) => finish(result),
        Err(payload) => match stdout_failure(&*payload) {
            Some(StdoutFailure::Closed) => ExitCode::from(STDOUT_CLOSED),
            Some(StdoutFailure::Other) => ExitCode::FAILURE, // the hook said why
            None => ExitCode::from(101),                     // a bug: the hook printed it
        },
    }
}

/// The line and the status for what `run` returned.
fn finish(result: crate::Result) -> ExitCode {
    let interrupted = result
        .as_ref()
        .err()
        .and_then(|e| e.downcast_ref::<stop::Interrupted>())
        .map(|i| i.0);
    // The flag decides even when the error that unwound us was another one: Ctrl-C in a
    // terminal also reaches our children, and their deaths may be what we saw first.
    if let Some(signal) = stop::requested().or(interrupted) {
        say(&format!(
            "stopped by {}{}",
            stop::signal_name(signal),
            stop::note()
        ));
        return ExitCode::from(128 + signal as u8);
    }
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            say(&e.to_string());
            ExitCode::FAILURE
        }
    }
}

/// Signals a tour relies on: SIGCHLD (waitpid finds no child when it is ignored: ECHILD), the
/// ones the demos send each other, and SIGALRM, which a program's own timer may use.
const RELIED_ON: [i32; 4] = [libc::SIGCHLD, libc::SIGUSR1, libc::SIGUSR2, libc::SIGALRM];

/// A program inherits its parent's ignored signals and blocked-signal mask across exec: a
/// daemon that ignores SIGCHLD, or a shell that blocks SIGTERM, would break the tours in ways
/// that point nowhere near the cause. So start from the state the code assumes: the signals
/// above and the real-time ones at their default action, and nothing blocked.
fn reset_inherited_signals() -> nix::Result<()> {
    use nix::sys::signal::{SigHandler, SigSet, SigmaskHow, Signal, signal, sigprocmask};
    for sig in RELIED_ON {
        // SAFETY: installs SIG_DFL, which runs no code in this process.
        unsafe { signal(Signal::try_from(sig)?, SigHandler::SigDfl) }?;
    }
    for sig in libc::SIGRTMIN()..=libc::SIGRTMAX() {
        // SAFETY: as above. nix's Signal has no real-time numbers, so libc is called directly.
        if unsafe { libc::signal(sig, libc::SIG_DFL) } == libc::SIG_ERR {
            return Err(nix::errno::Errno::last());
        }
    }
    sigprocmask(SigmaskHow::SIG_SETMASK, Some(&SigSet::empty()), None)
}

/// One line on stderr, prefixed with the program's name. A failing stderr is ignored: there
/// is nowhere left to report it.
pub fn say(line: &str) {
    let _ = writeln!(io::stderr(), "{}: {line}", name());
}

/// Parses the command line. A usage error becomes ONE line on stderr and exit status 2 (clap's
/// own message spans several lines and ends in a usage block); `--help` and `--version` print
/// as usual and exit 0.
pub fn parse<C: Parser>() -> Result<C, ExitCode> {
    C::try_parse().map_err(|err| {
        if !err.use_stderr() {
            let _ = err.print(); // --help, --version
            return ExitCode::SUCCESS;
        }
        say(&format!(
            "{}; see --help",
            one_line(&err.render().to_string())
        ));
        ExitCode::from(2)
    })
}

/// clap's message up to its first blank line (before "Usage:"), on one line, without the
/// leading "error: ". A huge offending value (a 1 MB argument) is shortened in the middle.
fn one_line(text: &str) -> String {
    let lines: Vec<&str> = text
        .lines()
        .take_while(|l| !l.trim().is_empty() && !l.starts_with("Usage:"))
        .map(str::trim)
        .collect();
    let joined = lines.join(" ");
    let message = joined.strip_prefix("error: ").unwrap_or(&joined);
    let chars: Vec<char> = message.chars().collect();
    if chars.len() <= 300 {
        return message.to_string();
    }
    let head: String = chars[..150].iter().collect();
    let tail: String = chars[chars.len() - 100..].iter().collect();
    format!("{head}…{tail}")
}

enum StdoutFailure {
    /// EPIPE: nobody reads our output any more (`| head`).
    Closed,
    /// Any other error writing stdout (ENOSPC on `> /dev/full`, EIO ...).
    Other,
}

/// Is this panic `println!` failing, and how?
fn stdout_failure(payload: &(dyn Any + Send)) -> Option<StdoutFailure> {
    let message = payload
        .downcast_ref::<String>()
        .map(String::as_str)
        .or_else(|| payload.downcast_ref::<&str>().copied())?;
    let failure = message.strip_prefix("failed printing to stdout")?;
    let epipe = io::Error::from_raw_os_error(libc::EPIPE).to_string();
    Some(if failure.contains(&epipe) {
        StdoutFailure::Closed
    } else {
        StdoutFailure::Other
    })
}

/// A closed stdout ends quietly; another stdout failure says so in one line; any other panic
/// keeps Rust's own report (it is a bug).
fn install_panic_hook() {
    let default_hook = panic::take_hook();
    panic::set_hook(Box::new(move |info| match stdout_failure(info.payload()) {
        Some(StdoutFailure::Closed) => {}
        Some(StdoutFailure::Other) => {
            let message = info
                .payload()
                .downcast_ref::<String>()
                .map_or("", String::as_str);
            let cause = message.split_once(": ").map_or(message, |(_, c)| c);
            say(&format!("cannot write to stdout: {cause}"));
        }
        None => default_hook(info),
    }));
}

/// For a forked child ([`crate::child`]): the exit status that tells the parent how a panic
/// ended it, and whether the panic was a closed stdout (which the parent then re-raises).
pub(crate) fn child_panic_status(payload: &(dyn Any + Send)) -> i32 {
    match stdout_failure(payload) {
        Some(StdoutFailure::Closed) => i32::from(STDOUT_CLOSED),
        Some(StdoutFailure::Other) => 1,
        None => 101,
    }
}

/// In the parent: a child ended with [`STDOUT_CLOSED`], so our shared stdout is closed too.
/// Unwind as our own `println!` would have, so owners clean up and [`main`] exits quietly.
pub(crate) fn resume_stdout_closed() -> ! {
    let epipe = io::Error::from_raw_os_error(libc::EPIPE);
    panic::resume_unwind(Box::new(format!(
        "failed printing to stdout: {epipe} (seen by a child)"
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usage_errors_become_one_line() {
        let text = "error: invalid value 'x' for '--size <N>': expected a number\n\n\
                    Usage: pipe-demo buffer --size <N>\n\nFor more information, try '--help'.\n";
        assert_eq!(
            one_line(text),
            "invalid value 'x' for '--size <N>': expected a number"
        );
        let long = format!("error: bad '{}'", "a".repeat(1000));
        let short = one_line(&long);
        assert_eq!(short.chars().count(), 251, "{short}");
        assert!(short.starts_with("bad 'aaa") && short.ends_with("aa'"));
    }

    #[test]
    fn stdout_failures_are_told_apart() {
        let closed: Box<dyn Any + Send> =
            Box::new("failed printing to stdout: Broken pipe (os error 32)".to_string());
        let full: Box<dyn Any + Send> = Box::new(
            "failed printing to stdout: No space left on device (os error 28)".to_string(),
        );
        let other: Box<dyn Any + Send> = Box::new("index out of bounds");
        assert_eq!(child_panic_status(&*closed), 141);
        assert_eq!(child_panic_status(&*full), 1);
        assert_eq!(child_panic_status(&*other), 101);
    }
}
