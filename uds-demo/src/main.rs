//! uds-demo: Unix domain sockets, run for real. Mirrors the lecture section "Unix Domain
//! Sockets: Local IPC That Dissolves Boundaries". The tour's eight steps are listed in order in
//! `tour` below, each in a file named after it; it starts its own servers.
//!
//! ```text
//! cargo run -p uds-demo                       # the whole tour
//! cargo run -p uds-demo -- framing            # one step, by name or number (`-- 6`)
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
//!
//! Files: the roles sit beside their step (`serve` and `client` in `unix_echo.rs`, `fd-recv`
//! and `fd-send` in `pass_fd.rs`); `echo_server.rs` is the echo server written once for every
//! address family, `socket_file.rs` what a socket file needs, `resources.rs` what a server
//! does when threads or descriptors run out, `round_trips.rs` step 2's pinned timings,
//! `server_child.rs` starts the tour's servers; `lib.rs` holds the endpoints `compare`
//! measures and the frame codec.
//!
//! Signals: the tour, `serve` on a socket file and `fd-recv` own files: SIGINT, SIGTERM,
//! SIGHUP or SIGQUIT ends them, the owners remove what they made (step 8's namespaces too),
//! and they exit 128 + the signal's number. An `--inet` or `--abstract` server owns no file;
//! the clients keep the default action. The tour's servers die with it; a tour killed by
//! SIGKILL leaves its directory (and namespaces) behind, and the next run removes them.
//!
//! Code to copy: the lecture's snippets stand alone in `examples/`, one file each,
//! using nothing of this workspace (`echo_server`, `echo_client`, `dgram_pair`):
//! `cargo run -p uds-demo --example NAME`.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};
use plumbing::names::PrivateDir;
use plumbing::stop::{self, Owns};
use uds_demo::MAX_FRAME;

use echo_server::{Address, Limits};
use socket_file::SUN_PATH_BYTES;
use unix_echo::{Conversation, NAME_PREFIX};

mod abstract_and_peercred;
mod boundaries;
mod echo_server;
mod hostile_clients;
mod inet_echo;
mod pass_fd;
mod processes_as_nodes;
mod resources;
mod round_trips;
mod server_child;
mod socket_file;
mod stale_socket;
mod unix_echo;

fn main() -> ExitCode {
    plumbing::program::main::<Cli>("uds-demo", run)
}

/// The tour, or its step `only`: owns a private directory, starts its own servers, reports
/// what it observed. Step 2 alone runs step 1 first: it compares with it.
fn tour(only: Option<u8>) -> plumbing::Result {
    stop::catch(Owns::Objects)?;
    println!("uds-demo: Unix domain sockets (lecture: \"Unix Domain Sockets\")");
    let dir = private_dir()?;
    let step = |n: u8| only.is_none_or(|o| o == n);
    if step(1) || step(2) {
        // 1. an echo server and client over a socket file (0600 in a 0700 directory)
        let unix = unix_echo::run(dir.path())?;
        if step(2) {
            // 2. the same echo code over AF_INET: the line that differs, and what each costs
            inet_echo::run(unix)?;
        }
    }
    if step(3) {
        boundaries::run()?; // 3. stream versus datagram: message boundaries
    }
    if step(4) {
        pass_fd::run(dir.path())?; // 4. passing an open file descriptor (SCM_RIGHTS)
    }
    if step(5) {
        // 5. the abstract namespace (no file) and the peer's credentials (SO_PEERCRED)
        abstract_and_peercred::run()?;
    }
    if step(6) {
        hostile_clients::run(dir.path())?; // 6. length-prefixed frames against hostile clients
    }
    if step(7) {
        stale_socket::run(dir.path())?; // 7. a socket file outlives its server
    }
    if step(8) {
        // 8. processes as nodes: step 2 between two network namespaces (root), else loopback
        processes_as_nodes::run()?;
    }
    remove(dir)
}

/// The tour's private directory (mode 0700), after removing those killed runs left.
fn private_dir() -> plumbing::Result<PrivateDir> {
    let swept = PrivateDir::sweep_stale(NAME_PREFIX).len();
    if swept > 0 {
        println!("removed {swept} private directories left by killed runs");
    }
    let dir = PrivateDir::create(NAME_PREFIX)?;
    let meta = std::fs::metadata(dir.path()).map_err(|e| format!("stat private dir: {e}"))?;
    let mode = std::os::unix::fs::PermissionsExt::mode(&meta.permissions()) & 0o777;
    println!(
        "private directory {} (mode {mode:04o}), DIR below\n",
        dir.path().display()
    );
    Ok(dir)
}

fn remove(dir: PrivateDir) -> plumbing::Result {
    let path = dir.path().to_path_buf();
    drop(dir);
    println!(
        "\ndone: servers stopped and reaped; {} removed: {}",
        path.display(),
        !path.exists()
    );
    Ok(())
}

