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
//! See also: pipe(7), fcntl(2) F_GETPIPE_SZ / F_SETPIPE_SZ, and `fifo-demo` for a pipe with a name.

use std::error::Error;
use std::fs;
use std::io::{self, ErrorKind, PipeWriter, Read, Write};
use std::os::fd::AsFd;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use clap::{Parser, Subcommand};
use nix::fcntl::{FcntlArg, OFlag, fcntl};
use nix::sys::prctl;
use nix::sys::signal::{self, SigHandler, Signal};
use nix::sys::wait::{WaitPidFlag, WaitStatus, waitpid};
use nix::unistd::{ForkResult, Pid, fork, getpid, getppid};

type Result<T = (), E = Box<dyn Error>> = std::result::Result<T, E>;

/// How long the deliberately slow side waits before it drains or feeds the pipe.
const HOLD: Duration = Duration::from_millis(200);
/// The most bytes an unprivileged process may ask for with F_SETPIPE_SZ.
const PIPE_MAX_SIZE: &str = "/proc/sys/fs/pipe-max-size";

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
        #[arg(long, value_parser = parse_pipe_size)]
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
    let cli = Cli::parse();
    match run(cli.step) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("pipe-demo: {e}");
            ExitCode::FAILURE
        }
    }
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
            for sensor_reading in [
                "temperature: 42\n",
                "temperature: 43\n",
                "temperature: 41\n",
            ] {
                writer
                    .write_all(sensor_reading.as_bytes())
                    .map_err(|e| format!("write to child {child}: {e}"))?;
            }
            println!("   parent: wrote 3 readings (48 bytes), closing the write end");
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

/// Step 3: the pipe is a bounded buffer, and the kernel makes each side wait for the other.
fn bounded_buffer(pipe_size: Option<usize>) -> Result {
    println!("\nStep 3. The bounded buffer");
    let capacity = measure_capacity()?;
    blocked_writer(capacity)?;
    blocked_reader()?;
    let requested = match pipe_size {
        Some(size) => size,
        None => pipe_max_size()?,
    };
    resize(requested)
}

fn measure_capacity() -> Result<usize> {
    let (_reader, writer) = io::pipe().map_err(|e| format!("pipe: {e}"))?;
    let reported = pipe_size(&writer)?;
    let filled = fill_until_full(&writer)?;
    println!(
        "   3a. capacity: {filled} bytes went in before write() failed with EAGAIN; \
         F_GETPIPE_SZ reports {reported}"
    );
    Ok(filled)
}

/// Writes into a non-blocking pipe until the kernel refuses with EAGAIN; returns the bytes
/// written. Nobody reads, so this is exactly what the buffer holds.
fn fill_until_full(writer: &PipeWriter) -> Result<usize> {
    fcntl(writer, FcntlArg::F_SETFL(OFlag::O_NONBLOCK)).map_err(|e| format!("fcntl: {e}"))?;
    let mut filled = 0;
    // Page-sized writes first (quick), then single bytes to find the last free byte.
    for chunk in [&[0u8; 4096][..], &[0u8; 1][..]] {
        loop {
            match (&*writer).write(chunk) {
                Ok(n) => filled += n,
                Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                Err(e) => return Err(format!("write: {e}").into()),
            }
        }
    }
    Ok(filled)
}

fn pipe_size(fd: impl AsFd) -> Result<usize> {
    let size = fcntl(fd, FcntlArg::F_GETPIPE_SZ).map_err(|e| format!("F_GETPIPE_SZ: {e}"))?;
    Ok(usize::try_from(size)?)
}

/// The child writes more than the pipe holds; the parent confirms the child is asleep in the
/// kernel, waits a little, then drains. The child reports how long its write() took.
fn blocked_writer(capacity: usize) -> Result {
    let (mut reader, mut writer) = io::pipe().map_err(|e| format!("pipe: {e}"))?;
    let to_write = capacity + 4096;
    match start_child()? {
        ForkResult::Child => {
            drop(reader);
            let started = Instant::now();
            let result = writer.write_all(&vec![b'x'; to_write]);
            let blocked = started.elapsed();
            finish_child(result.map_err(Into::into).map(|()| {
                println!(
                    "   3b. child: write() of {to_write} bytes returned after {} ms \
                     (blocked until the reader drained)",
                    blocked.as_millis()
                );
            }));
        }
        ForkResult::Parent { child } => {
            drop(writer);
            let wchan = wait_until_asleep(child)?;
            println!(
                "   3b. writer {child} wants to write {to_write} bytes into a {capacity}-byte \
                 pipe: it is asleep in the kernel ({wchan}); reader waits {} ms, then drains",
                HOLD.as_millis()
            );
            thread::sleep(HOLD); // The deliberately slow reader.
            let mut drained = Vec::new();
            reader
                .read_to_end(&mut drained)
                .map_err(|e| format!("read: {e}"))?;
            let status = reap(child)?;
            println!("       reader drained {} bytes", drained.len());
            check_success(child, status)
        }
    }
}

/// The child reads from an empty pipe; the parent confirms it is asleep, waits, then writes.
fn blocked_reader() -> Result {
    let (mut reader, mut writer) = io::pipe().map_err(|e| format!("pipe: {e}"))?;
    match start_child()? {
        ForkResult::Child => {
            drop(writer);
            let started = Instant::now();
            let mut buf = [0u8; 64];
            let result = reader.read(&mut buf);
            let blocked = started.elapsed();
            finish_child(result.map_err(Into::into).map(|n| {
                println!(
                    "   3c. child: read() on the empty pipe returned after {} ms with {n} bytes: {:?}",
                    blocked.as_millis(),
                    String::from_utf8_lossy(&buf[..n])
                );
            }));
        }
        ForkResult::Parent { child } => {
            drop(reader);
            let wchan = wait_until_asleep(child)?;
            println!(
                "   3c. reader {child} is asleep in the kernel ({wchan}) on an empty pipe; \
                 writer waits {} ms, then writes",
                HOLD.as_millis()
            );
            thread::sleep(HOLD); // The deliberately slow writer.
            writer
                .write_all(b"temperature: 42")
                .map_err(|e| format!("write to child {child}: {e}"))?;
            drop(writer);
            check_success(child, reap(child)?)
        }
    }
}

