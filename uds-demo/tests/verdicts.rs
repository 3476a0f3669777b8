//! The tour's closing block, "The lecture, checked on this machine": one line per claim,
//! each CONFIRMED, QUALIFIED or REFUTED. Every line must quote the numbers its step printed
//! earlier in the same run, and carry the verdict those numbers call for. Each test spawns the
//! binary as a user would.
#![allow(clippy::unwrap_used)]

mod common;

use std::process::Command;
use std::time::Duration;

use common::{BIN, is_root};
use nix::errno::Errno;
use testkit::verdicts::{Tour, between, leading_number, run_tour, verdict};

fn run(command: &mut Command) -> Tour {
    run_tour(command, Duration::from_secs(120), "uds-demo").0
}

fn tour(args: &[&str]) -> Tour {
    run(Command::new(BIN).args(args))
}

/// The errno a step line such as "connect now: No such file ... (os error 2)" shows, or
/// "accepted".
fn errno_after(run: &Tour, before: &str) -> String {
    let text = run.after(before);
    match text.split_once("(os error ") {
        Some((_, code)) => format!("{:?}", Errno::from_raw(leading_number(code) as i32)),
        None => {
            assert!(text.starts_with("accepted"), "{text}");
            "accepted".to_string()
        }
    }
}

/// The numbers inside the `[...]` of a step line.
fn list_after(run: &Tour, before: &str) -> Vec<usize> {
    let inner = between(run.after(before), "[", "]");
    inner.split(", ").map(|n| n.parse().unwrap()).collect()
}

fn same_api(run: &Tour) {
    let c = run.claim("AF_UNIX has the network sockets' API");
    let same = run.number_after("lines identical to step 1's: ");
    let of = leading_number(between(
        run.after("lines identical to step 1's: "),
        " of ",
        " ",
    ));
    assert_eq!(
        c.because,
        format!("one function echoed {same} of {of} readings alike over both")
    );
    assert_eq!(c.verdict, verdict(of > 0 && same == of, false));
}

fn std_types(run: &Tour) {
    let c = run.claim("Rust's std has UnixStream beside TcpStream");
    let (unix, inet) = (c.because.strip_prefix("the echoes went through "))
        .and_then(|types| types.split_once(" and "))
        .unwrap_or_else(|| panic!("{}", c.because));
    assert!(unix.starts_with("std::") && unix.ends_with("::UnixStream"));
    assert!(inet.starts_with("std::") && inet.ends_with("::TcpStream"));
    assert_eq!(c.verdict, "CONFIRMED");
}

/// Step 2's table: each placement's name, and the p50 of each family there, in tenths of µs.
fn round_trips(run: &Tour) -> Vec<(String, u64, u64)> {
    let header = run.after("the server where the column says:\n");
    let places: Vec<&str> = header
        .split("  ")
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .collect();
    let p50s = |family: &str| -> Vec<u64> {
        let row = run.after(&format!("   {family}   "));
        row.split_whitespace()
            .collect::<Vec<_>>()
            .chunks(3)
            .map(|cell| {
                let (whole, tenth) = cell[0].split_once('.').unwrap();
                whole.parse::<u64>().unwrap() * 10 + tenth.parse::<u64>().unwrap()
            })
            .collect()
    };
    let (unix, inet) = (p50s("AF_UNIX"), p50s("AF_INET"));
    assert_eq!(places.len(), unix.len(), "{header}");
    assert_eq!(places.len(), inet.len());
    (0..places.len())
        .map(|i| (places[i].to_string(), unix[i], inet[i]))
        .collect()
}

fn faster(run: &Tour) {
    let c = run.claim("local only, so faster than the network stack");
    let timed = round_trips(run);
    let us = |t: u64| format!("{}.{}", t / 10, t % 10);
    let cells: Vec<String> = timed
        .iter()
        .map(|(place, unix, inet)| format!("{} vs {} µs ({place})", us(*unix), us(*inet)))
        .collect();
    assert_eq!(
        c.because,
        format!("p50 AF_UNIX vs AF_INET {}", cells.join(", "))
    );
    let faster = timed.iter().filter(|(_, u, i)| u < i).count();
    assert_eq!(c.verdict, verdict(faster > 0, faster < timed.len()));
}

