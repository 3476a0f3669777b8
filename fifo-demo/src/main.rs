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
//! Signals: the tour owns the FIFO's directory. Ctrl-C or SIGTERM stops its children, removes
//! the directory and exits (130 / 143). `read` and `write` own no kernel object, so they keep
//! the default action: Ctrl-C ends them at once, even while blocked in open(). The roles the tour
//! starts ask for SIGKILL when the tour dies; a tour killed by SIGKILL leaves its directory
//! behind, and the next tour removes it.

use std::error::Error;
use std::ffi::OsString;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::os::fd::{AsFd, AsRawFd};
use std::os::unix::fs::{FileTypeExt, OpenOptionsExt, PermissionsExt};
use std::path::Path;
use std::process::{Child, Command, ExitCode, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use clap::{Parser, Subcommand, value_parser};
use fifo_demo::{FifoDir, remove_stale_dirs};
use nix::fcntl::{FcntlArg, OFlag, fcntl};
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use nix::sys::prctl;
use nix::sys::signal::Signal;
use nix::unistd::{PathconfVar, fpathconf, getppid, pathconf};

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

/// The arguments that start `fifo-demo <role> PATH <extra...>`.
fn role_args(role: &str, fifo: &Path, extra: &[&str]) -> Vec<OsString> {
    let mut args = vec![OsString::from(role), fifo.as_os_str().to_owned()];
    args.extend(extra.iter().map(OsString::from));
    args
}

/// Sleeps `ms` milliseconds, but returns an error at once when SIGINT/SIGTERM arrives.
fn pause(ms: u64, stop: &AtomicUsize) -> Result<()> {
    let end = Instant::now() + Duration::from_millis(ms);
    while Instant::now() < end {
        if stop.load(Ordering::SeqCst) != 0 {
            return Err("interrupted".into());
        }
        thread::sleep(Duration::from_millis(5));
    }
    Ok(())
}

/// The processes of one step. Dropping it kills and reaps any still running, so no child
/// outlives the tour on any path, errors and Ctrl-C included.
struct Children {
    started: Instant,
    list: Vec<(String, Child)>,
}

impl Children {
    fn new() -> Children {
        Children {
            started: Instant::now(),
            list: Vec::new(),
        }
    }

    /// Starts a fresh copy of this binary: stdin is /dev/null, stdout and stderr are shared,
    /// and no other descriptor is inherited (Rust opens every file close-on-exec).
    fn start(&mut self, name: &str, args: Vec<OsString>) -> Result<u32> {
        let exe = std::env::current_exe().map_err(|e| format!("current_exe: {e}"))?;
        let child = Command::new(exe)
            .args(args)
            .args(["--parent-pid", &std::process::id().to_string()])
            .stdin(Stdio::null())
            .spawn()
            .map_err(|e| format!("spawn {name}: {e}"))?;
        let pid = child.id();
        self.list.push((name.to_string(), child));
        Ok(pid)
    }

    /// Waits until every child has exited successfully, checking for Ctrl-C every 5 ms.
    /// Returns each child's exit time, measured from `new()`, in the order they were started.
    fn wait_all(&mut self, stop: &AtomicUsize) -> Result<Vec<Duration>> {
        let deadline = Instant::now() + Duration::from_secs(20);
        let mut exited = vec![None; self.list.len()];
        while exited.iter().any(Option::is_none) {
            if stop.load(Ordering::SeqCst) != 0 {
                return Err("interrupted".into());
            }
            if Instant::now() > deadline {
                return Err("the step's processes did not finish within 20 s".into());
            }
            for ((name, child), exit) in self.list.iter_mut().zip(&mut exited) {
                if exit.is_some() {
                    continue;
                }
                let status = child
                    .try_wait()
                    .map_err(|e| format!("waitpid {name}: {e}"))?;
                match status {
                    Some(status) if !status.success() => {
                        return Err(format!("{name} (pid {}) failed: {status}", child.id()).into());
                    }
                    Some(_) => *exit = Some(self.started.elapsed()),
                    None => {}
                }
            }
            thread::sleep(Duration::from_millis(5));
        }
        Ok(exited.into_iter().flatten().collect())
    }
}

impl Drop for Children {
    fn drop(&mut self) {
        for (_, child) in &mut self.list {
            // Both are no-ops for a child already reaped by wait_all.
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

// ---------------------------------------------------------------------------------------------
// What both roles share.

/// A role the tour started (it passes its pid) dies with the tour, even when the tour is
/// killed by SIGKILL: ask the kernel for SIGKILL when the parent exits, then check that the
/// parent did not exit before we asked. Returns the indentation for printing inside the tour.
fn started_by(parent_pid: Option<u32>) -> Result<&'static str> {
    let Some(parent) = parent_pid else {
        return Ok("");
    };
    prctl::set_pdeathsig(Signal::SIGKILL).map_err(|e| format!("prctl PR_SET_PDEATHSIG: {e}"))?;
    if u32::try_from(getppid().as_raw()).ok() != Some(parent) {
        return Err("the tour that started this process has already exited".into());
    }
    Ok("   ")
}

/// Refuses, before open(), a path that is missing or is not a FIFO (opening a regular file
/// would "work" and read the disk).
fn check_is_fifo(path: &Path) -> Result<()> {
    let shown = path.display();
    let meta = match fs::metadata(path) {
        Ok(meta) => meta,
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            let dir = path.parent().filter(|dir| !dir.as_os_str().is_empty());
            return Err(match dir {
                Some(dir) if !dir.exists() => {
                    format!(
                        "stat {shown}: {e}; the directory {} does not exist",
                        dir.display()
                    )
                }
                _ => format!("stat {shown}: {e}; make the FIFO first: mkfifo -m 600 {shown}"),
            }
            .into());
        }
        Err(e) => return Err(format!("stat {shown}: {e}").into()),
    };
    if !meta.file_type().is_fifo() {
        let kind = file_type(&meta);
        return Err(
            format!("{shown} is a {kind}, not a FIFO; make one: mkfifo -m 600 PATH").into(),
        );
    }
    Ok(())
}

/// Checks the opened file again: the path may have been replaced between stat() and open().
fn opened(result: io::Result<File>, call: &str, path: &Path) -> Result<File> {
    let file = result.map_err(|e| {
        let hint = match e.kind() {
            io::ErrorKind::PermissionDenied => "; its mode does not let this user open it (ls -l)",
            _ => "",
        };
        format!("{call} {}: {e}{hint}", path.display())
    })?;
    let meta = file
        .metadata()
        .map_err(|e| format!("fstat {}: {e}", path.display()))?;
    if !meta.file_type().is_fifo() {
        return Err(format!("{} was replaced by a {}", path.display(), file_type(&meta)).into());
    }
    Ok(file)
}

fn ms(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1000.0
}

// ---------------------------------------------------------------------------------------------
// `write`: one write() per line.

/// How `write` frames each message: `<msg> #<seq>`, then ` ` and `fill` up to `bytes` bytes
/// (newline included), then `\n`.
struct Line<'a> {
    msg: &'a str,
    bytes: u64,
    fill: u8,
}

impl Line<'_> {
    fn build(&self, seq: u64) -> Vec<u8> {
        let mut line = format!("{} #{seq}", self.msg).into_bytes();
        let want = usize::try_from(self.bytes).unwrap_or(usize::MAX);
        if line.len() + 2 < want {
            line.push(b' ');
            line.resize(want - 1, self.fill);
        }
        line.push(b'\n');
        line
    }
}

