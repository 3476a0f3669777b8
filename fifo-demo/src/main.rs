//! fifo-demo: a FIFO is a pipe with a name in the filesystem, so programs with no common
//! ancestor meet at a path. The tour's readers and writers are fresh copies of this binary
//! that share nothing but that path. Mirrors the lecture section "FIFOs: Named Pipes".
//!
//! Usage (`read` stops at EOF, when the last writer has closed the FIFO):
//! ```text
//! cargo run -p fifo-demo                # the whole tour, steps 1 to 9, and the verdicts
//! cargo run -p fifo-demo -- eof         # one step, by name or by number (`-- 5`)
//! cargo run -p fifo-demo -- --help      # the steps, and the roles read, write, make
//! terminal 1:  mkfifo -m 600 /tmp/sensor_pipe
//!              cargo run -p fifo-demo -- read /tmp/sensor_pipe
//! terminal 2:  cargo run -p fifo-demo -- write /tmp/sensor_pipe "temperature: 42" --count 3
//! afterwards:  rm /tmp/sensor_pipe
//! ```
//! See also: fifo(7), mkfifo(3), open(2), pipe(7); `examples/` (fifo_reader, fifo_writer).

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, value_parser};
use plumbing::stop::{self, Owns};

use roles::lines::Line;
use tour::mkfifo::MadeFifo;

mod roles;
mod tour;

fn main() -> ExitCode {
    plumbing::program::main::<Cli>("fifo-demo", run)
}

/// The tour: owns the FIFO, starts unrelated readers and writers, reports what they observed,
/// and ends with the lecture's claims, each judged by this run's numbers.
/// Ctrl-C or SIGTERM stops its children, removes the FIFO's directory and exits (130 / 143);
/// a tour killed by SIGKILL takes its children with it and leaves the directory, which the
/// next tour removes.
fn tour() -> plumbing::Result {
    stop::catch(Owns::Objects)?; // Ctrl-C ends the steps' waits, so the FIFO's owner runs
    println!("fifo-demo: a FIFO is a pipe with a name (lecture: \"FIFOs: Named Pipes\")");
    let made = tour::mkfifo::run()?; // 1. mkfifo in a private directory; stat; PIPE_BUF
    tour::open_blocks::run(&made)?; // 2. open() blocks until the other end is opened
    tour::atomic_writes::run(&made)?; // 3. three writers: lines of PIPE_BUF bytes arrive whole
    tour::interleaved_writes::run(&made)?; // 4. writes above PIPE_BUF may interleave
    tour::eof::run(&made)?; // 5. EOF comes when the last writer closes
    tour::outlives::run(&made)?; // 6. the name outlives the process that made it
    tour::removal::run(made)?; // 7. the FIFO is removed with its directory
    tour::limits::run()?; // 8. still a pipe: one way, and a byte stream
    tour::users::run() // 9. another user at the FIFO: its mode decides
}

/// The tour, one step, or a role. The tour and a step end with the claims they checked
/// ("The lecture, checked on this machine"); a role checks none, and prints no such block.
fn run(cli: Cli) -> plumbing::Result {
    run_command(cli)?;
    plumbing::verdict::print();
    Ok(())
}

fn run_command(cli: Cli) -> plumbing::Result {
    match cli.command.unwrap_or(Command::Tour) {
        Command::Tour => tour(),
        Command::Mkfifo => {
            stop::catch(Owns::Objects)?;
            tour::mkfifo::run().map(drop) // dropped: removed with its directory at once
        }
        Command::OpenBlocks => alone(|made| tour::open_blocks::run(&made)),
        Command::AtomicWrites => alone(|made| tour::atomic_writes::run(&made)),
        Command::InterleavedWrites => alone(|made| tour::interleaved_writes::run(&made)),
        Command::Eof => alone(|made| tour::eof::run(&made)),
        Command::Outlives => alone(|made| tour::outlives::run(&made)),
        Command::Removal => alone(tour::removal::run),
        Command::Limits => {
            stop::catch(Owns::Objects)?;
            tour::limits::run()
        }
        Command::Users => {
            stop::catch(Owns::Objects)?;
            tour::users::run()
        }
        Command::Read {
            path,
            delay_ms,
            show,
            parent_pid,
        } => {
            plumbing::child::die_with_tour(parent_pid)?;
            roles::read::run(&path, delay_ms, show, roles::indent(parent_pid))
        }
        Command::Write {
            path,
            msg,
            count,
            bytes,
            fill,
            interval_ms,
            parent_pid,
        } => {
            plumbing::child::die_with_tour(parent_pid)?;
            let line = Line {
                msg: &msg,
                bytes: bytes.unwrap_or(0),
                fill,
            };
            let indent = roles::indent(parent_pid);
            roles::write::run(&path, &line, count, interval_ms, indent)
        }
        Command::Make { path, parent_pid } => {
            plumbing::child::die_with_tour(parent_pid)?;
            roles::make::run(&path, roles::indent(parent_pid))
        }
    }
}

