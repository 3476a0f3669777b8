//! signal-demo: signals as IPC — the kernel delivers a number and (almost) nothing else.
//!
//! Runs the lecture's "Signals: Communication With Almost No Data" and "Who Actually Delivers the
//! Signal?" on this machine. Every step starts a child (this same binary, hidden `child`
//! subcommand — see `child.rs` for why not fork), signals it by pid, and prints what was observed.
//!
//! ```text
//! cargo run -p signal-demo                          # the whole tour, steps 1-8
//! cargo run -p signal-demo -- --help                # the steps, one subcommand each
//! cargo run -p signal-demo -- pending --count 200   # step 5 with 200 signals of each kind
//! cargo run -p signal-demo -- send stop             # send one signal by name to a catching child
//! cargo run --release -p signal-demo -- cost --rounds 20000
//! ```
//!
//! Ctrl-C or SIGTERM at any moment: loops notice a flag within 100 ms, children are killed and
//! reaped by their owners' `Drop`, then the signal's default action is re-raised. A child whose
//! parent dies is killed by the kernel (PR_SET_PDEATHSIG).

mod catching;
mod child;
mod cost;
mod eintr;
mod pending;
mod sigchld;
mod table;
mod uncatchable;

use std::error::Error;
use std::fmt;
use std::process::ExitCode;
use std::sync::atomic::{AtomicUsize, Ordering};

use clap::{Parser, Subcommand};
use nix::sys::signal::Signal;

/// Every fallible step returns this; the message names the call that failed.
pub type Res<T = ()> = Result<T, Box<dyn Error>>;

#[derive(Parser)]
#[command(about = "Signals as IPC: a number delivered by the kernel, observed step by step")]
struct Cli {
    #[command(subcommand)]
    step: Option<Step>,
}

#[derive(Subcommand)]
enum Step {
    /// Step 1: the lecture's enum — number, default action, catchable or not
    Table,
    /// Step 2: a child catches SIGUSR1, SIGTERM (graceful exit) and SIGINT (re-raised)
    Catch,
    /// Step 3: SIGKILL and SIGSTOP cannot be caught; STOP, CONT and KILL on a busy child
    Uncatchable,
    /// Step 4: SIGCHLD tells the parent a child ended; reap it and read its status
    Sigchld,
    /// Step 5: N blocked SIGUSR1 coalesce into one; N SIGRTMIN queue, in order, with values
    Pending {
        /// Signals of each kind to send
        #[arg(long, default_value_t = 50, value_parser = clap::value_parser!(u32).range(1..=1000))]
        count: u32,
    },
    /// Step 6: a blocking read(2) interrupted by a handled signal, without and with SA_RESTART
    Eintr,
    /// Step 7: signal round trip (kill → sigtimedwait → kill back), same core and across cores
    Cost {
        /// Timed round trips per placement (after 100 warm-up ones)
        #[arg(long, default_value_t = 2000, value_parser = clap::value_parser!(u32).range(10..=1_000_000))]
        rounds: u32,
    },
    /// Step 8: who pays for a signal — CPU time of sender and receiver around kill()
    WhoPays {
        /// Round trips to take the median over
        #[arg(long, default_value_t = 500, value_parser = clap::value_parser!(u32).range(10..=1_000_000))]
        rounds: u32,
    },
    /// Send one signal by name (e.g. usr1, SIGTERM, stop) to a child that catches INT, TERM,
    /// USR1, USR2 and HUP, and report what happened to it
    Send {
        #[arg(value_parser = parse_signal)]
        signal: Signal,
    },
    /// Internal: the child side of a step (started by this program itself)
    #[command(hide = true)]
    Child {
        /// The pid of the parent that started us; we exit if it is already gone
        #[arg(long)]
        parent: i32,
        #[command(subcommand)]
        role: child::Role,
    },
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
fn parse_signal(name: &str) -> Result<Signal, String> {
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

/// The signal (SIGINT or SIGTERM) that asked us to stop, or 0.
static STOP_SIGNAL: AtomicUsize = AtomicUsize::new(0);

/// The run was interrupted by this signal; main re-raises it after cleanup.
#[derive(Debug)]
pub struct Interrupted(i32);

impl fmt::Display for Interrupted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "interrupted by signal {}", self.0)
    }
}

impl Error for Interrupted {}

/// Err(Interrupted) once Ctrl-C or SIGTERM arrived. Every wait loop calls this at least every
/// 100 ms, so the error unwinds through the owners (children are killed and reaped) promptly.
pub fn check_stop() -> Res {
    match STOP_SIGNAL.load(Ordering::SeqCst) {
        0 => Ok(()),
        signal => Err(Box::new(Interrupted(signal as i32))),
    }
}

