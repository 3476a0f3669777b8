//! Step 2: the same echo server over AF_INET. `uds-demo serve --inet 127.0.0.1:0` runs the very
//! code of step 1 on a TcpListener; the client's echo code is step 1's too. Only the address
//! changed, and the lines printed are identical. The round trip is not: TCP goes through the
//! network stack even on loopback.

use std::net::{SocketAddr, TcpStream};

use plumbing::Result;

use crate::echo_server::{REPLY_TIMEOUT, set_timeouts};
use crate::server_child::ServerChild;
use crate::unix_echo::{UnixEcho, echo_readings, median_round_trip_us};

pub fn run(unix: &UnixEcho) -> Result {
    let mut server = ServerChild::spawn(&["serve", "--inet", "127.0.0.1:0"])?;
    let line = server.wait_for_line_starting("listening on inet:")?;
    let addr: SocketAddr = line["listening on inet:".len()..].trim().parse()?;
    println!(
        "2. The same echo function over AF_INET: `uds-demo serve --inet 127.0.0.1:0` -> {addr}"
    );
    let mut stream = TcpStream::connect(addr).map_err(|e| format!("connect {addr}: {e}"))?;
    set_timeouts(&stream, REPLY_TIMEOUT, None)?;
    // Without TCP_NODELAY, Nagle's algorithm may hold a small frame back for a while.
    stream
        .set_nodelay(true)
        .map_err(|e| format!("setsockopt TCP_NODELAY: {e}"))?;
    let lines = echo_readings(&mut stream)?;
    for line in &lines {
        println!("   {line}");
    }
    let same = lines
        .iter()
        .zip(&unix.lines)
        .filter(|(a, b)| a == b)
        .count();
    println!("   lines identical to AF_UNIX: {same} of {}", lines.len());
    let us = median_round_trip_us(&mut stream, 200)?;
    println!(
        "   median round trip over 200 echoes: {us} µs (AF_UNIX: {} µs)\n",
        unix.median_us
    );
    Ok(())
}