fn modes(run: &Tour) {
    let c = run.claim("stream and datagram, as TCP and UDP");
    let wrote: Vec<usize> = run
        .after("   wrote ")
        .split_whitespace()
        .filter_map(|w| w.parse().ok())
        .collect();
    let mut kept = Vec::new();
    let mut counts = Vec::new();
    for name in [
        "UnixStream:   ",
        "TcpStream:    ",
        "UnixDatagram: ",
        "UdpSocket:    ",
    ] {
        let reads = list_after(run, name);
        assert_eq!(run.number_after(name) as usize, reads.len());
        let said = run.after(name).rsplit(": ").next().unwrap();
        let expected = match reads == wrote {
            true => "boundaries kept",
            false => "boundaries merged",
        };
        assert_eq!(said, expected, "{name}");
        kept.push(reads == wrote);
        counts.push(reads.len());
    }
    let expected = format!(
        "{} writes came out of {} and {} read(s) on UnixStream and TCP, {} and {} on \
         UnixDatagram and UDP",
        wrote.len(),
        counts[0],
        counts[1],
        counts[2],
        counts[3]
    );
    assert_eq!(c.because, expected);
    assert_eq!(
        c.verdict,
        verdict(!kept[0] && !kept[1] && kept[2] && kept[3], false)
    );
}

fn peer(run: &Tour, uid: u32) {
    let c = run.claim("the kernel mediates, SO_PEERCRED names the peer");
    let told = run.after("the server learned from the kernel: peer ");
    let told_pid = leading_number(between(told, "pid=", " "));
    let told_uid = leading_number(between(told, "uid=", " "));
    // The pid of the process this test started: a fake cannot know it in advance.
    assert_eq!(told_pid, u64::from(run.pid), "{told}");
    let other = run
        .steps
        .contains("the server: conn 2: refused: peer uid ")
        .then(|| run.number_after("the server: conn 2: refused: peer uid "));
    let mut expected = format!(
        "the server was told pid {told_pid} uid {told_uid}; the client was pid {} uid {uid}",
        run.pid
    );
    expected += &match other {
        Some(u) => format!("; uid 65534's client was refused as uid {u}"),
        None => "; another uid not tried (needs root)".to_string(),
    };
    assert_eq!(c.because, expected);
    let holds = told_uid == u64::from(uid) && other.is_none_or(|u| u == 65534);
    assert_eq!(c.verdict, verdict(holds, false));
}

fn one_line(run: &Tour) {
    let c = run.claim("one line switches AF_UNIX to AF_INET");
    let unix = run.quoted_after("   and echoed ");
    let tcp = run.quoted_after("a TCP server (pid ");
    let replaced = run
        .steps
        .contains("replaced stale socket file DIR/stale.sock");
    let line = run.after("its socket file: mode ");
    let (mode, path) = (&line[..4], leading_number(between(line, ", a ", "-byte")));
    let removed = run.after("its file removed: ") == "true";
    let mut done = Vec::new();
    if replaced {
        done.push("replaced a stale file".to_string());
    }
    if mode == "0600" {
        done.push("bound it mode 0600".to_string());
    }
    if removed {
        done.push("removed it on SIGTERM".to_string());
    }
    let extra = done.len();
    let fit = format!("fit a {path}-byte path in sun_path (107)");
    let done = match done.is_empty() {
        true => fit,
        false => format!("{} and {fit}", done.join(", ")),
    };
    let echo = match unix == tcp {
        true => "one echo function served both",
        false => "the echoes differed",
    };
    assert_eq!(c.because, format!("{echo}; the Unix server alone {done}"));
    assert_eq!(c.verdict, verdict(unix == tcp, extra > 0));
}

