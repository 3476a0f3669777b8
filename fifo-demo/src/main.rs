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
//! Steps of the tour: 1 mkfifo in a private directory; 2 open() blocks until the other end is
//! opened; 3 three writers, lines of PIPE_BUF bytes arrive whole; 4 writes above PIPE_BUF
//! interleave; 5 EOF comes when the last writer closes; 6 the FIFO is removed.
//!
//! `write` sends each line as `<MSG> #<seq>`, padded with `--fill` up to `--bytes`, in ONE
//! write() call; `read` checks every line against that format, so it can tell whole lines from
//! lines torn by another writer's bytes (told apart by their fill characters).
//!
//! Files: this one holds the CLI and the tour's steps in order; `src/roles.rs` the `read` and
//! `write` roles; `src/lines.rs` the line format and the reader's tally; `src/children.rs` how
//! the tour starts, waits for and reaps its readers and writers.
//!
//! Signals: the tour owns the FIFO's directory. Ctrl-C or SIGTERM stops its children, removes
//! the directory and exits (130 / 143). `read` and `write` own no kernel object, so they keep
//! the default action: Ctrl-C ends them at once, even while blocked in open(). The roles the tour
//! starts ask for SIGKILL when the tour dies; a tour killed by SIGKILL leaves its directory
//! behind, and the next tour removes it.

use std::error::Error;
use std::fs::{self, OpenOptions};
use std::os::unix::fs::{FileTypeExt, OpenOptionsExt, PermissionsExt};
use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use clap::{Parser, Subcommand, value_parser};
use fifo_demo::{FifoDir, remove_stale_dirs};
use nix::fcntl::OFlag;
use nix::sys::signal::Signal;
use nix::unistd::{PathconfVar, pathconf};

use children::{Children, pause, role_args};
use lines::Line;
use roles::{read_role, started_by, write_role};

mod children;
mod lines;
mod roles;

type Result<T> = std::result::Result<T, Box<dyn Error>>;

#[derive(Parser)]
#[command(
    version,
    about = "FIFOs (named pipes): unrelated programs meet at a path"
)]
#[command(after_help = "By hand, in two terminals (in the workspace):\n  \
    1: mkfifo -m 600 /tmp/sensor_pipe && cargo run -p fifo-demo -- read /tmp/sensor_pipe\n  \
    2: cargo run -p fifo-demo -- write /tmp/sensor_pipe \"temperature: 42\" --count 3\n\
    `read` stops when the last writer has closed the FIFO; rm /tmp/sensor_pipe when done.\n\
    The tour makes its FIFO in a private directory under $TMPDIR (default /tmp).")]
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
        path: std::path::PathBuf,
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
        path: std::path::PathBuf,
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
}

fn parse_msg(msg: &str) -> std::result::Result<String, String> {
    if msg.contains(['#', '\n']) {
        return Err("a message may not contain '#' or a newline (they frame each line)".into());
    }
    Ok(msg.to_string())
}

fn parse_fill(fill: &str) -> std::result::Result<u8, String> {
    match fill.as_bytes() {
        [b] if b.is_ascii_graphic() && *b != b'#' => Ok(*b),
        _ => Err("expected one printable ASCII character other than '#'".into()),
    }
}

/// `fifo-demo | head` closes our stdout early, and println! then panics. The unwinding still
/// runs every owner's Drop, so nothing is left behind: say it in one line, not a backtrace.
fn quiet_when_stdout_closes() {
    let default_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let message = info
            .payload()
            .downcast_ref::<String>()
            .map_or("", String::as_str);
        if message.starts_with("failed printing to stdout") {
            eprintln!("fifo-demo: stdout was closed; stopping");
        } else {
            default_hook(info);
        }
    }));
}

