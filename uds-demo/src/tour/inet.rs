//! Step 2: the same echo over AF_INET. First the one line that differs between the Unix and
//! the TCP form of the lecture's echo server, read from `examples/echo_server.rs` itself (at
//! build time), so what is shown is what the example runs. Then `uds-demo serve --inet
//! 127.0.0.1:0`, the accept loop of step 1 on a `TcpListener`, and step 1's own client
//! function, `echo_readings`, on a `TcpStream`: the lines printed are identical. Last, what an
//! echo costs over each family, with the tour and the server pinned to CPUs
//! (sched_setaffinity), once on the same CPU and once on two. Where the two processes run
//! matters as much as the family: on another CPU every echo waits for a wakeup there.
//! Percentiles of this run only; `compare` measures properly.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::os::unix::net::UnixStream;
use std::time::Instant;

use nix::unistd::Pid;
use plumbing::stats::{self, Summary};
use plumbing::tour::heading;
use plumbing::{Result, cpu, stop};
use uds_demo::echo_once;
use uds_demo::server_child::ServerChild;
use uds_demo::timeouts::{REPLY_TIMEOUT, set_timeouts};

use super::echo::{UnixEcho, echo_readings};

/// The lecture's echo server, whose two forms differ in one line.
const EXAMPLE: &str = include_str!("../../examples/echo_server.rs");
/// The comment that marks that line in the example, on the line above it.
const MARK: &str = "The one line that differs";

/// Echoes timed per placement and family, after as many untimed ones.
const SAMPLES: usize = 1000;
const WARM_UP: usize = 100;

pub fn run(unix: UnixEcho) -> Result {
    let (unix_bind, inet_bind) = the_line_that_differs()?;
    heading(
        2,
        "The same echo over AF_INET: one line changes (examples/echo_server.rs)",
    );
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
    print_round_trips(&unix_server, &inet_server)
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

// ---------------------------------------------------------------------------------------------
// What one echo costs over each family, by placement.

/// A way to reach one of the step's servers: its pid, and a function that connects to it.
struct Server<'a, S> {
    pid: Pid,
    connect: &'a dyn Fn() -> Result<S>,
}

/// Prints the table: one row per family, one column per placement.
fn print_round_trips<U: Read + Write, T: Read + Write>(
    unix: &Server<'_, U>,
    inet: &Server<'_, T>,
) -> Result {
    let [first, second] = cpu::two_cpus()?;
    let mut placements = vec![(format!("same CPU {first}"), first)];
    if second != first {
        placements.push((format!("CPU {first} and {second}"), second));
    }
    println!("   round trip of a 15-byte echo in µs, p50 / p99 of {SAMPLES} (after {WARM_UP}),");
    println!("   the tour on CPU {first}, the server where the column says:");
    let header: Vec<String> = placements
        .iter()
        .map(|(name, _)| format!("{name:<18}"))
        .collect();
    println!("   {:<10}{}", "", header.join(""));
    let mut unix_row = Vec::new();
    let mut inet_row = Vec::new();
    for (_, server_cpu) in &placements {
        unix_row.push(cell(measure(unix, first, *server_cpu)?));
        inet_row.push(cell(measure(inet, first, *server_cpu)?));
    }
    println!("   {:<10}{}", "AF_UNIX", unix_row.join("").trim_end());
    println!("   {:<10}{}", "AF_INET", inet_row.join("").trim_end());
    if second == first {
        println!("   (one CPU allowed here: no second placement)");
    }
    println!("   one short run; `cargo run --release -p compare` measures them all");
    Ok(())
}

fn cell(summary: Summary) -> String {
    let us = |ns: u64| format!("{:.1}", ns as f64 / 1000.0);
    format!(
        "{:<18}",
        format!("{} / {}", us(summary.p50), us(summary.p99))
    )
}

/// Pins the server to `server_cpu` and us to `tour_cpu`, then times echoes on a new
/// connection. Only the server's main thread is pinned: the thread it starts for the new
/// connection inherits that CPU.
fn measure<S: Read + Write>(
    server: &Server<'_, S>,
    tour_cpu: usize,
    server_cpu: usize,
) -> Result<Summary> {
    cpu::pin(server.pid, server_cpu)?;
    let _pinned = cpu::pin_for_now(tour_cpu)?;
    let mut stream = (server.connect)()?;
    let mut samples = Vec::with_capacity(SAMPLES);
    for i in 0..WARM_UP + SAMPLES {
        stop::check()?;
        let start = Instant::now();
        echo_once(&mut stream, b"temperature: 42", REPLY_TIMEOUT)
            .map_err(|e| format!("echo: {e}"))?;
        let ns = start.elapsed().as_nanos();
        if i >= WARM_UP {
            samples.push(u64::try_from(ns).unwrap_or(u64::MAX));
        }
    }
    Ok(stats::summarize(&mut samples).ok_or("no samples")?)
}
