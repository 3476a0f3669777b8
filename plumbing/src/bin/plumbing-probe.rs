//! A tiny program for plumbing's own tests: it runs each piece the way a tour does, so the tests
//! can check exit statuses and messages through a real process. Not part of any tour.

use std::time::Duration;

use clap::{Parser, Subcommand};
use nix::sys::stat::Mode;
use nix::unistd::mkfifo;
use plumbing::names::PrivateDir;
use plumbing::procfs::status_field;
use plumbing::stop::{self, Owns};

#[derive(Parser)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Print `lines` numbered lines
    Print { lines: u64 },
    /// Fork a child that prints `lines` lines; wait for it
    ChildPrint { lines: u64 },
    /// Fail with an error
    Fail,
    /// Catch the stop signals, say "ready", and wait up to 10 s for one
    Wait,
    /// As `wait`, holding a FIFO in a private directory: print its path, then "ready"
    Hold {
        /// Signals (by number) the program uses itself: not turned into the stop flag
        #[arg(long)]
        uses: Vec<i32>,
    },
    /// Catch the stop signals, fork a child that restores their defaults, and print the
    /// SigCgt (caught signals) line of /proc/PID/status of each: parent, then child
    CaughtMasks,
}

fn main() -> std::process::ExitCode {
    plumbing::program::main::<Cli>("plumbing-probe", run)
}

fn run(cli: Cli) -> plumbing::Result {
    match cli.command {
        Command::Print { lines } => (0..lines).for_each(|i| println!("line {i}")),
        Command::ChildPrint { lines } => {
            let mut child = plumbing::child::fork(move || {
                (0..lines).for_each(|i| println!("child line {i}"));
                Ok(())
            })?;
            child.wait_ok(Duration::from_secs(10))?;
            println!("parent: child done");
        }
        Command::Fail => return Err("open /nowhere: No such file or directory".into()),
        Command::Wait => {
            stop::catch(Owns::Objects)?;
            println!("ready");
            stop::pause(Duration::from_secs(10))?;
            return Err("no signal came within 10 s".into());
        }
        Command::Hold { uses } => {
            stop::catch_except(Owns::Objects, &uses)?;
            let dir = PrivateDir::create("ipc-tour-probe-")?;
            let fifo = dir.path().join("held.fifo");
            mkfifo(&fifo, Mode::from_bits_truncate(0o600)).map_err(|e| format!("mkfifo: {e}"))?;
            println!("{}", fifo.display());
            println!("ready");
            stop::pause(Duration::from_secs(10))?;
            return Err("no signal came within 10 s".into());
        }
        Command::CaughtMasks => {
            stop::catch(Owns::Nothing)?;
            println!("{}", status_field(std::process::id() as i32, "SigCgt")?);
            let mut child = plumbing::child::fork(|| {
                stop::restore_defaults().map_err(|e| format!("restore_defaults: {e}"))?;
                println!("{}", status_field(std::process::id() as i32, "SigCgt")?);
                Ok(())
            })?;
            child.wait_ok(Duration::from_secs(10))?;
        }
    }
    Ok(())
}
