//! uds-demo: Unix domain sockets, run for real. Mirrors the lecture section "Unix Domain
//! Sockets: Local IPC That Dissolves Boundaries": an echo server and client over a socket file,
//! the same code over TCP, message boundaries, a descriptor passed to another process, the
//! abstract namespace and the peer's credentials, hostile clients, a stale socket file, and
//! two network namespaces as two nodes. The tour starts its own servers.
//!
//! Usage:
//!     cargo run -p uds-demo                     # the whole tour (step 8 needs root)
//!     cargo run -p uds-demo -- framing          # one step, by name or by number (`-- 6`)
//!     cargo run -p uds-demo -- serve            # terminal 1: prints the socket PATH
//!     cargo run -p uds-demo -- client --unix PATH "temperature: 42"       # terminal 2
//!     cargo run -p uds-demo -- --help           # the steps, and the roles with their flags
//!
//! See also: unix(7), socket(2), bind(2), accept(2), cmsg(3), network_namespaces(7), and the
//! lecture's snippets to copy in `examples/` (`cargo run -p uds-demo --example NAME`).

mod roles;
mod tour;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};
use uds_demo::MAX_FRAME;
use uds_demo::address::Address;
use uds_demo::defences::Limits;
use uds_demo::socket_file::SUN_PATH_BYTES;

fn main() -> ExitCode {
    plumbing::program::main::<Cli>("uds-demo", run)
}

/// The whole tour, in a private directory; it starts its own servers.
fn tour() -> plumbing::Result {
    tour::session(|dir| {
        let unix = tour::echo::run(dir)?; // 1. echo over a socket file (0600 in a 0700 dir)
        tour::inet::run(unix)?; // 2. the same echo over AF_INET: the line that differs, costs
        tour::boundaries::run()?; // 3. stream versus datagram: message boundaries
        tour::pass_fd::run(dir)?; // 4. passing an open file descriptor (SCM_RIGHTS)
        tour::r#abstract::run()?; // 5. the abstract namespace and the peer's credentials
        tour::framing::run(dir)?; // 6. length-prefixed frames against hostile clients
        tour::stale::run(dir)?; // 7. a socket file outlives its server
        tour::nodes::run() // 8. processes as nodes: two network namespaces (root)
    })
}

/// The tour, one step of it (step 2 runs step 1 first: it compares with it), or a role. The
/// tour, or a step, ends with the lecture's claims it checked (a role records none).
fn run(cli: Cli) -> plumbing::Result {
    match cli.command {
        None => tour(),
        Some(command) => run_one(command),
    }?;
    plumbing::verdict::print();
    Ok(())
}

/// One step of the tour, or a role.
fn run_one(command: Command) -> plumbing::Result {
    match command {
        Command::Echo => tour::session(|dir| tour::echo::run(dir).map(drop)),
        Command::Inet => tour::session(|dir| tour::inet::run(tour::echo::run(dir)?)),
        Command::Boundaries => tour::session(|_| tour::boundaries::run()),
        Command::PassFd => tour::session(tour::pass_fd::run),
        Command::Abstract => tour::session(|_| tour::r#abstract::run()),
        Command::Framing => tour::session(tour::framing::run),
        Command::Stale => tour::session(tour::stale::run),
        Command::Nodes => tour::session(|_| tour::nodes::run()),
        Command::Serve {
            at,
            timeout_ms,
            idle_ms,
            max_clients,
            parent_pid,
        } => {
            let limits = Limits {
                idle: Duration::from_millis(idle_ms),
                frame: Duration::from_millis(timeout_ms),
                max_clients: usize::try_from(max_clients)?,
            };
            roles::serve::run(at.address(), limits, parent_pid)
        }
        Command::Client {
            at,
            count,
            interval_ms,
            messages,
        } => {
            let talk = roles::client::Conversation {
                messages,
                rounds: count,
                interval: Duration::from_millis(interval_ms),
            };
            roles::client::run(&at.address()?, &talk)
        }
        Command::FdRecv { unix, parent_pid } => roles::fd_recv::run(unix, parent_pid),
        Command::FdSend { unix, file } => roles::fd_send::run(&unix, &file),
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
    command: Option<Command>,
}

/// The tour's steps (by name or number), then the roles its servers and clients play.
#[derive(Subcommand)]
enum Command {
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
