//! fifo-demo: a FIFO is a pipe with a name in the filesystem, so two programs with no common
//! ancestor can meet at a path. Mirrors the lecture section "FIFOs: Named Pipes".
//!
//! The whole tour, in one terminal. It starts fresh copies of this binary as the readers and
//! writers (`fifo-demo read PATH`, `fifo-demo write PATH MSG`); they inherit no descriptor of
//! the tour, so they meet only through the FIFO's path, like programs started by two users:
//!
//! ```text
//! cargo run -p fifo-demo
//! ```
//!
//! By hand, in two terminals:
//!
//! ```text
//! terminal 1:  mkfifo -m 600 /tmp/sensor_pipe
//!              cargo run -p fifo-demo -- read /tmp/sensor_pipe
//! terminal 2:  cargo run -p fifo-demo -- write /tmp/sensor_pipe "temperature: 42" --count 3
//! afterwards:  rm /tmp/sensor_pipe
//! ```
//!
//! `read` stops at EOF, when the last writer has closed the FIFO; start it again for the next
//! writer (any program can write: `echo "temperature: 17" > /tmp/sensor_pipe`). A FIFO left by
//! a killed run is harmless: it keeps no data once every end is closed, so reuse it or `rm` it.
//!
//! Files: this one holds the command line and the tour's steps in order, each in its own file
//! (`src/mkfifo.rs` ... `src/removal.rs`); `src/roles.rs` the `read` and `write` roles,
//! `src/lines.rs` their line format and the reader's tally; `src/processes.rs` starts a step's
//! readers and writers; `src/lib.rs` the FIFO pair that `compare` measures.
//!
//! Signals: the tour owns the FIFO's directory. Ctrl-C or SIGTERM stops its children, removes
//! the directory and exits (130 / 143). `read` and `write` own no kernel object, so they keep
//! the default action: Ctrl-C ends them at once, even while blocked in open(). The roles the
//! tour starts die with it (SIGKILL from the kernel); a tour killed by SIGKILL leaves its
//! directory behind, and the next tour removes it.
//!
//! Code to copy: the lecture's snippets stand alone in `examples/`, one file each,
//! using nothing of this workspace (`fifo_reader`, `fifo_writer`):
//! `cargo run -p fifo-demo --example NAME`.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, value_parser};
use plumbing::stop::{self, Owns};

use roles::lines::Line;

mod roles;
mod tour;

fn main() -> ExitCode {
    plumbing::program::main::<Cli>("fifo-demo", run)
}

/// The tour: owns the FIFO, starts unrelated readers and writers, reports what they observed.
fn tour() -> plumbing::Result {
    stop::catch(Owns::Objects)?;
    println!("fifo-demo: a FIFO is a pipe with a name (lecture: \"FIFOs: Named Pipes\")");
    // 1. mkfifo in a private directory; what stat says; PIPE_BUF
    let made = tour::mkfifo::run()?;
    // 2. open() blocks until the other end is opened
    tour::open_blocks::run(&made.fifo)?;
    // 3. three writers: lines of PIPE_BUF bytes arrive whole
    tour::atomic_writes::run(&made.fifo, made.pipe_buf)?;
    // 4. two writers: writes above PIPE_BUF may interleave
    tour::interleaved_writes::run(&made.fifo, made.pipe_buf)?;
    // 5. EOF comes when the last writer closes
    tour::eof::run(&made.fifo)?;
    // 6. the name outlives the process that made it
    tour::outlives::run(&made.dir)?;
    // 7. the FIFO is removed with its directory
    tour::removal::run(made.dir, &made.fifo)
}

fn run(cli: Cli) -> plumbing::Result {
    match cli.command.unwrap_or(Role::Tour) {
        Role::Tour => tour(),
        Role::Read {
            path,
            delay_ms,
            show,
            parent_pid,
        } => {
            plumbing::child::die_with_tour(parent_pid)?;
            roles::read::run(&path, delay_ms, show, roles::indent(parent_pid))
        }
        Role::Write {
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
        Role::Make { path, parent_pid } => {
            plumbing::child::die_with_tour(parent_pid)?;
            roles::make::run(&path, roles::indent(parent_pid))
        }
    }
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
    command: Option<Role>,
}

#[derive(Subcommand)]
enum Role {
    /// Run the whole tour (the default)
    Tour,
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