fn run(cli: Cli) -> Res {
    if let Some(Step::Child { parent, role }) = cli.step {
        // The child keeps default dispositions: it is the one being signalled.
        return child::run_role(parent, role);
    }
    // Ctrl-C / SIGTERM only set a flag here; loops check it and unwind (see check_stop).
    for signal in [libc::SIGINT, libc::SIGTERM] {
        signal_hook::flag::register_usize(signal, &STOP_SIGNAL, signal as usize)
            .map_err(|e| format!("register handler for signal {signal}: {e}"))?;
    }
    match cli.step {
        None => tour(),
        Some(Step::Table) => table::run(1),
        Some(Step::Catch) => catching::run(2),
        Some(Step::Uncatchable) => uncatchable::run(3),
        Some(Step::Sigchld) => sigchld::run(4),
        Some(Step::Pending { count }) => pending::run(5, count),
        Some(Step::Eintr) => eintr::run(6),
        Some(Step::Cost { rounds }) => cost::run_round_trips(7, rounds),
        Some(Step::WhoPays { rounds }) => cost::run_who_pays(8, rounds),
        Some(Step::Send { signal }) => catching::run_send(signal),
        Some(Step::Child { .. }) => Ok(()), // handled above
    }
}

fn tour() -> Res {
    println!(
        "signal-demo: signals as IPC, observed on this machine (pid {})",
        std::process::id()
    );
    table::run(1)?;
    catching::run(2)?;
    uncatchable::run(3)?;
    sigchld::run(4)?;
    pending::run(5, 50)?;
    eintr::run(6)?;
    cost::run_round_trips(7, 2000)?;
    cost::run_who_pays(8, 500)?;
    println!("\nDone: every child was reaped; nothing is left behind.");
    Ok(())
}

/// Parses the command line; a usage error is ONE line on stderr and exit status 2.
fn parse_cli() -> Result<Cli, ExitCode> {
    use clap::error::ErrorKind::{
        DisplayHelp, DisplayHelpOnMissingArgumentOrSubcommand, DisplayVersion,
    };
    Cli::try_parse().map_err(|err| {
        if matches!(
            err.kind(),
            DisplayHelp | DisplayHelpOnMissingArgumentOrSubcommand | DisplayVersion
        ) {
            let _ = err.print();
            return ExitCode::SUCCESS;
        }
        // clap's message up to its first blank line (before "Usage:"), joined into one line.
        let text = err.render().to_string();
        let lines: Vec<&str> = text
            .lines()
            .take_while(|l| !l.trim().is_empty())
            .map(str::trim)
            .collect();
        let message = lines.join(" ");
        eprintln!(
            "signal-demo: {}; see --help",
            message.trim_start_matches("error: ")
        );
        ExitCode::from(2)
    })
}

/// `signal-demo | head` closes our stdout early, and println! then panics. The unwinding still
/// runs every owner's Drop, so nothing is left behind: say it in one line, not a backtrace.
fn quiet_when_stdout_closes() {
    let default_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let message = info
            .payload()
            .downcast_ref::<String>()
            .map_or("", String::as_str);
        if message.starts_with("failed printing to stdout") {
            eprintln!("signal-demo: stdout was closed; stopping");
        } else {
            default_hook(info);
        }
    }));
}

fn main() -> ExitCode {
    quiet_when_stdout_closes();
    let cli = match parse_cli() {
        Ok(cli) => cli,
        Err(code) => return code,
    };
    let is_child = matches!(cli.step, Some(Step::Child { .. }));
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            // Ctrl-C in a terminal also reaches the children, so the error that unwound us may
            // be a child's death rather than Interrupted: the flag decides either way.
            let stop = match STOP_SIGNAL.load(Ordering::SeqCst) {
                _ if is_child => None,
                0 => err.downcast_ref::<Interrupted>().map(|i| i.0),
                signal => Some(signal as i32),
            };
            if let Some(signal) = stop {
                // Children are already killed and reaped (their owners dropped on the way out).
                // End the way the signal would have ended us, so the shell sees 130 / 143.
                eprintln!("signal-demo: interrupted, children reaped, exiting");
                let _ = signal_hook::low_level::emulate_default_handler(signal);
                return ExitCode::from(128 + signal as u8);
            }
            let who = if is_child {
                "signal-demo (child)"
            } else {
                "signal-demo"
            };
            eprintln!("{who}: {err}");
            ExitCode::FAILURE
        }
    }
}