fn failures(run: &Tour) {
    let c = run.claim("the failure modes are the network's");
    let stale_connect = errno_after(run, "   connect to it: ");
    let unix_rebind = errno_after(run, "   bind to it: ");
    let gone_connect = errno_after(run, "   connect now: ");
    let tcp_rebind = errno_after(run, "bind to its port: ");
    assert_eq!(
        c.because,
        format!(
            "a killed server's file: connect {stale_connect}, bind {unix_rebind}; its port: \
             bind {tcp_rebind}; a removed file: connect {gone_connect}"
        )
    );
    let only_unix = usize::from(unix_rebind != "accepted" && tcp_rebind == "accepted")
        + usize::from(gone_connect == "ENOENT");
    let expected = ["CONFIRMED", "QUALIFIED", "REFUTED"][only_unix];
    assert_eq!(c.verdict, expected);
}

/// As root with `ip`: step 8 printed each round's p50s (a row per edge); the claim
/// quotes the median of the rounds' ratios and their spread (the median distance from it, at
/// least what 1 µs does to a ratio), recomputed here, and carries the verdict they call for.
/// Otherwise the step says why there is no verdict, and the block has none.
fn local(run: &Tour) -> bool {
    if !run.steps.contains("\n   veth pair ") {
        assert!(
            run.steps.contains("no remote edge here to"),
            "{}",
            run.steps
        );
        assert!(
            !run.claims.iter().any(|c| c.claim.contains("local edge")),
            "{:?}",
            run.claims
        );
        return false;
    }
    let c = run.claim("a local edge is faster than a remote one");
    let row = |name: &str| -> Vec<f64> {
        let row = run.after(&format!("\n   {name} "));
        row.split_whitespace().map(|p| p.parse().unwrap()).collect()
    };
    let (remote, local) = (row("veth pair"), row("loopback"));
    assert_eq!(remote.len(), local.len());
    let rounds: Vec<(f64, f64)> = remote.into_iter().zip(local).collect();
    let n = rounds.len();
    let line = run.line_with(" echoes across the veth pair and from a client");
    assert_eq!(leading_number(line.trim_start()), n as u64, "{line}");
    let count = leading_number(between(line, " rounds of ", " "));
    // A p50 under 1 µs counts as 1 µs, the clients' resolution.
    let ratios: Vec<f64> = rounds.iter().map(|(r, l)| r / l.max(1.0)).collect();
    let ratio = median(&ratios);
    let deviation = median(&ratios.iter().map(|r| (r - ratio).abs()).collect::<Vec<_>>());
    let one_us = 1.0 / median(&rounds.iter().map(|(_, l)| l.max(1.0)).collect::<Vec<_>>());
    let spread = deviation.max(one_us);
    let by = if deviation < one_us {
        " (floored at 1 µs, the clients' resolution)"
    } else {
        ""
    };
    let measured = format!(
        "p50 veth pair / loopback, median of {n} rounds of {count} echoes {ratio:.2}x, \
         spread ±{spread:.2}{by}"
    );
    assert!(
        c.because.starts_with(&measured),
        "{}\n{measured}",
        c.because
    );
    let won = rounds.iter().filter(|(r, l)| r > l).count();
    let lost = rounds.iter().filter(|(r, l)| r < l).count();
    let (ratio, spread) = ((ratio * 100.0).round(), (spread * 100.0).round());
    let confirmed = won + 1 >= n && ratio - spread > 100.0;
    let refuted = lost + 1 >= n && ratio + spread <= 100.0;
    let expected = verdict(!refuted, !confirmed);
    assert_eq!(c.verdict, expected, "{}", c.because);
    let tail = match expected {
        "CONFIRMED" => format!("; loopback faster in {won} of {n}"),
        "REFUTED" => format!("; the veth pair faster in {lost} of {n}"),
        _ => ": within the spread, as one kernel serves both ends and a veth pair is a \
               software cable; a real remote edge adds a NIC and a wire"
            .to_string(),
    };
    assert_eq!(c.because, format!("{measured}{tail}"));
    true
}

