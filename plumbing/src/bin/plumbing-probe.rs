//! A tiny program for plumbing's own tests: it runs each piece the way a tour does, so the tests
//! can check exit statuses and messages through a real process. Not part of any tour.

use std::io::Read;
use std::os::fd::AsFd;
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
    /// Catch the stop signals (owning no names), fork a child that holds a pipe and says
    /// nothing, say "ready" and read the pipe: a stop signal kills the child, and the error
    /// this run returns is the child's death, not the stop
    StopMidRead,
    /// Panic, as a bug would
    Panic,
    /// Fork a child that panics; wait for it
    ChildPanic,
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
        Command::StopMidRead => return stop_mid_read(),
        Command::Panic => panic!("a bug in the probe"),
        Command::ChildPanic => {
            let mut child = plumbing::child::fork(|| panic!("a bug in the probe's child"))?;
            child.wait_ok(Duration::from_secs(10))?;
        }
    }
    Ok(())
}

/// What a tour's parent sees when Ctrl-C arrives while it waits on its child: the handler
/// SIGKILLs the child, the read returns end-of-file, and the error that unwinds is the child's
/// death. `program::main` must still exit 128 + the signal, saying it was stopped.
fn stop_mid_read() -> plumbing::Result {
    stop::catch(Owns::Nothing)?;
    let (from_child, child_end) = std::io::pipe().map_err(|e| format!("pipe: {e}"))?;
    // The child holds the write end and never writes: only its death ends our read. It leaves
    // on a stop signal of its own too (one sent to the whole process group).
    let child = plumbing::child::fork_closing(&[from_child.as_fd()], || {
        stop::pause(Duration::from_secs(10))?;
        Ok(())
    })?;
    drop(child_end); // ours: end-of-file must come when the child's copy closes
    stop::kill_on_stop(Some(child.pid().as_raw()));
    println!("ready");
    let mut heard = Vec::new();
    let mut from_child = from_child;
    let read = from_child.read_to_end(&mut heard);
    // Cleared before the child is reaped (by its Drop, on the way out).
    stop::kill_on_stop(None);
    read.map_err(|e| format!("read from child {}: {e}", child.pid()))?;
    Err(format!(
        "child {} closed its pipe after {} bytes: it died",
        child.pid(),
        heard.len()
    )
    .into())
}
