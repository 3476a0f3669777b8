//! uds-demo: Unix domain sockets, run for real. Mirrors the lecture section "Unix Domain
//! Sockets: Local IPC That Dissolves Boundaries".
//!
//! The tour shows: an echo server and client over a socket file (mode 0600 in a 0700
//! directory); the same generic echo function serving AF_INET, with the same output; stream
//! versus datagram message boundaries; passing an open file descriptor (SCM_RIGHTS); the peer's
//! pid/uid/gid (SO_PEERCRED) and refusing another uid; the abstract namespace (no file);
//! length-prefixed framing against hostile clients; a stale socket file from a killed server.
//!
//! ```text
//! cargo run -p uds-demo                       # the whole tour; it starts its own servers
//!
//! # two terminals
//! cargo run -p uds-demo -- serve              # terminal 1: prints the socket path to use
//! cargo run -p uds-demo -- client --unix PATH "temperature: 42"          # terminal 2
//! cargo run -p uds-demo -- serve --inet 127.0.0.1:7878                   # terminal 1
//! cargo run -p uds-demo -- client --inet 127.0.0.1:7878 "temperature: 42" # terminal 2
//! cargo run -p uds-demo -- serve --abstract my-echo                      # no file at all
//! cargo run -p uds-demo -- client --abstract my-echo
//! cargo run -p uds-demo -- fd-recv            # terminal 1: prints the socket path
//! cargo run -p uds-demo -- fd-send --unix PATH /etc/hostname             # terminal 2
//! ```
//!
//! `--inet` takes a numeric IP:PORT (127.0.0.1:7878, not localhost:7878): nothing is looked up.
//! Across two hosts: `serve --inet 0.0.0.0:7878` on one, `client --inet IP:7878` on the other.

mod server;
mod tour;

use std::error::Error;
use std::fs::{self, File};
use std::io::IoSlice;
use std::net::{SocketAddr, TcpStream};
use std::os::fd::AsRawFd;
use std::os::linux::net::SocketAddrExt;
use std::os::unix::fs::FileTypeExt;
use std::os::unix::net::{self as unix, UnixStream};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use clap::{Args, Parser, Subcommand};
use nix::sys::socket::{ControlMessage, MsgFlags, sendmsg};
use signal_hook::consts::{SIGINT, SIGTERM};
use uds_demo::{FrameKind, MAX_FRAME, echo_once, read_frame};

/// How long a client waits for any one reply.
const REPLY_TIMEOUT: Duration = Duration::from_secs(2);

