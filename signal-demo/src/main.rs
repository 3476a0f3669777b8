//! signal-demo: signals as IPC — the kernel delivers a number and (almost) nothing else.
//!
//! Runs the lecture's "Signals: Communication With Almost No Data" and "Who Actually Delivers the
//! Signal?" on this machine. Every step starts a child (this same binary, hidden `child`
//! subcommand — see `role.rs` for why not fork), signals it by pid, and prints what was observed.
//!
//! ```text
//! cargo run -p signal-demo                          # the whole tour, steps 1-9
//! cargo run -p signal-demo -- --help                # the steps, one subcommand each
//! cargo run -p signal-demo -- pending --count 200   # step 5 with 200 signals of each kind
//! cargo run -p signal-demo -- send stop             # send one signal by name to a catching child
//! cargo run --release -p signal-demo -- cost --rounds 20000
//! ```
//!
//! Files: one per step, named after it (8 and 9 share `cost.rs`), holding the step and the role
//! its child plays; `role.rs` starts those children; `lib.rs` is the doorbell `compare` times.
//!
//! Ctrl-C (or SIGTERM, SIGHUP, SIGQUIT) at any moment: loops notice a flag within 100 ms,
//! children are killed and reaped by their owners' `Drop`, and the exit status is the signal's
//! (130 for Ctrl-C). A child whose parent dies is killed by the kernel (PR_SET_PDEATHSIG).
//!
//! Code to copy: the lecture's snippets stand alone in `examples/`, one file each,
//! using nothing of this workspace (`signal_enum`, `catch_signals`, `send_signal`):
//! `cargo run -p signal-demo --example NAME`.

mod catching;
mod cost;
mod eintr;
mod handler_safety;
mod pending;
mod role;
mod sigchld;
mod table;
mod uncatchable;

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use nix::sys::signal::Signal;
use nix::unistd::Pid;
use plumbing::stop::{self, Owns};
use plumbing::{Result, child, program};

fn main() -> ExitCode {
    program::main::<Cli>("signal-demo", run)
}

/// The whole tour, each step with its default size.
fn tour() -> Result {
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
    handler_safety::run(7, 1000)?;
    cost::run_round_trips(8, 2000)?;
    cost::run_who_pays(9, 500)?;
    println!("\nDone: every child was reaped; nothing is left behind.");
    Ok(())
}

fn run(cli: Cli) -> Result {
    if let Some(Step::Child { parent, role }) = cli.step {
        // The child keeps the default dispositions: it is the one being signalled.
        return play(parent, role).map_err(|e| format!("child {}: {e}", std::process::id()).into());
    }
    // Stop signals only set a flag here; loops check it and unwind through the owners.
    stop::catch(Owns::Nothing)?;
    match cli.step {
        None => tour(),
        Some(Step::Table) => table::run(1),
        Some(Step::Catch) => catching::run(2),
        Some(Step::Uncatchable) => uncatchable::run(3),
        Some(Step::Sigchld) => sigchld::run(4),
        Some(Step::Pending { count }) => pending::run(5, count),
        Some(Step::Eintr) => eintr::run(6),
        Some(Step::HandlerSafety { signals }) => handler_safety::run(7, signals),
        Some(Step::Cost { rounds }) => cost::run_round_trips(8, rounds),
        Some(Step::WhoPays { rounds }) => cost::run_who_pays(9, rounds),
        Some(Step::Send { signal }) => catching::run_send(signal),
        Some(Step::Child { .. }) => Ok(()), // played above
    }
}

/// A child's side of a step: die with the parent that started us, then play the role.
fn play(parent: i32, role: Role) -> Result {
    // The kernel SIGKILLs us when the parent dies (strictly: when the parent *thread* that
    // started us exits; the tour starts children from its only thread).
    child::die_with_parent(parent)?;
    match role {
        Role::Catcher => catching::catcher(),
        Role::Worker => uncatchable::worker(),
        Role::Exit { code } => sigchld::exit_with(code),
        Role::Sleeper => sigchld::sleeper(),
        Role::Pending => pending::receiver(),
        Role::Eintr { restart } => eintr::reader(restart),
        Role::Handler { safe } => handler_safety::victim(safe),
        Role::Doorbell { rounds } => cost::answer(Pid::from_raw(parent), rounds),
    }
}

#[derive(Parser)]
#[command(
    after_help = "Code to copy, one lecture snippet per file (examples/):\n  cargo run -p signal-demo --example signal_enum\n  cargo run -p signal-demo --example catch_signals\n  cargo run -p signal-demo --example send_signal",
    about = "Signals as IPC: a number delivered by the kernel, observed step by step"
)]
struct Cli {
    #[command(subcommand)]
    step: Option<Step>,
}

#[derive(Subcommand)]
enum Step {
    /// Step 1: the lecture's enum, with numbers and default actions
    Table,
    /// Step 2: catching USR1, TERM (graceful exit), INT (re-raised)
    Catch,
    /// Step 3: SIGKILL and SIGSTOP cannot be caught; STOP, CONT, KILL
    Uncatchable,
    /// Step 4: SIGCHLD tells the parent a child ended; reap it
    Sigchld,
    /// Step 5: N blocked SIGUSR1 are one bit; N SIGRTMIN queue
    Pending {
        /// Signals of each kind to send
        #[arg(long, default_value_t = 50, value_parser = clap::value_parser!(u32).range(1..=1000))]
        count: u32,
    },
    /// Step 6: EINTR in read(2), without and with SA_RESTART
    Eintr,
    /// Step 7: a locking handler hangs; one that only records cannot
    HandlerSafety {
        /// SIGRTMIN to send each child
        #[arg(long, default_value_t = 1000, value_parser = clap::value_parser!(u32).range(10..=10_000))]
        signals: u32,
    },
    /// Step 8: a signal round trip, same core and across cores
    Cost {
        /// Timed round trips per placement
        #[arg(long, default_value_t = 2000, value_parser = clap::value_parser!(u32).range(10..=1_000_000))]
        rounds: u32,
    },
    /// Step 9: who pays: CPU time of sender and receiver
    WhoPays {
        /// Round trips to take the median over
        #[arg(long, default_value_t = 500, value_parser = clap::value_parser!(u32).range(10..=1_000_000))]
        rounds: u32,
    },
    /// Send one signal by name (usr1, SIGTERM, stop...) to a catcher
    ///
    /// The child catches INT, TERM, USR1, USR2 and HUP; says what happened.
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
        role: Role,
    },
}

/// What a child does; each is the other half of one step, and lives in that step's file.
#[derive(Subcommand, Clone, Copy)]
enum Role {
    /// Step 2 / send: catches INT, TERM, USR1, USR2, HUP with signal-hook's iterator
    Catcher,
    /// Step 3: counts and prints its progress every 10 ms
    Worker,
    /// Step 4: exits at once with this status
    Exit {
        #[arg(long)]
        code: i32,
    },
    /// Step 4: waits until a signal ends it
    Sleeper,
    /// Step 5: blocks SIGUSR1 and SIGRTMIN, counts them after the parent says "sent"
    Pending,
    /// Step 6: blocks in read(2) on stdin with a SIGUSR1 handler
    Eintr {
        #[arg(long)]
        restart: bool,
    },
    /// Step 7: logs under a lock, from its handler too (unless --safe), reporting progress
    Handler {
        #[arg(long)]
        safe: bool,
    },
    /// Steps 8-9: answers each doorbell ring with a ring back, `rounds` times
    Doorbell {
        #[arg(long)]
        rounds: u64,
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
fn parse_signal(name: &str) -> std::result::Result<Signal, String> {
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