fn run(cli: Cli) -> plumbing::Result {
    let Some(role) = cli.command else {
        return tour(None);
    };
    match role {
        Role::Echo => tour(Some(1)),
        Role::Inet => tour(Some(2)),
        Role::Boundaries => tour(Some(3)),
        Role::PassFd => tour(Some(4)),
        Role::Abstract => tour(Some(5)),
        Role::Framing => tour(Some(6)),
        Role::Stale => tour(Some(7)),
        Role::Nodes => tour(Some(8)),
        Role::Serve {
            at,
            timeout_ms,
            idle_ms,
            max_clients,
            parent_pid,
        } => {
            die_with_tour(parent_pid)?;
            let at = at.address();
            // An inet or abstract server names no file; one on a socket file does.
            let names_a_file = !matches!(at, Some(Address::Inet(_) | Address::Abstract(_)));
            stop::catch(if names_a_file {
                Owns::Objects
            } else {
                Owns::Nothing
            })?;
            let limits = Limits {
                idle: Duration::from_millis(idle_ms),
                frame: Duration::from_millis(timeout_ms),
                max_clients: usize::try_from(max_clients)?,
            };
            resources::check_open_files(limits.max_clients)?;
            unix_echo::serve(at, limits)
        }
        Role::Client {
            at,
            count,
            interval_ms,
            messages,
        } => {
            let talk = Conversation {
                messages,
                rounds: count,
                interval: Duration::from_millis(interval_ms),
            };
            unix_echo::client(&at.address()?, &talk)
        }
        Role::FdRecv { unix, parent_pid } => {
            die_with_tour(parent_pid)?;
            stop::catch(Owns::Objects)?;
            pass_fd::fd_recv(unix)
        }
        Role::FdSend { unix, file } => pass_fd::fd_send(&unix, &file),
    }
}

/// A server the tour started (it passes its pid) dies with the tour, even when the tour is
/// killed by SIGKILL. A server started by hand is left alone.
fn die_with_tour(parent_pid: Option<u32>) -> plumbing::Result {
    match parent_pid {
        Some(parent) => plumbing::child::die_with_parent(i32::try_from(parent)?),
        None => Ok(()),
    }
}

#[derive(Parser)]
#[command(
    name = "uds-demo",
    version,
    about = "Unix domain sockets, run for real (no subcommand: the whole tour)",
    after_help = "Two terminals:\n  \
        cargo run -p uds-demo -- serve                       (prints the socket PATH)\n  \
        cargo run -p uds-demo -- client --unix PATH \"temperature: 42\"\n  \
        cargo run -p uds-demo -- serve --inet 127.0.0.1:7878\n  \
        cargo run -p uds-demo -- client --inet 127.0.0.1:7878\n  \
        cargo run -p uds-demo -- serve --abstract my-echo\n  \
        cargo run -p uds-demo -- client --abstract my-echo\n  \
        cargo run -p uds-demo -- fd-recv                     (prints the socket PATH)\n  \
        cargo run -p uds-demo -- fd-send --unix PATH /etc/hostname\n\nCode to copy, one lecture snippet per file (examples/):\n  cargo run -p uds-demo --example echo_server\n  cargo run -p uds-demo --example echo_client\n  cargo run -p uds-demo --example dgram_pair"
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Role>,
}

/// The tour's steps (by name or number), then the roles its servers and clients play.
#[derive(Subcommand)]
enum Role {
    /// 1. Stream echo over a socket file (0600 in a 0700 directory)
    #[command(alias = "1")]
    Echo,
    /// 2. The same echo over AF_INET: the line that differs, timings (runs 1 first)
    #[command(alias = "2")]
    Inet,
    /// 3. Stream versus datagram: message boundaries
    #[command(alias = "3")]
    Boundaries,
    /// 4. Passing an open file descriptor (SCM_RIGHTS)
    #[command(alias = "4")]
    PassFd,
    /// 5. The abstract namespace (no file) and the peer's credentials (SO_PEERCRED)
    #[command(name = "abstract", alias = "5")]
    Abstract,
    /// 6. Length-prefixed frames against hostile clients
    #[command(alias = "6")]
    Framing,
    /// 7. A socket file outlives its server
    #[command(alias = "7")]
    Stale,
    /// 8. Processes as nodes: two network namespaces joined by a veth pair (root)
    #[command(alias = "8")]
    Nodes,
    /// Run the echo server until Ctrl-C (no address: a socket file in a new private directory)
    Serve {
        #[command(flatten)]
        at: ServeAt,
        /// A frame must arrive, and its echo be read, within this many ms, or the client is dropped
        #[arg(long, allow_negative_numbers = true, default_value_t = 5000, value_parser = |s: &str| whole_number(s, 10, 600_000))]
        timeout_ms: u64,
        /// A client that starts no frame for this many milliseconds is dropped
        #[arg(long, allow_negative_numbers = true, default_value_t = 60_000, value_parser = |s: &str| whole_number(s, 10, 3_600_000))]
        idle_ms: u64,
        /// Most clients served at once (each needs an open file: ulimit -n); more are refused
        #[arg(long, allow_negative_numbers = true, default_value_t = 64, value_parser = |s: &str| whole_number(s, 1, 1024))]
        max_clients: u64,
        #[arg(long, hide = true)]
        parent_pid: Option<u32>,
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
        #[arg(long, hide = true)]
        parent_pid: Option<u32>,
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

impl ServeAt {
    /// None: a socket file in a new private directory.
    fn address(self) -> Option<Address> {
        let inet = self.inet.map(Address::Inet);
        let abstract_name = self.abstract_name.map(Address::Abstract);
        inet.or(abstract_name).or(self.unix.map(Address::File))
    }
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

impl ConnectTo {
    fn address(self) -> plumbing::Result<Address> {
        let inet = self.inet.map(Address::Inet);
        let abstract_name = self.abstract_name.map(Address::Abstract);
        let address = inet.or(abstract_name).or(self.unix.map(Address::File));
        Ok(address.ok_or("give --unix PATH, --inet IP:PORT or --abstract NAME")?)
    }
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
    if s.is_empty() || s.len() > SUN_PATH_BYTES - 1 {
        return Err(format!(
            "an abstract name has 1 to {} bytes",
            SUN_PATH_BYTES - 1
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