#[derive(Parser)]
#[command(
    name = "uds-demo",
    about = "Unix domain sockets, run for real (no subcommand: the whole tour)",
    after_help = "Two terminals:\n  \
        cargo run -p uds-demo -- serve                       (prints the socket PATH)\n  \
        cargo run -p uds-demo -- client --unix PATH \"temperature: 42\"\n  \
        cargo run -p uds-demo -- serve --inet 127.0.0.1:7878\n  \
        cargo run -p uds-demo -- client --inet 127.0.0.1:7878\n  \
        cargo run -p uds-demo -- serve --abstract my-echo\n  \
        cargo run -p uds-demo -- client --abstract my-echo\n  \
        cargo run -p uds-demo -- fd-recv                     (prints the socket PATH)\n  \
        cargo run -p uds-demo -- fd-send --unix PATH /etc/hostname"
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Run the echo server until Ctrl-C (no address: a socket file in a new private directory)
    Serve {
        #[command(flatten)]
        at: ServeAt,
        /// Each frame must arrive within this many milliseconds, or the client is dropped
        #[arg(long, allow_negative_numbers = true, default_value_t = 5000, value_parser = |s: &str| whole_number(s, 10, 600_000))]
        timeout_ms: u64,
        /// A client that starts no frame for this many milliseconds is dropped
        #[arg(long, allow_negative_numbers = true, default_value_t = 60_000, value_parser = |s: &str| whole_number(s, 10, 3_600_000))]
        idle_ms: u64,
        /// Most clients served at once; more are refused with an error frame
        #[arg(long, allow_negative_numbers = true, default_value_t = 64, value_parser = |s: &str| whole_number(s, 1, 1024))]
        max_clients: u64,
    },
    /// Send messages to an echo server and print the echoes
    Client {
        #[command(flatten)]
        at: ConnectTo,
        /// Send the messages this many times
        #[arg(long, allow_negative_numbers = true, default_value_t = 1, value_parser = |s: &str| whole_number(s, 1, 1_000_000))]
        count: u64,
        /// Pause between rounds, in milliseconds
        #[arg(long, allow_negative_numbers = true, default_value_t = 0, value_parser = |s: &str| whole_number(s, 0, 10_000))]
        interval_ms: u64,
        /// Messages to send (default: three sensor readings)
        #[arg(value_parser = parse_message)]
        messages: Vec<String>,
    },
    /// Receive one open file descriptor (SCM_RIGHTS), read through it, then exit
    FdRecv {
        /// Socket path (default: a socket file in a new private directory)
        #[arg(long, value_name = "PATH")]
        unix: Option<PathBuf>,
    },
    /// Open FILE and pass the open descriptor to an `fd-recv` server
    FdSend {
        /// The fd-recv server's socket path
        #[arg(long, value_name = "PATH")]
        unix: PathBuf,
        /// The file to open and pass
        file: PathBuf,
    },
}

#[derive(Args)]
#[group(required = false, multiple = false)]
struct ServeAt {
    /// Listen on a socket file at PATH
    #[arg(long, value_name = "PATH")]
    unix: Option<PathBuf>,
    /// Listen on TCP at a numeric IP:PORT such as 127.0.0.1:7878 (port 0: any free port)
    #[arg(long, value_name = "IP:PORT", value_parser = parse_inet)]
    inet: Option<SocketAddr>,
    /// Listen on an abstract name (Linux: no file at all)
    #[arg(long = "abstract", value_name = "NAME", value_parser = parse_abstract_name)]
    abstract_name: Option<String>,
}

#[derive(Args)]
#[group(required = true, multiple = false)]
struct ConnectTo {
    /// Connect to the socket file at PATH
    #[arg(long, value_name = "PATH")]
    unix: Option<PathBuf>,
    /// Connect over TCP to a numeric IP:PORT such as 127.0.0.1:7878
    #[arg(long, value_name = "IP:PORT", value_parser = parse_inet)]
    inet: Option<SocketAddr>,
    /// Connect to an abstract name
    #[arg(long = "abstract", value_name = "NAME", value_parser = parse_abstract_name)]
    abstract_name: Option<String>,
}

/// A whole number in `lo..=hi`; the error says what is allowed.
fn whole_number(s: &str, lo: u64, hi: u64) -> Result<u64, String> {
    match s.parse::<u64>() {
        Ok(n) if (lo..=hi).contains(&n) => Ok(n),
        _ => Err(format!("expected a whole number from {lo} to {hi}")),
    }
}

/// Numbers only: no name lookup, so the address printed is the address used.
fn parse_inet(s: &str) -> Result<SocketAddr, String> {
    s.parse()
        .map_err(|_| "--inet takes a numeric IP:PORT such as 127.0.0.1:7878".to_string())
}

fn parse_abstract_name(s: &str) -> Result<String, String> {
    if s.is_empty() || s.len() > server::SUN_PATH_BYTES - 1 {
        return Err(format!(
            "an abstract name has 1 to {} bytes",
            server::SUN_PATH_BYTES - 1
        ));
    }
    Ok(s.to_string())
}

fn parse_message(s: &str) -> Result<String, String> {
    if s.len() > MAX_FRAME {
        return Err(format!(
            "a message has at most {MAX_FRAME} bytes (the frame limit)"
        ));
    }
    Ok(s.to_string())
}