fn main() -> ExitCode {
    quiet_when_stdout_closes();
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) if !e.use_stderr() => e.exit(), // --help
        Err(e) => {
            // clap's message up to its first blank line, on one line; exit status 2.
            let text = e.to_string();
            let lines: Vec<&str> = text.lines().take_while(|l| !l.trim().is_empty()).collect();
            let message = lines.iter().map(|l| l.trim()).collect::<Vec<_>>().join(" ");
            eprintln!(
                "fifo-demo: {}; see --help",
                message.trim_start_matches("error: ")
            );
            return ExitCode::from(2);
        }
    };
    // Set by SIGINT/SIGTERM while the tour runs; the roles keep the default actions.
    let stop = Arc::new(AtomicUsize::new(0));
    let result = match cli.command {
        None | Some(Role::Tour) => tour(&stop),
        Some(Role::Read {
            path,
            delay_ms,
            show,
            parent_pid,
        }) => started_by(parent_pid).and_then(|indent| read_role(&path, delay_ms, show, indent)),
        Some(Role::Write {
            path,
            msg,
            count,
            bytes,
            fill,
            interval_ms,
            parent_pid,
        }) => {
            let line = Line {
                msg: &msg,
                bytes: bytes.unwrap_or(0),
                fill,
            };
            started_by(parent_pid)
                .and_then(|indent| write_role(&path, &line, count, interval_ms, indent))
        }
    };
    let signal = stop.load(Ordering::SeqCst);
    match result {
        _ if signal != 0 => {
            let name = Signal::try_from(signal as i32).map_or("a signal", Signal::as_str);
            eprintln!("fifo-demo: interrupted by {name}; children stopped, FIFO removed");
            ExitCode::from(128 + signal as u8)
        }
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("fifo-demo: {e}");
            ExitCode::FAILURE
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The tour: owns the FIFO, starts unrelated readers and writers, reports what they observed.

fn tour(stop: &Arc<AtomicUsize>) -> Result<()> {
    for signal in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        signal_hook::flag::register_usize(signal, Arc::clone(stop), signal as usize)
            .map_err(|e| format!("sigaction {signal}: {e}"))?;
    }
    println!("fifo-demo: a FIFO is a pipe with a name (lecture: \"FIFOs: Named Pipes\")\n");

    println!("1. mkfifo: a name in the filesystem");
    let dir = FifoDir::create()
        .map_err(|e| format!("{e}; set TMPDIR to a directory you can write to"))?;
    for stale in remove_stale_dirs()? {
        println!("   removed {} left by a killed run", stale.display());
    }
    let fifo = dir.mkfifo("sensor_pipe")?;
    let pipe_buf = pathconf(&fifo, PathconfVar::PIPE_BUF)
        .map_err(|e| format!("pathconf {}: {e}", fifo.display()))?
        .ok_or("pathconf PIPE_BUF: no limit reported")?;
    let pipe_buf = usize::try_from(pipe_buf)?;
    println!("   made {}", fifo.display());
    println!(
        "   stat: {}; the directory: {}",
        describe_path(&fifo)?,
        describe_path(dir.path())?
    );
    println!("   PIPE_BUF (pathconf): {pipe_buf} bytes, the largest write the kernel keeps whole");

    println!("\n2. open() blocks until both ends are open");
    match OpenOptions::new()
        .write(true)
        .custom_flags(OFlag::O_NONBLOCK.bits())
        .open(&fifo)
    {
        Err(e) => println!("   open(O_WRONLY|O_NONBLOCK) with no reader fails: {e}"),
        Ok(_) => println!("   open(O_WRONLY|O_NONBLOCK) succeeded: someone else has it open"),
    }
    let mut kids = Children::new();
    let reader = kids.start("reader", role_args("read", &fifo, &[]))?;
    println!("   started reader (pid {reader}); the writer starts 300 ms later");
    pause(300, stop)?;
    kids.start("writer", role_args("write", &fifo, &["temperature: 42"]))?;
    kids.wait_all(stop)?;

    println!("\n3. Three writers, one reader: writes of at most PIPE_BUF bytes arrive whole");
    println!(
        "   each writer sends 50 lines of {pipe_buf} bytes (= PIPE_BUF), one write() per line;"
    );
    println!("   they start 200 ms before the reader, which then waits 100 ms before reading");
    writers_then_reader(&fifo, "sensor", &["A", "B", "C"], 50, pipe_buf, stop)?;
    println!(
        "   stat after {} bytes went through: {}",
        3 * 50 * pipe_buf,
        describe_path(&fifo)?
    );

    let big = 25 * pipe_buf;
    println!(
        "\n4. Two writers, writes larger than PIPE_BUF: the kernel may split and interleave them"
    );
    println!("   each writer sends 2 lines of {big} bytes (25 x PIPE_BUF), one write() per line");
    writers_then_reader(&fifo, "big", &["A", "B"], 2, big, stop)?;

    println!("\n5. EOF comes when the last writer closes its end");
    println!(
        "   'sensor B' writes 3 lines 200 ms apart; 'sensor A', started 150 ms later, writes 1"
    );
    let mut kids = Children::new();
    kids.start("reader", role_args("read", &fifo, &[]))?;
    let slow = ["sensor B", "--count", "3", "--interval-ms", "200"];
    kids.start("sensor B", role_args("write", &fifo, &slow))?;
    pause(150, stop)?;
    kids.start("sensor A", role_args("write", &fifo, &["sensor A"]))?;
    let exits = kids.wait_all(stop)?;
    if let [reader, b, a] = exits[..] {
        println!(
            "   exited at: 'sensor A' +{:.0} ms, 'sensor B' +{:.0} ms, the reader (after EOF) +{:.0} ms",
            ms(a),
            ms(b),
            ms(reader)
        );
    }

    println!("\n6. Removing the FIFO and its directory");
    let dir_path = dir.path().to_path_buf();
    drop(dir);
    match fs::metadata(&fifo) {
        Err(e) => println!("   removed {}: stat now says: {e}", dir_path.display()),
        Ok(_) => return Err(format!("{} still exists after removal", fifo.display()).into()),
    }
    Ok(())
}

