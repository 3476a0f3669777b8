//! Step 1: an echo server and client over a socket file. The tour starts `uds-demo serve --unix
//! PATH`, shows what stat(2) says of the socket file (a socket, mode 0600, size 0: the data
//! never touches it) and sends the lecture's sensor readings; step 2 times the server.
//!
//! The `serve` and `client` roles live here too: one function each, for every address family.
//! Only the line that binds or connects differs; the echo code after it is the same.

use std::fs;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::os::fd::AsFd;
use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use plumbing::Result;
use plumbing::names::PrivateDir;
use uds_demo::echo_once;

use crate::echo_server::{
    self, Address, Limits, REPLY_TIMEOUT, abstract_addr, serve_connections, set_timeouts,
};
use crate::server_child::ServerChild;
use crate::socket_file::connect_unix;

/// The prefix of the private directories and abstract names this program makes.
pub const NAME_PREFIX: &str = "ipc-tour-uds-";

/// What step 1 leaves to step 2: the echo lines to compare, and its server, still running.
pub struct UnixEcho {
    /// One line per echoed reading.
    pub lines: Vec<String>,
    pub server: ServerChild,
    pub path: PathBuf,
}

pub fn run(dir: &Path) -> Result<UnixEcho> {
    let path = dir.join("echo.sock");
    let mut server = ServerChild::spawn(&["serve", "--unix", &path.to_string_lossy()])?;
    server.wait_for_line_starting("listening on unix:")?;
    let meta = fs::symlink_metadata(&path).map_err(|e| format!("stat socket file: {e}"))?;
    println!("1. Stream echo over AF_UNIX: `uds-demo serve --unix DIR/echo.sock`");
    println!(
        "   server pid {}; its socket file: a socket: {}, mode {:04o}, size {}",
        server.pid(),
        meta.file_type().is_socket(),
        meta.permissions().mode() & 0o777,
        meta.len()
    );
    println!("   (size 0: the bytes go through the kernel, never the file)");
    let mut stream =
        UnixStream::connect(&path).map_err(|e| format!("connect {}: {e}", path.display()))?;
    set_timeouts(&stream, REPLY_TIMEOUT, None)?;
    let lines = echo_readings(&mut stream)?;
    for line in &lines {
        println!("   {line}");
    }
    println!();
    Ok(UnixEcho {
        lines,
        server,
        path,
    })
}

/// The lecture's example messages.
pub fn sensor_readings() -> Vec<String> {
    ["temperature: 42", "humidity: 61%", "pressure: 1013 hPa"]
        .map(String::from)
        .to_vec()
}

/// Sends each sensor reading, returns one line per echo. Generic over the stream: steps 1
/// and 2 run this very function over a `UnixStream` and a `TcpStream`.
pub fn echo_readings<S: Read + Write>(stream: &mut S) -> Result<Vec<String>> {
    let mut lines = Vec::new();
    for reading in sensor_readings() {
        let echo = echo_once(stream, reading.as_bytes(), REPLY_TIMEOUT)
            .map_err(|e| format!("echo: {e}"))?;
        lines.push(format!(
            "sent {reading:?} ({} bytes) -> {:?} ({} bytes) back",
            reading.len(),
            String::from_utf8_lossy(&echo),
            echo.len()
        ));
    }
    Ok(lines)
}

// ---------------------------------------------------------------------------------------------
// The `serve` role: `uds-demo serve [--unix PATH | --inet IP:PORT | --abstract NAME]`.

/// Binds the address (no address: `echo.sock` in a new private directory), says where it
/// listens, and serves until a stop signal. The owners of the file and the directory live
/// until this returns, so they are removed on Ctrl-C too.
pub fn serve(at: Option<Address>, limits: Limits) -> Result {
    match at {
        Some(Address::Inet(addr)) => {
            let (listener, actual) = echo_server::bind_inet(addr)?;
            println!("listening on inet:{actual}");
            serve_connections(&listener, limits)
        }
        Some(Address::Abstract(name)) => {
            let listener = echo_server::bind_abstract(&name)?;
            println!(
                "listening on abstract:@{name} (no file: the name lives in the network namespace)"
            );
            serve_connections(&listener, limits)
        }
        Some(Address::File(path)) => serve_file(&path, limits),
        None => {
            PrivateDir::sweep_stale(NAME_PREFIX);
            let dir = PrivateDir::create(NAME_PREFIX)?;
            serve_file(&dir.path().join("echo.sock"), limits)
        }
    }
}

fn serve_file(path: &Path, limits: Limits) -> Result {
    let (listener, _file, replaced) = echo_server::bind_unix(path)?;
    let shown = path.display();
    if replaced {
        println!("replaced stale socket file {shown} (connect was refused: no server)");
    }
    println!("listening on unix:{shown}");
    println!("in another terminal: cargo run -p uds-demo -- client --unix {shown}");
    serve_connections(&listener, limits)
}

// ---------------------------------------------------------------------------------------------
// The `client` role: `uds-demo client --unix PATH | --inet IP:PORT | --abstract NAME [MSG...]`.

/// What a client sends: `messages` (none: the sensor readings), `rounds` times, `interval` apart.
pub struct Conversation {
    pub messages: Vec<String>,
    pub rounds: u64,
    pub interval: Duration,
}

/// Connects to `to` (the one line that differs per family) and talks.
pub fn client(to: &Address, talk: &Conversation) -> Result {
    match to {
        Address::File(path) => {
            let stream = connect_unix(path)?;
            converse(stream, &format!("unix:{}", path.display()), talk)
        }
        Address::Abstract(name) => {
            let stream = UnixStream::connect_addr(&abstract_addr(name)?)
                .map_err(|e| format!("connect @{name}: {e}"))?;
            converse(stream, &format!("abstract:@{name}"), talk)
        }
        Address::Inet(addr) => {
            let stream = TcpStream::connect_timeout(addr, REPLY_TIMEOUT)
                .map_err(|e| format!("connect {addr}: {e}"))?;
            converse(stream, &format!("inet:{addr}"), talk)
        }
    }
}

/// Sends each message, prints each echo and its round trip; the same for every family.
fn converse<S: Read + Write + AsFd>(mut stream: S, name: &str, talk: &Conversation) -> Result {
    set_timeouts(&stream, REPLY_TIMEOUT, None)?;
    let messages = if talk.messages.is_empty() {
        sensor_readings()
    } else {
        talk.messages.clone()
    };
    for round in 0..talk.rounds {
        if round > 0 {
            std::thread::sleep(talk.interval);
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