/// The signal that asked us to stop (0: none). Set by signal-hook; loops poll it.
static SIGNAL: AtomicUsize = AtomicUsize::new(0);

/// True once SIGINT or SIGTERM has arrived.
pub fn stopped() -> bool {
    SIGNAL.load(Ordering::SeqCst) != 0
}

/// Roles that own kernel objects turn SIGINT/SIGTERM into a flag, so their loops end and the
/// owners' `Drop` removes what they created. (The client owns nothing: the default action is
/// right for it.)
fn catch_stop_signals() -> Result<(), Box<dyn Error>> {
    for sig in [SIGINT, SIGTERM] {
        signal_hook::flag::register_usize(sig, &SIGNAL, sig as usize)
            .map_err(|e| format!("sigaction {sig}: {e}"))?;
    }
    Ok(())
}

fn main() -> ExitCode {
    quiet_when_stdout_closes();
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) if !e.use_stderr() => e.exit(), // --help, --version
        Err(e) => {
            // clap's message, on one line; exit status 2 for usage errors.
            let text = e.to_string();
            let lines = text
                .lines()
                .take_while(|l| !l.is_empty() && !l.starts_with("Usage:"));
            let mut message: String = lines.map(str::trim).collect::<Vec<_>>().join(" ");
            if message.chars().count() > 300 {
                // clap quotes the offending value, which may be a 1 MB message
                message = message
                    .chars()
                    .take(150)
                    .chain("…".chars())
                    .chain(message.chars().skip(message.chars().count() - 100))
                    .collect();
            }
            eprintln!(
                "uds-demo: {}; try --help",
                message.trim_start_matches("error: ")
            );
            return ExitCode::from(2);
        }
    };
    // An inet or abstract server makes no file; the tour and the other roles that catch
    // signals (a socket file, perhaps its directory) do.
    let made_files = match &cli.command {
        Some(Command::Serve { at, .. }) => at.inet.is_none() && at.abstract_name.is_none(),
        _ => true,
    };
    let result = run(cli);
    let signal = SIGNAL.load(Ordering::SeqCst);
    if signal != 0 {
        let name = signal_hook::low_level::signal_name(signal as i32).unwrap_or("a signal");
        if made_files {
            eprintln!("uds-demo: stopped by {name}; removed everything this run created");
        } else {
            eprintln!("uds-demo: stopped by {name}");
        }
        return ExitCode::from(128 + signal as u8);
    }
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("uds-demo: {e}");
            ExitCode::from(1)
        }
    }
}

/// `uds-demo | head -3` closes our stdout early, and println! then panics. Unwinding still runs
/// every owner's Drop (servers stopped, files removed), so say it in one line, not a backtrace.
fn quiet_when_stdout_closes() {
    let default_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let message = info.payload().downcast_ref::<String>();
        if message.is_some_and(|m| m.starts_with("failed printing to stdout")) {
            eprintln!("uds-demo: stdout was closed; stopping");
        } else {
            default_hook(info);
        }
    }));
}

fn run(cli: Cli) -> Result<(), Box<dyn Error>> {
    match cli.command {
        None => {
            catch_stop_signals()?;
            tour::run()
        }
        Some(Command::Serve {
            at,
            timeout_ms,
            idle_ms,
            max_clients,
        }) => {
            catch_stop_signals()?;
            let limits = server::Limits {
                idle: Duration::from_millis(idle_ms),
                frame: Duration::from_millis(timeout_ms),
                max_clients: max_clients as usize,
            };
            serve(at, limits)
        }
        Some(Command::Client {
            at,
            count,
            interval_ms,
            messages,
        }) => client(&at, count, Duration::from_millis(interval_ms), messages),
        Some(Command::FdRecv { unix }) => {
            catch_stop_signals()?;
            fd_recv(unix)
        }
        Some(Command::FdSend { unix, file }) => fd_send(&unix, &file),
    }
}

