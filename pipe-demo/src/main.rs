//! pipe-demo: the lecture's "Pipes" section, run for real on this machine.
//!
//! A pipe is a bounded kernel buffer with a write end and a read end. Each step below makes
//! the kernel do something and prints what it observed: what `cat` echoed, when the reader
//! saw end-of-file, how many bytes fit before the writer had to wait, how long it waited.
//!
//! Usage:
//!     cargo run -p pipe-demo                # the whole tour, steps 1 to 5
//!     cargo run -p pipe-demo -- buffer      # one step, by name or by number (`-- 3`)
//!     cargo run -p pipe-demo -- buffer --pipe-size 262144
//!     cargo run -p pipe-demo -- pipeline /usr/include
//!     cargo run -p pipe-demo -- --help      # lists the steps
//!
//! Ctrl-C ends it at once: it creates nothing named, and its children die with it.
//!
//! See also: pipe(7), fcntl(2) F_GETPIPE_SZ / F_SETPIPE_SZ, and `fifo-demo` for a pipe with a name.

use std::error::Error;
use std::fs;
use std::io::{self, ErrorKind, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};

use clap::{Parser, Subcommand};
use nix::sys::signal::{self, SigHandler, Signal};
use nix::sys::wait::WaitStatus;
use nix::unistd::{ForkResult, getpid};

use buffer::{bounded_buffer, parse_pipe_size};
use child::{finish_child, reap, report_exit, start_child};

mod buffer;
mod child;

type Result<T = (), E = Box<dyn Error>> = std::result::Result<T, E>;

#[derive(Parser)]
#[command(about = "Pipes, run for real: each step prints what the kernel did on this machine")]
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
        #[arg(long, value_parser = parse_pipe_size, allow_negative_numbers = true)]
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
                "pipe-demo: {}; see --help",
                message.trim_start_matches("error: ")
            );
            return ExitCode::from(2);
        }
    };
    match run(cli.step) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("pipe-demo: {e}");
            ExitCode::FAILURE
        }
    }
}

/// `pipe-demo | head` closes our stdout early, and println! then panics. Nothing needs
/// cleaning up here, so say it in one line instead of a backtrace.
fn quiet_when_stdout_closes() {
    let default_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let message = info
            .payload()
            .downcast_ref::<String>()
            .map_or("", String::as_str);
        if message.starts_with("failed printing to stdout") {
            eprintln!("pipe-demo: stdout was closed; stopping");
        } else {
            default_hook(info);
        }
    }));
}

fn run(step: Option<Step>) -> Result {
    match step {
        Some(Step::Cat) => cat_snippet(),
        Some(Step::Fork) => pipe_and_fork(),
        Some(Step::Buffer { pipe_size }) => bounded_buffer(pipe_size),
        Some(Step::Broken) => broken_pipe(),
        Some(Step::Pipeline { dir }) => pipeline(dir),
        None => {
            cat_snippet()?;
            pipe_and_fork()?;
            bounded_buffer(None)?;
            broken_pipe()?;
            pipeline(None)
        }
    }
}

/// Step 1: the lecture's snippet, finished: close the pipe so `cat` can exit.
fn cat_snippet() -> Result {
    println!("\nStep 1. A pipe to a child's stdin");
    let mut child = Command::new("cat")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .map_err(|e| format!("spawn cat: {e}"))?;
    // take() rather than as_mut(): we must own the write end to close it. While any write
    // end is open, `cat` waits for more input and never exits.
    let mut stdin = child.stdin.take().ok_or("cat has no stdin pipe")?;
    stdin
        .write_all(b"temperature: 42")
        .map_err(|e| format!("write to cat: {e}"))?;
    drop(stdin); // cat's read() now returns 0: end-of-file.
    let output = child
        .wait_with_output()
        .map_err(|e| format!("wait for cat: {e}"))?;
    println!(
        "   wrote \"temperature: 42\" into cat's stdin; cat printed {:?} ({} bytes) and {}",
        String::from_utf8_lossy(&output.stdout),
        output.stdout.len(),
        output.status
    );
    Ok(())
}

/// Step 2: pipe() before fork(), so both processes hold both ends; each closes the end it
/// does not use.
fn pipe_and_fork() -> Result {
    println!("\nStep 2. pipe() + fork(): the parent writes, the child reads");
    let (mut reader, mut writer) = io::pipe().map_err(|e| format!("pipe: {e}"))?;
    match start_child()? {
        ForkResult::Child => {
            // The child's own copy of the write end is unused. Left open, it would keep the
            // pipe "alive" and the child would wait for itself forever instead of seeing EOF.
            drop(writer);
            finish_child(read_until_eof(&mut reader));
        }
        ForkResult::Parent { child } => {
            drop(reader); // The parent only writes.
            println!("   parent {}: forked child {child}", getpid());
            let readings = [
                "temperature: 42\n",
                "temperature: 43\n",
                "temperature: 41\n",
            ];
            let mut written = 0;
            for sensor_reading in readings {
                writer
                    .write_all(sensor_reading.as_bytes())
                    .map_err(|e| format!("write to child {child}: {e}"))?;
                written += sensor_reading.len();
            }
            println!(
                "   parent: wrote {} readings ({written} bytes), closing the write end",
                readings.len()
            );
            drop(writer); // The last write end: the child's next read() returns 0.
            report_exit(child, reap(child)?)
        }
    }
}

