//! The end of step 2: what one echo costs over AF_UNIX and over AF_INET on loopback, with the
//! tour and the server pinned to CPUs (sched_setaffinity), once on the same CPU and once on
//! two. Where the two processes run matters as much as the family: on another CPU every echo
//! waits for a wakeup there. Percentiles of this run only; `compare` measures properly.

use std::io::{Read, Write};
use std::time::Instant;

use nix::unistd::Pid;
use plumbing::stats::{self, Summary};
use plumbing::{Result, cpu, stop};
use uds_demo::echo_once;

use crate::echo_server::REPLY_TIMEOUT;

/// Echoes timed per placement and family, after as many untimed ones.
const SAMPLES: usize = 1000;
const WARM_UP: usize = 100;

/// A way to reach one of the step's servers: its pid, and a function that connects to it.
pub struct Server<'a, S> {
    pub pid: Pid,
    pub connect: &'a dyn Fn() -> Result<S>,
}

/// Prints the table: one row per family, one column per placement.
pub fn print<U: Read + Write, T: Read + Write>(
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
    println!("   one short run; `cargo run --release -p compare` measures them all\n");
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