fn serve(at: ServeAt, limits: server::Limits) -> Result<(), Box<dyn Error>> {
    // Owners live until serve returns, so their Drop runs on Ctrl-C too.
    let mut _dir = None;
    let mut _file = None;
    let listener = if let Some(addr) = at.inet {
        let (listener, actual) = server::bind_inet(addr)?;
        println!("listening on inet:{actual}");
        server::Listener::Inet(listener)
    } else if let Some(name) = at.abstract_name {
        let listener = server::bind_abstract(&name)?;
        println!(
            "listening on abstract:@{name} (no file: the name lives in the network namespace)"
        );
        server::Listener::Unix(listener)
    } else {
        let path = match at.unix {
            Some(path) => path,
            None => {
                server::sweep_stale_dirs();
                let dir = server::PrivateDir::create()?;
                let path = dir.path.join("echo.sock");
                _dir = Some(dir);
                path
            }
        };
        let (listener, file, replaced) = server::bind_unix(&path)?;
        if replaced {
            println!(
                "replaced stale socket file {} (connect was refused: no server)",
                path.display()
            );
        }
        _file = Some(file);
        println!("listening on unix:{}", path.display());
        println!(
            "in another terminal: cargo run -p uds-demo -- client --unix {}",
            path.display()
        );
        server::Listener::Unix(listener)
    };
    server::serve(listener, limits)?;
    Ok(())
}

/// Connects to whichever address was given; the echo code after this is the same for all.
fn connect(at: &ConnectTo) -> Result<(String, Box<dyn ReadWrite>), String> {
    if let Some(addr) = at.inet {
        let s = TcpStream::connect_timeout(&addr, REPLY_TIMEOUT)
            .map_err(|e| format!("connect {addr}: {e}"))?;
        s.set_read_timeout(Some(REPLY_TIMEOUT))
            .map_err(|e| format!("setsockopt: {e}"))?;
        return Ok((format!("inet:{addr}"), Box::new(s)));
    }
    let (name, s) = if let Some(name) = &at.abstract_name {
        let addr = unix::SocketAddr::from_abstract_name(name.as_bytes())
            .map_err(|e| format!("@{name}: {e}"))?;
        let s = UnixStream::connect_addr(&addr).map_err(|e| format!("connect @{name}: {e}"))?;
        (format!("abstract:@{name}"), s)
    } else {
        let path = at.unix.as_deref().unwrap_or(Path::new(""));
        (format!("unix:{}", path.display()), connect_unix(path)?)
    };
    s.set_read_timeout(Some(REPLY_TIMEOUT))
        .map_err(|e| format!("setsockopt: {e}"))?;
    Ok((name, Box::new(s)))
}

/// Connects to the socket file at `path`. A missing path or one that is not a socket is named
/// as such first: connect() alone would call a regular file "Connection refused".
fn connect_unix(path: &Path) -> Result<UnixStream, String> {
    server::check_sun_path(path)?;
    let shown = path.display();
    match fs::metadata(path) {
        Ok(meta) if !meta.file_type().is_socket() => {
            return Err(format!("connect {shown}: it exists but is not a socket"));
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(format!(
                "connect {shown}: no such file; start the server first (it prints its path)"
            ));
        }
        _ => {} // a socket, or a stat error that connect() reports itself
    }
    UnixStream::connect(path).map_err(|e| format!("connect {shown}: {e}"))
}

/// Lets `connect` hand back either stream type behind one box.
trait ReadWrite: std::io::Read + std::io::Write {}
impl<T: std::io::Read + std::io::Write> ReadWrite for T {}

/// The lecture's example message.
pub fn sensor_readings() -> Vec<String> {
    ["temperature: 42", "humidity: 61%", "pressure: 1013 hPa"]
        .map(String::from)
        .to_vec()
}