/// Starts one writer per fill letter (`<label> <letter>`, `count` lines of `bytes` bytes), then,
/// 200 ms later, the reader: the writers wait in open() until it arrives.
fn writers_then_reader(
    fifo: &Path,
    label: &str,
    fills: &[&str],
    count: u64,
    bytes: usize,
    stop: &AtomicUsize,
) -> Result<()> {
    let mut kids = Children::new();
    let (count, bytes) = (count.to_string(), bytes.to_string());
    for fill in fills {
        let msg = format!("{label} {fill}");
        let args = [
            msg.as_str(),
            "--count",
            &count,
            "--bytes",
            &bytes,
            "--fill",
            fill,
        ];
        kids.start(&msg, role_args("write", fifo, &args))?;
    }
    pause(200, stop)?;
    kids.start(
        "reader",
        role_args("read", fifo, &["--delay-ms", "100", "--show", "4"]),
    )?;
    kids.wait_all(stop)?;
    Ok(())
}

/// `stat PATH` in words: file type, permission bits and size.
fn describe_path(path: &Path) -> Result<String> {
    let meta = fs::metadata(path).map_err(|e| format!("stat {}: {e}", path.display()))?;
    let mode = meta.permissions().mode() & 0o777;
    Ok(format!(
        "type {}, mode {mode:04o}, size {} bytes",
        file_type(&meta),
        meta.len()
    ))
}

/// A file's type in words, as `stat` reports it (the roles use it too).
fn file_type(meta: &fs::Metadata) -> &'static str {
    let kind = meta.file_type();
    match () {
        _ if kind.is_fifo() => "fifo",
        _ if kind.is_dir() => "directory",
        _ if kind.is_file() => "regular file",
        _ if kind.is_socket() => "socket",
        _ if kind.is_char_device() => "character device",
        _ if kind.is_block_device() => "block device",
        _ => "other",
    }
}

/// A duration in milliseconds, for printing (the roles use it too).
fn ms(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1000.0
}
