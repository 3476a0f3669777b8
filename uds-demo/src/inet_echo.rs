//! Step 2: the same echo over AF_INET. First the one line that differs between the Unix and
//! the TCP form of the lecture's echo server, read from `examples/echo_server.rs` itself (at
//! build time), so what is shown is what the example runs. Then `uds-demo serve --inet
//! 127.0.0.1:0`, the accept loop of step 1 on a `TcpListener`, and step 1's own client
//! function, `echo_readings`, on a `TcpStream`: the lines printed are identical. Last, what an
//! echo costs over each family (`round_trips`).

use std::net::{SocketAddr, TcpStream};
use std::os::unix::net::UnixStream;

use plumbing::Result;

use crate::echo_server::{REPLY_TIMEOUT, set_timeouts};
use crate::round_trips::{self, Server};
use crate::server_child::ServerChild;
use crate::unix_echo::{UnixEcho, echo_readings};

/// The lecture's echo server, whose two forms differ in one line.
const EXAMPLE: &str = include_str!("../examples/echo_server.rs");
/// The comment that marks that line in the example, on the line above it.
const MARK: &str = "The one line that differs";

pub fn run(unix: UnixEcho) -> Result {
    let (unix_bind, inet_bind) = the_line_that_differs()?;
    println!("2. The same echo over AF_INET: one line changes (examples/echo_server.rs)");
    println!("     AF_UNIX  {unix_bind}");
    println!("     AF_INET  {inet_bind}");
    let mut server = ServerChild::spawn(&["serve", "--inet", "127.0.0.1:0"])?;
    let line = server.wait_for_line_starting("listening on inet:")?;
    let addr: SocketAddr = line["listening on inet:".len()..].trim().parse()?;
    println!(
        "   `uds-demo serve --inet 127.0.0.1:0` (pid {}): {addr}",
        server.pid()
    );
    let mut stream = connect_inet(addr)?;
    let lines = echo_readings(&mut stream)?;
    for line in &lines {
        println!("   {line}");
    }
    let same = lines
        .iter()
        .zip(&unix.lines)
        .filter(|(a, b)| a == b)
        .count();
    println!(
        "   lines identical to step 1's: {same} of {} (one function, echo_readings)",
        lines.len()
    );
    let path = unix.path.clone();
    let connect_unix = move || -> Result<UnixStream> {
        let stream = UnixStream::connect(&path).map_err(|e| format!("connect: {e}"))?;
        set_timeouts(&stream, REPLY_TIMEOUT, None)?;
        Ok(stream)
    };
    let unix_server = Server {
        pid: unix.server.pid(),
        connect: &connect_unix,
    };
    let inet_server = Server {
        pid: server.pid(),
        connect: &|| connect_inet(addr),
    };
    round_trips::print(&unix_server, &inet_server)
}

/// A TCP client as step 1's Unix client, plus TCP_NODELAY: without it, Nagle's algorithm may
/// hold a small frame back for a while.
fn connect_inet(addr: SocketAddr) -> Result<TcpStream> {
    let stream = TcpStream::connect(addr).map_err(|e| format!("connect {addr}: {e}"))?;
    set_timeouts(&stream, REPLY_TIMEOUT, None)?;
    stream
        .set_nodelay(true)
        .map_err(|e| format!("setsockopt TCP_NODELAY: {e}"))?;
    Ok(stream)
}

/// The bind lines of the example's two forms, without their error handling: each is the line
/// after a comment that contains [`MARK`].
fn the_line_that_differs() -> Result<(String, String)> {
    let lines: Vec<&str> = EXAMPLE.lines().collect();
    let marked: Vec<String> = lines
        .windows(2)
        .filter(|pair| pair[0].contains(MARK))
        .map(|pair| {
            let line = pair[1].trim();
            line.split(".map_err").next().unwrap_or(line).to_string()
        })
        .collect();
    let find = |listener: &str| {
        marked
            .iter()
            .find(|l| l.contains(listener))
            .cloned()
            .ok_or(format!(
                "examples/echo_server.rs: no {listener} line after {MARK:?}"
            ))
    };
    Ok((find("UnixListener::bind")?, find("TcpListener::bind")?))
}
