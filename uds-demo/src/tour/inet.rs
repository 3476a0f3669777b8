//! Step 2: the same echo over AF_INET. First the one line that differs between the Unix and
//! the TCP form of the lecture's echo server, read from `examples/echo_server.rs` itself (at
//! build time), so what is shown is what the example runs. Then `uds-demo serve --inet
//! 127.0.0.1:0`, the accept loop of step 1 on a `TcpListener`, and step 1's own client
//! function, `echo_readings`, on a `TcpStream`: the lines printed are identical. Last, what an
//! echo costs over each family, with the tour and the server pinned to CPUs
//! (sched_setaffinity), once on the same CPU and once on two. Where the two processes run
//! matters as much as the family: on another CPU every echo waits for a wakeup there.
//! Percentiles of this run only; `compare` measures properly.
//!
//! Checks three claims of the lecture: one API for both families, std's two stream types,
//! and the Unix socket being the faster (see the functions ending in `_claim`).

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::os::unix::net::UnixStream;
use std::time::Instant;

use nix::unistd::Pid;
use plumbing::stats::{self, Summary};
use plumbing::tour::heading;
use plumbing::verdict::{self, Verdict, judge};
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
    let (v, because) = same_api_claim(same, lines.len());
    verdict::record("AF_UNIX has the network sockets' API", v, because);
    let types = [unix.stream_type, std::any::type_name_of_val(&stream)];
    let (v, because) = std_claim(types);
    verdict::record("Rust's std has UnixStream beside TcpStream", v, because);
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
    let timed = print_round_trips(&unix_server, &inet_server)?;
    let (v, because) = faster_claim(&timed);
    verdict::record("local only, so faster than the network stack", v, because);
    Ok(())
}

/// The lecture: a Unix socket has the API of a network socket. Holds when one function,
/// generic over the stream, echoed every reading alike over both families.
pub fn same_api_claim(same: usize, of: usize) -> (Verdict, String) {
    let because = format!("one function echoed {same} of {of} readings alike over both");
    (judge(of > 0 && same == of, false), because)
}

/// The lecture: Rust's std has a UnixStream beside the TcpStream. `types` are the names of
/// the types step 1 and step 2 echoed through.
pub fn std_claim(types: [&str; 2]) -> (Verdict, String) {
    let [unix, inet] = types;
    let holds = unix.starts_with("std::")
        && unix.ends_with("::UnixStream")
        && inet.starts_with("std::")
        && inet.ends_with("::TcpStream");
    (
        judge(holds, false),
        format!("the echoes went through {unix} and {inet}"),
    )
}

/// One placement's p50 round trips: its name, AF_UNIX's and AF_INET's, in tenths of a µs (as
/// the table prints them).
pub type Timed = (String, u64, u64);

/// The lecture: a Unix socket is a kernel buffer that never leaves the machine, so it is
/// faster than the network stack. Confirmed when its p50 beat TCP loopback's in every
/// placement, qualified when in some, refuted when in none.
pub fn faster_claim(timed: &[Timed]) -> (Verdict, String) {
    let us = |tenths: u64| format!("{}.{}", tenths / 10, tenths % 10);
    let cells: Vec<String> = timed
        .iter()
        .map(|(place, unix, inet)| format!("{} vs {} µs ({place})", us(*unix), us(*inet)))
        .collect();
    let faster = timed.iter().filter(|(_, unix, inet)| unix < inet).count();
    let because = format!("p50 AF_UNIX vs AF_INET {}", cells.join(", "));
    (judge(faster > 0, faster < timed.len()), because)
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

/// Prints the table: one row per family, one column per placement. Returns each placement's
/// p50s, as printed.
fn print_round_trips<U: Read + Write, T: Read + Write>(
    unix: &Server<'_, U>,
    inet: &Server<'_, T>,
) -> Result<Vec<Timed>> {
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
    let mut timed = Vec::new();
    for (name, server_cpu) in &placements {
        let over_unix = measure(unix, first, *server_cpu)?;
        let over_inet = measure(inet, first, *server_cpu)?;
        unix_row.push(cell(over_unix));
        inet_row.push(cell(over_inet));
        timed.push((name.clone(), tenths(over_unix.p50), tenths(over_inet.p50)));
    }
    println!("   {:<10}{}", "AF_UNIX", unix_row.join("").trim_end());
    println!("   {:<10}{}", "AF_INET", inet_row.join("").trim_end());
    if second == first {
        println!("   (one CPU allowed here: no second placement)");
    }
    println!("   one short run; `cargo run --release -p compare` measures them all");
    Ok(timed)
}

fn cell(summary: Summary) -> String {
    let us = |ns: u64| {
        let t = tenths(ns);
        format!("{}.{}", t / 10, t % 10)
    };
    format!(
        "{:<18}",
        format!("{} / {}", us(summary.p50), us(summary.p99))
    )
}

/// Nanoseconds in tenths of a microsecond, rounded to the nearest (as the table shows them).
fn tenths(ns: u64) -> u64 {
    (ns + 50) / 100
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_api_needs_every_echo_alike() {
        assert_eq!(same_api_claim(3, 3).0, Verdict::Confirmed);
        assert_eq!(same_api_claim(2, 3).0, Verdict::Refuted);
        assert_eq!(same_api_claim(0, 0).0, Verdict::Refuted);
        assert!(same_api_claim(3, 3).1.contains("3 of 3"));
    }

    #[test]
    fn std_has_both_stream_types_only_if_both_came_from_std() {
        let unix = "std::os::unix::net::stream::UnixStream";
        let inet = "std::net::tcp::TcpStream";
        assert_eq!(std_claim([unix, inet]).0, Verdict::Confirmed);
        assert_eq!(std_claim(["mio::UnixStream", inet]).0, Verdict::Refuted);
        assert_eq!(std_claim([inet, unix]).0, Verdict::Refuted);
    }

    #[test]
    fn faster_follows_the_p50s() {
        let row = |place: &str, unix, inet| (place.to_string(), unix, inet);
        let both = [row("same CPU 0", 56, 62), row("CPU 0 and 1", 434, 545)];
        let (v, because) = faster_claim(&both);
        assert_eq!(v, Verdict::Confirmed);
        assert_eq!(
            because,
            "p50 AF_UNIX vs AF_INET 5.6 vs 6.2 µs (same CPU 0), 43.4 vs 54.5 µs (CPU 0 and 1)"
        );
        let one = [row("same CPU 0", 56, 62), row("CPU 0 and 1", 545, 434)];
        assert_eq!(faster_claim(&one).0, Verdict::Qualified);
        let none = [row("same CPU 0", 62, 62)];
        assert_eq!(faster_claim(&none).0, Verdict::Refuted);
    }

    #[test]
    fn tenths_round_as_the_table_does() {
        assert_eq!(tenths(5_649), 56);
        assert_eq!(tenths(5_650), 57);
        assert_eq!(tenths(43_449), 434);
    }
}