fn read_until_eof(reader: &mut impl Read) -> Result {
    let mut buf = [0u8; 128];
    let (mut total, mut reads) = (0, 0);
    loop {
        let n = reader.read(&mut buf).map_err(|e| format!("read: {e}"))?;
        if n == 0 {
            break;
        }
        total += n;
        reads += 1;
        println!(
            "   child  {}: read() returned {n} bytes: {:?}",
            getpid(),
            String::from_utf8_lossy(&buf[..n])
        );
    }
    // A pipe keeps no boundaries: three writes may arrive as one read, or as three.
    println!(
        "   child: read() returned 0 (end-of-file) after {total} bytes in {reads} read() calls"
    );
    Ok(())
}

/// Step 4: writing into a pipe that nobody can read any more.
fn broken_pipe() -> Result {
    println!("\nStep 4. Broken pipe");
    let (reader, mut writer) = io::pipe().map_err(|e| format!("pipe: {e}"))?;
    drop(reader); // The only read end is gone.
    match writer.write_all(b"temperature: 42") {
        Err(e) if e.kind() == ErrorKind::BrokenPipe => {
            println!("   4a. write() with no reader left failed: {e} (EPIPE)");
        }
        Err(e) => return Err(format!("write: expected EPIPE, got {e}").into()),
        Ok(()) => return Err("write into a pipe with no reader succeeded".into()),
    }
    // The kernel also sends SIGPIPE, whose default action kills the writer. Rust programs
    // start with SIGPIPE ignored, which is why we saw an error instead. Restore the default in
    // a child and let it write.
    match start_child()? {
        ForkResult::Child => {
            // SAFETY: SIG_DFL installs no handler, so no code of ours runs in signal context.
            let restored = unsafe { signal::signal(Signal::SIGPIPE, SigHandler::SigDfl) };
            let result = restored.map_err(|e| format!("signal(SIGPIPE): {e}").into());
            finish_child(result.and_then(|_| {
                writer.write_all(b"temperature: 42")?;
                Err("write after SIGPIPE's default was restored did not kill us".into())
            }));
        }
        ForkResult::Parent { child } => match reap(child)? {
            WaitStatus::Signaled(_, Signal::SIGPIPE, _) => {
                println!(
                    "   4b. a child with SIGPIPE's default action wrote the same bytes: \
                     killed by SIGPIPE"
                );
                Ok(())
            }
            status => {
                Err(format!("child {child}: expected death by SIGPIPE, got {status:?}").into())
            }
        },
    }
}

/// Step 5: what the shell does for `ls | grep .rs | wc -l`: two pipes, three processes.
fn pipeline(dir: Option<PathBuf>) -> Result {
    println!("\nStep 5. The shell pipeline `ls | grep .rs | wc -l`, by hand");
    println!("   (grep's `.rs` is a regular expression: any one character, then \"rs\")");
    // By default, this crate's own sources (or the current directory, for a copied binary).
    let dir = dir.unwrap_or_else(|| {
        let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
        if fs::read_dir(&src).is_ok() {
            src
        } else {
            PathBuf::from(".")
        }
    });
    fs::read_dir(&dir).map_err(|e| format!("pipeline: cannot list {}: {e}", dir.display()))?;
    let spawn =
        |cmd: &mut Command, name: &str| cmd.spawn().map_err(|e| format!("spawn {name}: {e}"));
    let mut ls = spawn(
        Command::new("ls").current_dir(&dir).stdout(Stdio::piped()),
        "ls",
    )?;
    // Each pipe end moves into the one child that uses it; the parent keeps none, so when
    // `ls` exits, `grep` sees end-of-file, and then `wc` does.
    let ls_out = ls.stdout.take().ok_or("ls has no stdout pipe")?;
    let mut grep = spawn(
        Command::new("grep")
            .arg(".rs")
            .stdin(ls_out)
            .stdout(Stdio::piped()),
        "grep",
    )?;
    let grep_out = grep.stdout.take().ok_or("grep has no stdout pipe")?;
    let wc = spawn(
        Command::new("wc")
            .arg("-l")
            .stdin(grep_out)
            .stdout(Stdio::piped()),
        "wc",
    )?;
    let wc_id = wc.id();
    let counted = wc
        .wait_with_output()
        .map_err(|e| format!("wait for wc: {e}"))?;
    let ls_status = ls.wait().map_err(|e| format!("wait for ls: {e}"))?;
    if !ls_status.success() {
        return Err(format!("pipeline: ls failed: {ls_status}").into());
    }
    grep.wait().map_err(|e| format!("wait for grep: {e}"))?;

    let shell = Command::new("sh")
        .args(["-c", "ls | grep .rs | wc -l"])
        .current_dir(&dir)
        .output()
        .map_err(|e| format!("run sh: {e}"))?;
    println!(
        "   in {}: by hand (ls {}, grep {}, wc {}): {}; the shell: {}",
        dir.display(),
        ls.id(),
        grep.id(),
        wc_id,
        String::from_utf8_lossy(&counted.stdout).trim(),
        String::from_utf8_lossy(&shell.stdout).trim()
    );
    Ok(())
}