/// Polls /proc until `child` is sleeping in the kernel; returns where it sleeps (its wchan,
/// e.g. "anon_pipe_write"). Fails if the child exits instead, or after two seconds.
fn wait_until_asleep(child: Pid) -> Result<String> {
    let deadline = Instant::now() + Duration::from_secs(2);
    while Instant::now() < deadline {
        if let Some(status) = exited(child)? {
            return Err(format!("child {child} ended before it blocked: {status:?}").into());
        }
        let stat = fs::read_to_string(format!("/proc/{child}/stat")).unwrap_or_default();
        // The state is the first field after the parenthesised command name.
        let state = stat
            .rsplit(')')
            .next()
            .and_then(|rest| rest.split_whitespace().next());
        let wchan = fs::read_to_string(format!("/proc/{child}/wchan")).unwrap_or_default();
        if state == Some("S") && wchan.contains("pipe") {
            return Ok(format!("state S, wchan {wchan}"));
        }
        thread::sleep(Duration::from_millis(1));
    }
    Err(format!("child {child} did not block on the pipe within 2 s").into())
}

fn resize(requested: usize) -> Result {
    let (_reader, writer) = io::pipe().map_err(|e| format!("pipe: {e}"))?;
    let before = pipe_size(&writer)?;
    let asked = i32::try_from(requested)?;
    let after = fcntl(&writer, FcntlArg::F_SETPIPE_SZ(asked)).map_err(|e| {
        format!(
            "F_SETPIPE_SZ({requested}): {e}; an unprivileged user's pipes may hold at most \
             /proc/sys/fs/pipe-user-pages-soft pages in all"
        )
    })?;
    let filled = fill_until_full(&writer)?;
    // The kernel rounds the request up to a power-of-two number of pages.
    println!(
        "   3d. F_SETPIPE_SZ({requested}): capacity {before} -> {after} bytes; \
         filling it now took {filled} bytes"
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
    let dir = dir.unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("src"));
    if !dir.is_dir() {
        return Err(format!("pipeline: {} is not a directory", dir.display()).into());
    }
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
    ls.wait().map_err(|e| format!("wait for ls: {e}"))?;
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

/// Forks. The child dies with its parent, so an interrupted tour leaves no orphan behind.
fn start_child() -> Result<ForkResult> {
    io::stdout().flush()?; // Or the child inherits, and prints again, our unwritten output.
    let parent = getpid();
    // SAFETY: pipe-demo never starts a thread, so the child is a complete copy of a
    // single-threaded process and may go on running ordinary Rust code.
    let forked = unsafe { fork() }.map_err(|e| format!("fork: {e}"))?;
    if forked.is_child() {
        let armed = prctl::set_pdeathsig(Signal::SIGKILL);
        if armed.is_err() || getppid() != parent {
            std::process::exit(1); // The parent is already gone.
        }
    }
    Ok(forked)
}

/// Ends a child: reports its error, if any, and exits without returning into the parent's code.
fn finish_child(result: Result) -> ! {
    let code = match result {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("pipe-demo (child {}): {e}", getpid());
            1
        }
    };
    let _ = io::stdout().flush();
    std::process::exit(code);
}

fn reap(child: Pid) -> Result<WaitStatus> {
    Ok(waitpid(child, None).map_err(|e| format!("waitpid {child}: {e}"))?)
}

/// Some(status) if `child` has ended (and is now reaped), None if it is still running.
fn exited(child: Pid) -> Result<Option<WaitStatus>> {
    match waitpid(child, Some(WaitPidFlag::WNOHANG)).map_err(|e| format!("waitpid {child}: {e}"))? {
        WaitStatus::StillAlive => Ok(None),
        status => Ok(Some(status)),
    }
}

fn check_success(child: Pid, status: WaitStatus) -> Result {
    match status {
        WaitStatus::Exited(_, 0) => Ok(()),
        status => Err(format!("child {child} failed: {status:?}").into()),
    }
}

fn report_exit(child: Pid, status: WaitStatus) -> Result {
    match status {
        WaitStatus::Exited(_, code) => {
            println!("   parent: reaped child {child}: exit status {code}")
        }
        other => println!("   parent: reaped child {child}: {other:?}"),
    }
    check_success(child, status)
}

fn pipe_max_size() -> Result<usize> {
    let text =
        fs::read_to_string(PIPE_MAX_SIZE).map_err(|e| format!("read {PIPE_MAX_SIZE}: {e}"))?;
    Ok(text
        .trim()
        .parse()
        .map_err(|e| format!("parse {PIPE_MAX_SIZE}: {e}"))?)
}

/// Accepts 1 ..= pipe-max-size. Root could go beyond it, but the demo behaves as it would for
/// an ordinary user.
fn parse_pipe_size(arg: &str) -> std::result::Result<usize, String> {
    let size: usize = arg
        .parse()
        .map_err(|_| format!("{arg:?} is not a whole number of bytes"))?;
    let max = pipe_max_size().map_err(|e| e.to_string())?;
    if size == 0 || size > max {
        return Err(format!(
            "must be 1 to {max} bytes ({PIPE_MAX_SIZE}; raise it with sysctl fs.pipe-max-size=N)"
        ));
    }
    Ok(size)
}
