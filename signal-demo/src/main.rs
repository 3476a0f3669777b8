//! signal-demo: the lecture's "Signals: Communication With Almost No Data" and "Who Actually
//! Delivers the Signal?", run on this machine. A signal is a number the kernel delivers: every
//! step starts a child (this same program, in a role), signals it by pid and prints what it
//! observed. Ctrl-C at any moment: children are killed and reaped, the exit status is 130.
//!
//! Usage:
//!     cargo run -p signal-demo                          # the whole tour, steps 1 to 9
//!     cargo run -p signal-demo -- pending --count 200   # one step, by name or number (`-- 5`)
//!     cargo run -p signal-demo -- send stop             # one signal by name to a catcher
//!     cargo run --release -p signal-demo -- cost --rounds 20000
//!     cargo run -p signal-demo -- --help                # lists the steps
//!
//! See also: signal(7), sigaction(2), kill(2), sigqueue(3), sigtimedwait(2), and `examples/`
//! (`cargo run -p signal-demo --example catch_signals`): the lecture's snippets, standalone.

mod roles;
mod tour;

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use nix::sys::signal::Signal;
use nix::unistd::Pid;
use plumbing::Result;
use plumbing::stop::{self, Owns};

fn main() -> ExitCode {
    plumbing::program::main::<Cli>("signal-demo", run)
}

/// The whole tour, each step with its default size.
fn tour() -> Result {
    println!(
        "signal-demo: signals as IPC, observed on this machine (pid {})",
        std::process::id()
    );
    tour::table::run(1)?; // 1. signals are an enum: numbers, default actions, catchable?
    tour::catch::run(2)?; // 2. catching: USR1 handled, TERM graceful, INT re-raised
    tour::uncatchable::run(3)?; // 3. SIGKILL and SIGSTOP: no handler; STOP, CONT, KILL
    tour::sigchld::run(4)?; // 4. SIGCHLD: told when a child ends, then reap it
    tour::pending::run(5, 50)?; // 5. 50 blocked SIGUSR1 are one bit; 50 SIGRTMIN queue
    tour::eintr::run(6)?; // 6. EINTR in read(2), without and with SA_RESTART
    tour::handler_safety::run(7, 1000)?; // 7. a handler that takes a lock
    tour::cost::run(8, 2000)?; // 8. a signal round trip, same core and across cores
    tour::who_pays::run(9, 500)?; // 9. who pays: CPU time of sender and receiver
    plumbing::verdict::print(); // the lecture's claims, each with this run's verdict
    println!("\nDone: every child was reaped; nothing is left behind.");
    Ok(())
}

/// The tour, one step, `send`, or (hidden) a child's role.
fn run(cli: Cli) -> Result {
    if let Some(Step::Child { parent, role }) = cli.step {
        // The child keeps the default dispositions: it is the one being signalled.
        return play(parent, role).map_err(|e| format!("child {}: {e}", std::process::id()).into());
    }
    // Stop signals only set a flag here; loops check it and unwind through the owners.
    stop::catch(Owns::Nothing)?;
    match cli.step {
        None => tour(),
        Some(Step::Send { signal }) => roles::send::run(signal),
        Some(step) => {
            one_step(step)?;
            // A step alone ends with the claims it checked, as the tour does.
            plumbing::verdict::print();
            Ok(())
        }
    }
}

/// One step of the tour, by itself, with the number it has in the tour.
fn one_step(step: Step) -> Result {
    match step {
        Step::Table => tour::table::run(1),
        Step::Catch => tour::catch::run(2),
        Step::Uncatchable => tour::uncatchable::run(3),
        Step::Sigchld => tour::sigchld::run(4),
        Step::Pending { count } => tour::pending::run(5, count),
        Step::Eintr => tour::eintr::run(6),
        Step::HandlerSafety { signals } => tour::handler_safety::run(7, signals),
        Step::Cost { rounds } => tour::cost::run(8, rounds),
        Step::WhoPays { rounds } => tour::who_pays::run(9, rounds),
        Step::Send { .. } | Step::Child { .. } => Ok(()), // run() plays these
    }
}

/// A child's side of a step: die with the parent that started us, then play the role.
fn play(parent: i32, role: Role) -> Result {
    // The kernel SIGKILLs us when the parent dies (strictly: when the parent *thread* that
    // started us exits; the tour starts children from its only thread).
    plumbing::child::die_with_parent(parent)?;
    match role {
        Role::Catcher => roles::catcher::run(),
        Role::Worker => roles::worker::run(),
        Role::Exit { code } => roles::exit::run(code),
        Role::Sleeper => roles::sleeper::run(),
        Role::Pending => roles::pending::run(),
        Role::Eintr { restart } => roles::eintr::run(restart),
        Role::Handler { safe } => roles::handler::run(safe),
        Role::Doorbell { rounds } => roles::doorbell::run(Pid::from_raw(parent), rounds),
        Role::Echo => roles::echo::run(),
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
    #[command(alias = "1")]
    Table,
    /// Step 2: catching USR1, TERM (graceful exit), INT (re-raised)
    #[command(alias = "2")]
    Catch,
    /// Step 3: SIGKILL and SIGSTOP cannot be caught; STOP, CONT, KILL
    #[command(alias = "3")]
    Uncatchable,
    /// Step 4: SIGCHLD tells the parent a child ended; reap it
    #[command(alias = "4")]
    Sigchld,
    /// Step 5: N blocked SIGUSR1 are one bit; N SIGRTMIN queue
    #[command(alias = "5")]
    Pending {
        /// Signals of each kind to send
        #[arg(long, default_value_t = 50, value_parser = clap::value_parser!(u32).range(1..=1000))]
        count: u32,
    },
    /// Step 6: EINTR in read(2), without and with SA_RESTART
    #[command(alias = "6")]
    Eintr,
    /// Step 7: a locking handler hangs; one that only records cannot
    #[command(alias = "7")]
    HandlerSafety {
        /// SIGRTMIN to send each child
        #[arg(long, default_value_t = 1000, value_parser = clap::value_parser!(u32).range(10..=10_000))]
        signals: u32,
    },
    /// Step 8: a signal round trip, same core and across cores
    #[command(alias = "8")]
    Cost {
        /// Timed round trips per placement
        #[arg(long, default_value_t = 2000, value_parser = clap::value_parser!(u32).range(10..=1_000_000))]
        rounds: u32,
    },
    /// Step 9: who pays: CPU time of sender and receiver
    #[command(alias = "9")]
    WhoPays {
        /// Round trips to take the median over
        #[arg(long, default_value_t = 500, value_parser = clap::value_parser!(u32).range(10..=1_000_000))]
        rounds: u32,
    },
    /// Send one signal by name (usr1, SIGTERM, stop...) to a catcher
    ///
    /// The child catches INT, TERM, USR1, USR2 and HUP; says what happened.
    Send {
        #[arg(value_parser = roles::send::parse_signal)]
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

/// What a child does; each is the other half of a step, in its own file under `roles/`.
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
    #[command(alias = "5")]
    Pending,
    /// Step 6: blocks in read(2) on stdin with a SIGUSR1 handler
    #[command(alias = "6")]
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
    /// Step 8: writes back every byte it reads on stdin, until end-of-file
    Echo,
}