fn client(
    at: &ConnectTo,
    count: u64,
    interval: Duration,
    messages: Vec<String>,
) -> Result<(), Box<dyn Error>> {
    let messages = if messages.is_empty() {
        sensor_readings()
    } else {
        messages
    };
    let (name, mut stream) = connect(at)?;
    for round in 0..count {
        if round > 0 {
            std::thread::sleep(interval);
        }
        for message in &messages {
            let start = Instant::now();
            let echo = echo_once(&mut stream, message.as_bytes(), REPLY_TIMEOUT)
                .map_err(|e| format!("echo over {name}: {e}"))?;
            let micros = start.elapsed().as_micros();
            println!(
                "echo: {} ({} bytes, {micros} µs)",
                String::from_utf8_lossy(&echo),
                echo.len()
            );
        }
    }
    Ok(())
}

fn fd_recv(path: Option<PathBuf>) -> Result<(), Box<dyn Error>> {
    let mut _dir = None;
    let path = match path {
        Some(path) => path,
        None => {
            let dir = server::PrivateDir::create()?;
            let path = dir.path.join("fd.sock");
            _dir = Some(dir);
            path
        }
    };
    let (listener, _file, _) = server::bind_unix(&path)?;
    println!("listening on unix:{}", path.display());
    println!(
        "in another terminal: cargo run -p uds-demo -- fd-send --unix {} FILE",
        path.display()
    );
    let (mut stream, sender, fd, file) = server::accept_and_receive_fd(&listener)?;
    let text = match server::read_through(&file) {
        Ok(text) => text,
        Err(why) => {
            // Tell the sender why, then fail; it may already be gone, so ignore failure.
            let _ = uds_demo::write_frame(&mut stream, FrameKind::Error, why.as_bytes());
            return Err(why.into());
        }
    };
    println!(
        "received fd {fd} from pid {sender} via SCM_RIGHTS; read {} bytes through it: {:?}",
        text.len(),
        String::from_utf8_lossy(&text)
    );
    uds_demo::write_frame(&mut stream, FrameKind::Message, &text)
        .map_err(|e| format!("reply: {e}"))?;
    Ok(())
}

fn fd_send(path: &Path, file: &Path) -> Result<(), Box<dyn Error>> {
    let opened = File::open(file).map_err(|e| format!("open {}: {e}", file.display()))?;
    let text = send_fd(connect_unix(path)?, &opened)?;
    println!(
        "the receiver read {} bytes through the passed fd: {:?}",
        text.len(),
        String::from_utf8_lossy(&text)
    );
    Ok(())
}

/// Passes `file`'s open descriptor over `stream` (SCM_RIGHTS) and returns what the receiver
/// read through it. The kernel duplicates the descriptor into the receiver's fd table: the
/// receiver needs no path and no permission to open the file itself.
pub fn send_fd(mut stream: UnixStream, file: &File) -> Result<Vec<u8>, String> {
    stream
        .set_read_timeout(Some(REPLY_TIMEOUT))
        .map_err(|e| format!("setsockopt: {e}"))?;
    let fds = [file.as_raw_fd()];
    // Ancillary data must ride along with at least one byte of ordinary data.
    sendmsg::<()>(
        stream.as_raw_fd(),
        &[IoSlice::new(b"F")],
        &[ControlMessage::ScmRights(&fds)],
        MsgFlags::empty(),
        None,
    )
    .map_err(|e| format!("sendmsg SCM_RIGHTS: {e}"))?;
    match read_frame(&mut stream, Some(REPLY_TIMEOUT), Some(REPLY_TIMEOUT)) {
        Ok(Some(frame)) if frame.kind == FrameKind::Error => Err(format!(
            "the receiver refused it: {}",
            String::from_utf8_lossy(&frame.payload)
        )),
        Ok(Some(frame)) => Ok(frame.payload),
        Ok(None) => Err("the receiver closed without replying".into()),
        Err(e) => Err(format!("reply from the receiver: {e}")),
    }
}
