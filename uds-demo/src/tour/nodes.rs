//! Step 8: processes as nodes (the lecture's closing argument). Two network namespaces are
//! two network stacks, as two hosts have: each its own interfaces, addresses and loopback.
//! The tour joins two new ones with a veth pair (a virtual cable), starts `uds-demo serve
//! --inet` in one and `uds-demo client --inet` in the other: the step 2 code, unchanged, now
//! talking across a link. Only root may create namespaces; otherwise the step says so and
//! runs the same two commands over loopback. Each client times the same echoes (of a reading
//! drawn for this run); as root, a client beside the server times them over loopback too,
//! in rounds that take turns with the clients across the link, so the lecture's "local edges
//! are faster than remote ones" is decided by p50s measured alike, against how much they
//! moved from round to round ([`local_claim`]). Without a remote edge it is not checked.
//!
//! By hand, as root:
//!
//! ```text
//! ip netns add a; ip netns add b
//! ip link add veth0 netns a type veth peer name veth1 netns b
//! ip -n a addr add 10.0.0.1/24 dev veth0; ip -n a link set veth0 up
//! ip -n b addr add 10.0.0.2/24 dev veth1; ip -n b link set veth1 up
//! ip netns exec a cargo run -p uds-demo -- serve --inet 10.0.0.1:7878
//! ip netns exec b cargo run -p uds-demo -- client --inet 10.0.0.1:7878
//! ip netns del a; ip netns del b          # the veth pair goes with them
//! ```

use std::process::{Command, Stdio};
use std::time::Duration;

use plumbing::child::Child;
use plumbing::tour::heading;
use plumbing::verdict;
use plumbing::{Result, cpu, stats};
use uds_demo::server_child::ServerChild;

mod claim;
mod namespaces;
use claim::{Round, local_claim};
use namespaces::Namespaces;

/// The two ends of the veth pair. Each namespace is new, so fixed addresses clash with nothing.
const SERVER_ADDR: &str = "10.0.0.1";
const CLIENT_ADDR: &str = "10.0.0.2";

pub fn run() -> Result {
    heading(
        8,
        "Processes as nodes: step 2's serve and client on two network stacks",
    );
    let reading = super::drawn_reading();
    match Namespaces::create()? {
        Ok(ns) => across_namespaces(ns, &reading),
        Err(why) => {
            println!("   {why}");
            println!("   so: the same two commands over loopback, in this namespace");
            let mut server = ServerChild::spawn(&["serve", "--inet", "127.0.0.1:0"])?;
            let line = server.wait_for_line_starting("listening on inet:")?;
            let at = line["listening on inet:".len()..].trim().to_string();
            let local = p50(&echo_between(
                &mut server,
                Command::new(exe()?),
                &at,
                &reading,
            )?)?;
            println!("   {ECHOES} echoes over loopback, p50 {local} µs; no remote edge here to");
            println!("   compare it with: local versus remote is not checked in this run");
            Ok(())
        }
    }
}

/// As root: the server in one namespace, clients in both, timed in rounds; decides the
/// claim, then removes the namespaces.
fn across_namespaces(mut ns: Namespaces, reading: &str) -> Result {
    println!("   two network namespaces, joined by a veth pair:");
    println!("   server side {} {SERVER_ADDR}/24", ns.server);
    println!("   client side {} {CLIENT_ADDR}/24", ns.client);
    // The server and every client inherit this CPU: a wakeup on another one would cost
    // more than either edge, and which CPU each landed on would decide the rounds.
    let cpu = cpu::two_cpus()?[0];
    let pinned = cpu::pin_for_now(cpu)?;
    let at = format!("{SERVER_ADDR}:7878");
    let mut server = ServerChild::spawn_in(&ns.server, &["serve", "--inet", &at])?;
    server.wait_for_line_starting("listening on inet:")?;
    let rounds = time_rounds(&mut server, &ns, &at, reading)?;
    drop(server); // killed and reaped: no process is left inside
    drop(pinned);
    println!("   {ROUNDS} rounds of {ECHOES} echoes across the veth pair and from a client");
    println!("   beside the server (its loopback), taking turns going first, all on CPU {cpu};");
    println!("   p50 in µs, one column a round:");
    for line in round_rows(&rounds) {
        println!("   {line}");
    }
    let (v, because) = local_claim(&rounds);
    verdict::record("a local edge is faster than a remote one", v, because);
    ns.remove()?;
    println!("   removed the veth pair and both namespaces: `ip netns list` shows neither");
    Ok(())
}

/// How many echoes each client times, one connection each.
const ECHOES: u64 = 50;
/// Echoes each client sends before those it times: the first pays for a new connection's
/// cold path (the veth pair's neighbour lookup, caches, the server's first wakeup).
const WARM_UP: u64 = 5;
/// Rounds of step 8, each timing the remote and the local edge back to back so that a slow
/// moment of the machine touches both alike; even, so each goes first in half of them. On
/// the machine this was written on, where the two edges are equal to the µs, a chance streak
/// decided 1 run in 40 with 6 rounds (up to 9 in 45 beside two other tours); with 10, none
/// in 40 (1 in 45).
const ROUNDS: usize = 10;

fn exe() -> Result<std::path::PathBuf> {
    Ok(std::env::current_exe().map_err(|e| format!("current_exe: {e}"))?)
}