fn write_role(path: &Path, line: &Line, count: u64, interval_ms: u64, indent: &str) -> Result<()> {
    let me = format!("{indent}writer {} '{}'", std::process::id(), line.msg);
    check_is_fifo(path)?;
    let start = Instant::now();
    // Blocks until some process opens the FIFO for reading. Ctrl-C still ends it (default action).
    let mut fifo = opened(
        OpenOptions::new().write(true).open(path),
        "open O_WRONLY",
        path,
    )?;
    let waited = start.elapsed();
    let pipe_buf = fpathconf(fifo.as_fd(), PathconfVar::PIPE_BUF)
        .map_err(|e| format!("fpathconf {}: {e}", path.display()))?
        .and_then(|n| usize::try_from(n).ok())
        .unwrap_or(usize::MAX);
    let (mut total, mut largest) = (0, 0);
    for seq in 1..=count {
        if seq > 1 && interval_ms > 0 {
            // Not sleep(): poll() also wakes on POLLERR, which the write end gets when the last
            // reader closes, so a slow writer notices at once (the write below then fails).
            let mut fds = [PollFd::new(fifo.as_fd(), PollFlags::empty())];
            let pause = Duration::from_millis(interval_ms);
            poll(
                &mut fds,
                PollTimeout::try_from(pause).unwrap_or(PollTimeout::MAX),
            )
            .map_err(|e| format!("poll {}: {e}", path.display()))?;
        }
        let bytes = line.build(seq);
        (total, largest) = (total + bytes.len(), largest.max(bytes.len()));
        // One write() call: a blocking pipe write returns only when every byte is in.
        fifo.write_all(&bytes).map_err(|e| {
            let hint = match e.kind() {
                io::ErrorKind::BrokenPipe => "; the reader has gone",
                _ => "",
            };
            format!("write {}: {e}{hint}", path.display())
        })?;
    }
    let atomic = if largest <= pipe_buf {
        "<= PIPE_BUF: atomic"
    } else {
        "> PIPE_BUF: not atomic"
    };
    let calls = if count == 1 { "call" } else { "calls" };
    println!(
        "{me}: open waited {:.1} ms; wrote {total} bytes in {count} write() {calls} of up to {largest} bytes ({atomic})",
        ms(waited)
    );
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// `read`: prints and checks lines until EOF.

fn read_role(path: &Path, delay_ms: u64, show: u64, indent: &str) -> Result<()> {
    let me = format!("{indent}reader {}", std::process::id());
    check_is_fifo(path)?;
    println!(
        "{me}: open({}, O_RDONLY) blocks until a writer opens it",
        path.display()
    );
    let start = Instant::now();
    // Blocks in the kernel until a writer arrives. Ctrl-C still ends it (default action).
    let mut fifo = opened(File::open(path), "open O_RDONLY", path)?;
    println!(
        "{me}: open returned after {:.1} ms: a writer has opened the other end",
        ms(start.elapsed())
    );
    if delay_ms > 0 {
        thread::sleep(Duration::from_millis(delay_ms));
    }
    report_buffer(&fifo, path, &me)?;

    let mut tally = Tally {
        show,
        ..Tally::default()
    };
    let mut buf = vec![0; 4096]; // small reads let blocked writers take turns
    loop {
        let n = fifo
            .read(&mut buf)
            .map_err(|e| format!("read {}: {e}", path.display()))?;
        if n == 0 {
            break; // EOF: no process has the FIFO open for writing any more
        }
        tally.feed(&buf[..n], &me);
    }
    tally.finish(&me);
    Ok(())
}

/// Waits for data (or for the last writer to leave), then shows that the file stays 0 bytes
/// while the data sits in the kernel's pipe buffer.
fn report_buffer(fifo: &File, path: &Path, me: &str) -> Result<()> {
    let mut fds = [PollFd::new(fifo.as_fd(), PollFlags::POLLIN)];
    poll(&mut fds, PollTimeout::NONE).map_err(|e| format!("poll {}: {e}", path.display()))?;
    let meta = fifo
        .metadata()
        .map_err(|e| format!("fstat {}: {e}", path.display()))?;
    let mut waiting: libc::c_int = 0;
    // SAFETY: FIONREAD stores one c_int through the pointer, which points to a live c_int;
    // the descriptor is open for as long as `fifo` lives. Other processes cannot affect this.
    let rc = unsafe { libc::ioctl(fifo.as_raw_fd(), libc::FIONREAD, &mut waiting) };
    if rc == -1 {
        return Err(format!(
            "ioctl FIONREAD {}: {}",
            path.display(),
            io::Error::last_os_error()
        )
        .into());
    }
    let capacity =
        fcntl(fifo, FcntlArg::F_GETPIPE_SZ).map_err(|e| format!("fcntl F_GETPIPE_SZ: {e}"))?;
    println!(
        "{me}: fstat says type {}, size {} bytes, while {waiting} of {capacity} bytes wait in the kernel buffer",
        file_type(&meta),
        meta.len()
    );
    Ok(())
}

/// A line longer than this is counted but not kept (bounds memory whatever a writer sends).
const MAX_LINE: usize = 4 << 20;
/// At most this many writers are tallied by name; the rest are counted together.
const MAX_WRITERS: usize = 16;
/// A run of at least this many equal bytes is a writer's fill, which tells writers apart.
const FILL_RUN: usize = 32;

/// What `read` has seen so far.
#[derive(Default)]
struct Tally {
    show: u64,
    shown: u64,
    bytes: usize,
    whole: usize,
    torn: usize,
    other: usize,
    /// Lines from a different writer than the line before: writers took turns.
    turns: usize,
    /// Places inside a line where one writer's fill is followed by another's.
    interleavings: usize,
    writers: Vec<(Vec<u8>, usize)>,
    more_writers: usize,
    last_writer: Option<Vec<u8>>,
    current: Vec<u8>,
    overlong: bool,
}

impl Tally {
    /// Splits the byte stream into lines; a line may arrive across many reads.
    fn feed(&mut self, chunk: &[u8], me: &str) {
        self.bytes += chunk.len();
        for piece in chunk.split_inclusive(|&b| b == b'\n') {
            let (body, ends) = match piece.split_last() {
                Some((b'\n', body)) => (body, true),
                _ => (piece, false),
            };
            if self.current.len() + body.len() > MAX_LINE {
                self.overlong = true;
                self.current = Vec::new();
            } else if !self.overlong {
                self.current.extend_from_slice(body);
            }
            if ends {
                self.end_line(me, true);
            }
        }
    }

    /// Checks and counts the line just completed (`newline`: it ended with one).
    fn end_line(&mut self, me: &str, newline: bool) {
        let line = std::mem::take(&mut self.current);
        let size = line.len() + usize::from(newline);
        if std::mem::take(&mut self.overlong) {
            self.torn += 1;
            self.print(me, || {
                format!("a line longer than {MAX_LINE} bytes, not checked")
            });
            return;
        }
        let runs = fill_runs(&line);
        let changes = runs
            .windows(2)
            .filter(|pair| pair[0].0 != pair[1].0)
            .count();
        self.interleavings += changes;
        match parse_frame(&line) {
            Some(writer) if changes == 0 => {
                self.whole += 1;
                if self
                    .last_writer
                    .as_deref()
                    .is_some_and(|last| last != writer)
                {
                    self.turns += 1;
                }
                self.last_writer = Some(writer.to_vec());
                self.count_writer(writer);
                self.print(me, || format!("{} ({size} bytes, whole)", preview(&line)));
            }
            _ if runs.is_empty() && line.iter().filter(|&&b| b == b'#').count() < 2 => {
                self.other += 1;
                self.print(me, || preview(&line));
            }
            _ => {
                self.torn += 1;
                self.print(me, || {
                    format!("TORN line of {size} bytes: {}", describe_runs(&runs))
                });
            }
        }
    }

    fn count_writer(&mut self, writer: &[u8]) {
        if let Some(entry) = self.writers.iter_mut().find(|(name, _)| name == writer) {
            entry.1 += 1;
        } else if self.writers.len() < MAX_WRITERS {
            self.writers.push((writer.to_vec(), 1));
        } else {
            self.more_writers += 1;
        }
    }

    fn print(&mut self, me: &str, line: impl FnOnce() -> String) {
        if self.shown < self.show {
            self.shown += 1;
            println!("{me}: got {}", line());
        }
    }

    fn finish(&mut self, me: &str) {
        if !self.current.is_empty() || self.overlong {
            println!(
                "{me}: the last {} bytes have no newline: a writer died mid-line?",
                self.current.len()
            );
            self.end_line(me, false);
        }
        let lines = self.whole + self.torn + self.other;
        let s = if lines == 1 { "" } else { "s" };
        println!(
            "{me}: EOF after {} bytes, {lines} line{s}: every writer has closed the FIFO",
            self.bytes
        );
        let mut per_writer: Vec<String> = self
            .writers
            .iter()
            .map(|(name, n)| format!("'{}' {n}", String::from_utf8_lossy(name)))
            .collect();
        if self.more_writers > 0 {
            per_writer.push(format!("others {}", self.more_writers));
        }
        println!(
            "{me}: whole {}, torn {}, other {}; whole lines per writer: {}",
            self.whole,
            self.torn,
            self.other,
            if per_writer.is_empty() {
                "none".to_string()
            } else {
                per_writer.join(", ")
            }
        );
        println!(
            "{me}: writer changes between whole lines: {}; interleavings inside lines: {}",
            self.turns, self.interleavings
        );
    }
}

/// A whole line written by `write`: `<writer> #<digits>`, optionally followed by ` ` and one
/// fill byte repeated. Returns the writer's message.
fn parse_frame(line: &[u8]) -> Option<&[u8]> {
    let hash = line.iter().position(|&b| b == b'#')?;
    let writer = line[..hash].strip_suffix(b" ")?;
    let rest = &line[hash + 1..];
    let digits = rest.iter().take_while(|b| b.is_ascii_digit()).count();
    let fill = match &rest[digits..] {
        [] => &[][..],
        [b' ', fill @ ..] => fill,
        _ => return None,
    };
    let uniform = fill.iter().all(|b| Some(b) == fill.first());
    (digits > 0 && uniform).then_some(writer)
}

/// The runs of one byte repeated at least FILL_RUN times, in order: (byte, length).
fn fill_runs(line: &[u8]) -> Vec<(u8, usize)> {
    line.chunk_by(|a, b| a == b)
        .filter(|run| run.len() >= FILL_RUN)
        .map(|run| (run[0], run.len()))
        .collect()
}

fn describe_runs(runs: &[(u8, usize)]) -> String {
    let mut parts: Vec<String> = runs
        .iter()
        .take(6)
        .map(|&(b, n)| format!("{}x{n}", char::from(b).escape_default()))
        .collect();
    if runs.len() > 6 {
        parts.push(format!("... ({} runs)", runs.len()));
    }
    parts.join(" ")
}

/// A line as text, shortened to its first 40 bytes when long.
fn preview(line: &[u8]) -> String {
    let shown = &line[..line.len().min(40)];
    let dots = if line.len() > shown.len() { "..." } else { "" };
    format!("{:?}{dots}", String::from_utf8_lossy(shown))
}