/// The middle of `values` (the mean of the two middle ones for an even count).
fn median(values: &[f64]) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let mid = sorted.len() / 2;
    match sorted.len() % 2 {
        1 => sorted[mid],
        _ => (sorted[mid - 1] + sorted[mid]) / 2.0,
    }
}

/// Every check, on one run of the whole tour.
fn check_every_claim(run: &Tour, uid: u32) {
    same_api(run);
    std_types(run);
    faster(run);
    modes(run);
    peer(run, uid);
    one_line(run);
    failures(run);
    let judged_local = local(run);
    run.assert_claims(7 + usize::from(judged_local));
}

#[test]
fn every_claim_quotes_this_runs_numbers_with_the_verdict_they_call_for() {
    let run = tour(&[]);
    check_every_claim(&run, nix::unistd::Uid::effective().as_raw());
}

/// As root, once more as `nobody`: no namespaces, no other uid; the lines say so.
#[test]
fn every_claim_holds_together_as_an_ordinary_user_too() {
    if !is_root() {
        println!("skipped: not root, so the test above already ran unprivileged");
        return;
    }
    let copy = common::binary_for_nobody();
    let mut command = copy.command();
    command.env("TMPDIR", "/tmp");
    let nobody = run(&mut command);
    drop(copy);
    check_every_claim(&nobody, 65534);
    assert!(!local(&nobody));
    let peer = nobody.claim("the kernel mediates");
    assert!(peer.because.ends_with("another uid not tried (needs root)"));
}

/// The readings steps 5, 7 and 8 echo are drawn per run: a fake that printed a fixed echo
/// would show the same one twice.
#[test]
fn the_echoed_readings_are_drawn_per_run() {
    let readings = |run: &Tour| -> Vec<String> {
        let mut seen = vec![
            run.quoted_after("   echoed ").to_string(),
            run.quoted_after("   and echoed ").to_string(),
        ];
        // step 7's TCP server echoed the same reading as its Unix one
        assert_eq!(run.quoted_after("a TCP server (pid "), seen[1]);
        seen.push(between(run.after("): echo: "), "", " (").to_string());
        seen
    };
    let first = readings(&join(tour(&["abstract"]), &tour(&["stale"]), &tour(&["8"])));
    let second = readings(&join(tour(&["abstract"]), &tour(&["stale"]), &tour(&["8"])));
    for reading in first.iter().chain(&second) {
        assert!(reading.starts_with("temperature: "), "{reading}");
    }
    for (a, b) in first.iter().zip(&second) {
        assert_ne!(a, b);
    }
}

/// The steps of three runs, as one text (the claims and pid of the first).
fn join(first: Tour, second: &Tour, third: &Tour) -> Tour {
    Tour {
        steps: format!("{}{}{}", first.steps, second.steps, third.steps),
        ..first
    }
}

/// A step run alone ends with its own claims and no others'.
#[test]
fn a_step_run_alone_prints_its_own_claims() {
    let steps: [(&str, &[&str]); 8] = [
        ("echo", &[]),
        (
            "inet",
            &[
                "AF_UNIX has the network",
                "Rust's std has",
                "local only, so faster",
            ],
        ),
        ("boundaries", &["stream and datagram"]),
        ("pass-fd", &[]),
        ("abstract", &["the kernel mediates"]),
        ("framing", &[]),
        ("stale", &["one line switches", "the failure modes"]),
        ("nodes", &["a local edge"]),
    ];
    for (step, claims) in steps {
        let run = tour(&[step]);
        let judged = match step {
            "nodes" if !run.steps.contains("\n   veth pair ") => &[][..],
            _ => claims,
        };
        run.assert_claims_start(judged, step);
    }
}