/// `ip netns exec NETNS uds-demo`: this program, started inside `netns`.
fn in_netns(netns: &str) -> Result<Command> {
    let mut command = Command::new("ip");
    command.args(["netns", "exec", netns]).arg(exe()?);
    Ok(command)
}

/// Runs `client` (a command that starts this program) against `server` at `at`, prints its
/// first echo and who the server saw; returns the round trip of each echo, in µs.
fn echo_between(
    server: &mut ServerChild,
    client: Command,
    at: &str,
    reading: &str,
) -> Result<Vec<u64>> {
    let (first, samples) = timed_echoes(client, at, reading)?;
    let peer = server.wait_for_line_starting("conn 1: peer ")?;
    println!("   {first}");
    println!("   server (pid {}): {peer}", server.pid());
    println!("   the code is step 2's; only the addresses changed");
    Ok(samples)
}

/// [`ROUNDS`] rounds of the same echoes from the client's namespace (across the veth pair)
/// and from the server's (over its loopback), the veth pair first in even rounds. The very
/// first client also shows its echo and who the server saw.
fn time_rounds(
    server: &mut ServerChild,
    ns: &Namespaces,
    at: &str,
    reading: &str,
) -> Result<Vec<Round>> {
    let p50_from = |netns: &str| p50(&timed_echoes(in_netns(netns)?, at, reading)?.1);
    let mut rounds = Vec::with_capacity(ROUNDS);
    for round in 0..ROUNDS {
        let (remote_us, local_us) = if round % 2 == 0 {
            let remote = match round {
                0 => p50(&echo_between(server, in_netns(&ns.client)?, at, reading)?)?,
                _ => p50_from(&ns.client)?,
            };
            (remote, p50_from(&ns.server)?)
        } else {
            let local = p50_from(&ns.server)?;
            (p50_from(&ns.client)?, local)
        };
        rounds.push(Round {
            remote_us,
            local_us,
        });
    }
    Ok(rounds)
}

/// The rounds as two rows, "veth pair" and "loopback", each round a column as wide as its
/// wider p50: 80 columns hold 10 rounds of p50s up to 99 ms.
fn round_rows(rounds: &[Round]) -> [String; 2] {
    let mut rows = [String::from("veth pair"), String::from("loopback ")];
    for r in rounds {
        let (remote, local) = (r.remote_us.to_string(), r.local_us.to_string());
        let width = remote.len().max(local.len());
        rows[0] += &format!(" {remote:>width$}");
        rows[1] += &format!(" {local:>width$}");
    }
    rows
}

/// Runs `client` with [`WARM_UP`] and then [`ECHOES`] echoes of `reading` to `at`; returns
/// "client (pid N): " and its first echo line, and each timed echo's round trip in µs as the
/// client printed it.
fn timed_echoes(mut client: Command, at: &str, reading: &str) -> Result<(String, Vec<u64>)> {
    let count = (WARM_UP + ECHOES).to_string();
    client
        .args(["client", "--inet", at, "--count", &count, reading])
        .stdin(Stdio::null())
        .stdout(Stdio::piped());
    let mut client = Child::spawn(&mut client)?;
    let mut first = None;
    let mut samples = Vec::new();
    for echo_no in 0..WARM_UP + ECHOES {
        let echo = client.expect_line(Duration::from_secs(5))?;
        let us = round_trip_us(&echo).ok_or(format!("client said {echo:?}"))?;
        if echo_no >= WARM_UP {
            samples.push(us);
        }
        first.get_or_insert(format!("client (pid {}): {echo}", client.pid()));
    }
    client.wait_ok(Duration::from_secs(5))?;
    Ok((first.unwrap_or_default(), samples))
}

/// The round trip at the end of a client's line, "echo: ... (18 bytes, 2239 µs)" or
/// "(..., 2.2 ms)", in µs.
fn round_trip_us(line: &str) -> Option<u64> {
    let time = line.strip_suffix(')')?.rsplit(", ").next()?;
    if let Some(us) = time.strip_suffix(" µs") {
        return us.parse().ok();
    }
    let ms: f64 = time.strip_suffix(" ms")?.parse().ok()?;
    Some((ms * 1000.0).round() as u64)
}

fn p50(samples: &[u64]) -> Result<u64> {
    let mut sorted = samples.to_vec();
    sorted.sort_unstable();
    Ok(stats::nearest_rank(&sorted, 0.5).ok_or("no echoes timed")?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_round_is_a_column_of_the_two_rows() {
        let round = |remote_us, local_us| Round {
            remote_us,
            local_us,
        };
        let rows = round_rows(&[round(7, 12), round(56, 7), round(1234, 9)]);
        assert_eq!(rows[0], "veth pair  7 56 1234");
        assert_eq!(rows[1], "loopback  12  7    9");
    }

    #[test]
    fn round_trips_are_read_in_either_unit() {
        let line = "echo: temperature: 23.17 (18 bytes, 2239 µs)";
        assert_eq!(round_trip_us(line), Some(2239));
        assert_eq!(round_trip_us("echo: x (1 bytes, 2.2 ms)"), Some(2200));
        assert_eq!(round_trip_us("echo: x"), None);
        assert_eq!(p50(&[5, 1, 3, 2]).ok(), Some(2));
    }
}