/// One step on its own: it gets the FIFO that step 1 would have made, made without step 1's
/// report, and removed when the step ends.
fn alone(step: impl FnOnce(MadeFifo) -> plumbing::Result) -> plumbing::Result {
    stop::catch(Owns::Objects)?;
    step(MadeFifo::quietly()?)
}

#[derive(Parser)]
#[command(
    version,
    about = "FIFOs (named pipes): unrelated programs meet at a path"
)]
#[command(after_help = "By hand, in two terminals (in the workspace):\n  \
    1: mkfifo -m 600 /tmp/sensor_pipe && cargo run -p fifo-demo -- read /tmp/sensor_pipe\n  \
    2: cargo run -p fifo-demo -- write /tmp/sensor_pipe \"temperature: 42\" --count 3\n\
    `read` stops when the last writer has closed the FIFO; rm /tmp/sensor_pipe when done.\n\
    The tour makes its FIFO in a private directory under $TMPDIR (default /tmp).\n\nCode to copy, one lecture snippet per file (examples/):\n  cargo run -p fifo-demo --example fifo_reader\n  cargo run -p fifo-demo --example fifo_writer")]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Run the whole tour (the default)
    Tour,
    /// 1. mkfifo: a name in the filesystem; what stat says of it; PIPE_BUF
    #[command(alias = "1")]
    Mkfifo,
    /// 2. open() blocks until both ends are open
    #[command(alias = "2")]
    OpenBlocks,
    /// 3. Three writers, one reader: writes of at most PIPE_BUF bytes arrive whole
    #[command(alias = "3")]
    AtomicWrites,
    /// 4. Writes larger than PIPE_BUF: the kernel may split and interleave them
    #[command(alias = "4")]
    InterleavedWrites,
    /// 5. EOF comes when the last writer closes its end
    #[command(alias = "5")]
    Eof,
    /// 6. The FIFO outlives the process that made it
    #[command(alias = "6")]
    Outlives,
    /// 7. Removing the FIFO and its directory
    #[command(alias = "7")]
    Removal,
    /// 8. Still a pipe: one way, and a byte stream (two writes, one read)
    #[command(alias = "8")]
    Limits,
    /// 9. Another user at the FIFO: refused at mode 0600, let in at 0622 (needs root)
    #[command(alias = "9")]
    Users,
    /// Open the FIFO at PATH for reading; print and check lines until every writer has closed it
    Read {
        /// An existing FIFO (make one with `mkfifo -m 600 PATH`)
        path: PathBuf,
        /// Wait this long after open() before reading (a slow reader), 0..=60000
        #[arg(long, default_value_t = 0, value_parser = value_parser!(u64).range(0..=60_000))]
        delay_ms: u64,
        /// Print at most this many received lines (the summary is always printed)
        #[arg(long, default_value_t = 20, value_parser = value_parser!(u64).range(0..=1_000_000))]
        show: u64,
        #[arg(long, hide = true)]
        parent_pid: Option<u32>,
    },
    /// Open the FIFO at PATH for writing; write MSG as numbered lines, one write() per line
    Write {
        /// An existing FIFO (make one with `mkfifo -m 600 PATH`)
        path: PathBuf,
        /// The message, e.g. "temperature: 42" (no '#', no newline)
        #[arg(value_parser = parse_msg)]
        msg: String,
        /// How many lines to write, 1..=1000000
        #[arg(long, default_value_t = 1, value_parser = value_parser!(u64).range(1..=1_000_000))]
        count: u64,
        /// Pad each line with FILL to this many bytes, 1..=1048576 (above PIPE_BUF a write
        /// is no longer atomic)
        #[arg(long, value_parser = value_parser!(u64).range(1..=1_048_576))]
        bytes: Option<u64>,
        /// The padding: one printable ASCII character other than '#'
        #[arg(long, default_value = ".", value_parser = parse_fill)]
        fill: u8,
        /// Pause between lines, 0..=60000 ms
        #[arg(long, default_value_t = 0, value_parser = value_parser!(u64).range(0..=60_000))]
        interval_ms: u64,
        #[arg(long, hide = true)]
        parent_pid: Option<u32>,
    },
    /// Make a FIFO at PATH, mode 0600 whatever the umask, and exit (like `mkfifo -m 600 PATH`)
    Make {
        /// Where to make it; fails if something exists there
        path: PathBuf,
        #[arg(long, hide = true)]
        parent_pid: Option<u32>,
    },
}

fn parse_msg(msg: &str) -> Result<String, String> {
    if msg.contains(['#', '\n']) {
        return Err("a message may not contain '#' or a newline (they frame each line)".into());
    }
    Ok(msg.to_string())
}

fn parse_fill(fill: &str) -> Result<u8, String> {
    match fill.as_bytes() {
        [b] if b.is_ascii_graphic() && *b != b'#' => Ok(*b),
        _ => Err("expected one printable ASCII character other than '#'".into()),
    }
}
