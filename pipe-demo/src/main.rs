//! pipe-demo: the lecture's "Pipes" section, run for real on this machine. A pipe is a
//! bounded kernel buffer with a write end and a read end; each step makes the kernel do
//! something and prints what it observed: what `cat` echoed, when the reader saw end-of-file,
//! how many bytes fit before the writer had to wait, how long it waited. It ends with the
//! lecture's claims about pipes, each CONFIRMED, QUALIFIED or REFUTED by what this run saw.
//! Ctrl-C ends it at once: it creates nothing named, and its children die with it.
//!
//! Usage:
//!     cargo run -p pipe-demo                # the whole tour, steps 1 to 7
//!     cargo run -p pipe-demo -- buffer      # one step, by name or by number (`-- 3`)
//!     cargo run -p pipe-demo -- buffer --pipe-size 262144
//!     cargo run -p pipe-demo -- pipeline /usr/include
//!     cargo run -p pipe-demo -- setup       # a step alone ends with its own claims
//!     cargo run -p pipe-demo -- --help      # lists the steps
//!
//! See also: pipe(7), fcntl(2) F_GETPIPE_SZ / F_SETPIPE_SZ, `fifo-demo` for a pipe with a
//! name, and the lecture's snippets to copy in `examples/` (`--example NAME`).

mod tour;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use plumbing::Result;

fn main() -> ExitCode {
    plumbing::program::main::<Cli>("pipe-demo", run)
}

/// The whole tour: steps 1 to 7 in order, then the lecture's claims, checked.
fn tour() -> Result {
    tour::cat::run()?; // 1. a pipe to a child's stdin
    tour::fork::run()?; // 2. pipe() + fork(): parent writes, child reads
    tour::buffer::run(None)?; // 3. a bounded buffer: who waits, and how long
    tour::broken::run()?; // 4. no reader left: EPIPE, and SIGPIPE
    tour::pipeline::run(None)?; // 5. `ls | grep .rs | wc -l` by hand
    tour::copy::run()?; // 6. a copy in the kernel, and no name
    tour::setup::run() // 7. what a pipe costs to set up
}

/// The tour, or the one step named on the command line; either ends with the claims it
/// checked.
fn run(cli: Cli) -> Result {
    match cli.step {
        None => tour(),
        Some(Step::Cat) => tour::cat::run(),
        Some(Step::Fork) => tour::fork::run(),
        Some(Step::Buffer { pipe_size }) => tour::buffer::run(pipe_size),
        Some(Step::Broken) => tour::broken::run(),
        Some(Step::Pipeline { dir }) => tour::pipeline::run(dir),
        Some(Step::Copy) => tour::copy::run(),
        Some(Step::Setup) => tour::setup::run(),
    }?;
    plumbing::verdict::print();
    Ok(())
}

#[derive(Parser)]
#[command(
    after_help = "Code to copy, one lecture snippet per file (examples/):\n  cargo run -p pipe-demo --example cat_temperature\n  cargo run -p pipe-demo --example pipe_fork\n  cargo run -p pipe-demo --example pipeline",
    about = "Pipes, run for real: each step prints what the kernel did on this machine"
)]
struct Cli {
    /// The step to run; without one, the whole tour runs.
    #[command(subcommand)]
    step: Option<Step>,
}

#[derive(Subcommand)]
enum Step {
    /// 1. Spawn `cat` with a piped stdin and write "temperature: 42" into it
    #[command(alias = "1")]
    Cat,
    /// 2. pipe() + fork(): the parent writes, the child reads until end-of-file
    #[command(alias = "2")]
    Fork,
    /// 3. The bounded buffer: its capacity, a blocked writer, a blocked reader, F_SETPIPE_SZ
    #[command(alias = "3")]
    Buffer {
        /// Capacity in bytes to ask for with F_SETPIPE_SZ [default: /proc/sys/fs/pipe-max-size]
        #[arg(long, value_parser = tour::buffer::parse_pipe_size, allow_negative_numbers = true)]
        pipe_size: Option<usize>,
    },
    /// 4. Broken pipe: writing when no reader is left (EPIPE, and what SIGPIPE would do)
    #[command(alias = "4")]
    Broken,
    /// 5. `ls | grep .rs | wc -l`, built by hand from two pipes and three processes
    #[command(alias = "5")]
    Pipeline {
        /// Directory to list [default: this crate's src/]
        dir: Option<PathBuf>,
    },
    /// 6. A copy in the kernel, and no name (yet /proc reaches the pipe)
    #[command(alias = "6")]
    Copy,
    /// 7. What pipe() + close costs, beside socketpair() and msgget()
    #[command(alias = "7")]
    Setup,
}
