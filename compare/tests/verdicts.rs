//! "The lecture, checked on this machine", recomputed from the same run's JSON: every verdict
//! follows the rows' numbers by its rule, and every number its line quotes is the rows' own
//! (round-trip p50s exactly, as integers in ns; CPU and setup within the JSON's 3 significant
//! digits). The table's design rows are judged from the probes' facts.
#![allow(clippy::unwrap_used)]

mod common;

use serde_json::Value;
use testkit::stderr;

use common::{compare, json_rows};

/// As compare prints µs: 3 significant digits, the format chosen after rounding (9997 ns is
/// "10.0").
fn us(ns: u64) -> String {
    let decimals = |u: f64| match u {
        u if u < 10.0 => 2,
        u if u < 100.0 => 1,
        _ => 0,
    };
    let us = ns as f64 / 1000.0;
    let rounded: f64 = format!("{us:.*}", decimals(us)).parse().unwrap();
    format!("{us:.*}", decimals(rounded))
}

fn words(place: &str) -> &'static str {
    if place == "same" {
        "same core"
    } else {
        "different cores"
    }
}

struct Run {
    rows: Vec<Value>,
    verdicts: Vec<Value>,
}

impl Run {
    fn row(&self, key: &str, place: &str, size: u64) -> Option<&Value> {
        self.rows
            .iter()
            .find(|r| r["key"] == key && r["placement"] == place && r["size"] == size)
            .filter(|r| r["status"] == "ok")
    }

    fn p50(&self, key: &str, place: &str, size: u64) -> Option<u64> {
        self.row(key, place, size)?["rtt_p50_ns"].as_u64()
    }

    fn verdict(&self, claim: &str) -> Option<(String, String)> {
        let v = self.verdicts.iter().find(|v| v["claim"] == claim)?;
        Some((
            v["verdict"].as_str()?.to_string(),
            v["because"].as_str()?.to_string(),
        ))
    }
}

fn run(args: &[&str]) -> Run {
    let mut all = args.to_vec();
    all.extend(["--format", "json"]);
    let out = compare(&all);
    assert!(out.status.success(), "{}", stderr(&out));
    let json: Value = serde_json::from_slice(&out.stdout).unwrap();
    Run {
        rows: json_rows(&out),
        verdicts: json["verdicts"].as_array().unwrap().clone(),
    }
}

/// CONFIRMED when it held in every placement, QUALIFIED in some, REFUTED in none.
fn by_placements(wins: &[bool]) -> &'static str {
    match (wins.contains(&true), wins.contains(&false)) {
        (true, false) => "CONFIRMED",
        (true, true) => "QUALIFIED",
        _ => "REFUTED",
    }
}

fn check_sockets(run: &Run) {
    let mut wins = Vec::new();
    let mut seen = Vec::new();
    for place in ["same", "split"] {
        let (u, t) = (
            run.p50("uds-stream", place, 64).unwrap(),
            run.p50("tcp", place, 64).unwrap(),
        );
        wins.push(u < t);
        seen.push(format!(
            "{}: UDS stream {} µs, TCP loopback {} µs",
            words(place),
            us(u),
            us(t)
        ));
    }
    let (verdict, because) = run
        .verdict("a Unix socket is faster than a network socket")
        .unwrap();
    assert_eq!(verdict, by_placements(&wins), "{because}");
    assert_eq!(because, format!("64 B round trips: {}", seen.join("; ")));
}

fn check_signals(run: &Run) {
    let (s, p) = (
        run.row("signal", "same", 0).unwrap(),
        run.row("pipe", "same", 64).unwrap(),
    );
    let (sp, pp) = (
        s["rtt_p50_ns"].as_u64().unwrap(),
        p["rtt_p50_ns"].as_u64().unwrap(),
    );
    let (sc, pc) = (
        s["cpu_us_per_msg"].as_f64().unwrap(),
        p["cpu_us_per_msg"].as_f64().unwrap(),
    );
    let (verdict, because) = run
        .verdict("signals are the lightest communication")
        .unwrap();
    let want = match (sp <= pp, sc <= pc) {
        (true, true) => "CONFIRMED",
        (false, false) => "REFUTED",
        _ => "QUALIFIED",
    };
    assert_eq!(verdict, want, "{because}");
    let start = format!("one core, per round trip: signal {} µs, ", us(sp));
    assert!(because.starts_with(&start), "{because}");
    assert!(
        because.contains(&format!("; pipe (64 B) {} µs, ", us(pp))),
        "{because}"
    );
    // CPU: printed to 0.01 µs, the JSON to 3 significant digits.
    let (first, second) = because.split_once("; pipe (64 B) ").unwrap();
    let cpu = |part: &str, end: &str| -> f64 {
        part.rsplit(", ")
            .next()
            .unwrap()
            .strip_suffix(end)
            .unwrap()
            .parse()
            .unwrap()
    };
    let printed = [cpu(first, " µs CPU per message"), cpu(second, " µs")];
    for (printed, json) in printed.iter().zip([sc, pc]) {
        assert!(
            (printed - json).abs() <= 0.006 + json * 0.005,
            "{printed} vs {json}: {because}"
        );
    }
}

fn check_fastest(run: &Run) {
    let mut wins = Vec::new();
    let mut seen = Vec::new();
    for place in ["split", "same"] {
        let mut all: Vec<(u64, &str, bool)> = run
            .rows
            .iter()
            .filter(|r| r["placement"] == place && r["size"] == 64 && r["status"] == "ok")
            .map(|r| {
                let shared = r["data"].as_str().unwrap().contains("shared");
                (
                    r["rtt_p50_ns"].as_u64().unwrap(),
                    r["mechanism"].as_str().unwrap(),
                    shared,
                )
            })
            .collect();
        all.sort_by_key(|a| a.0); // stable: ties in the report's order
        let (p50, label, shared) = all[0];
        wins.push(shared);
        seen.push(format!("{}: fastest {label} {} µs", words(place), us(p50)));
    }
    let (verdict, because) = run.verdict("shared memory is the fastest IPC").unwrap();
    assert_eq!(verdict, by_placements(&wins), "{because}");
    assert_eq!(because, format!("64 B round trips: {}", seen.join("; ")));
}

fn check_copies(run: &Run, largest: u64, size: &str) {
    let mut wins = Vec::new();
    let mut seen = Vec::new();
    for place in ["split", "same"] {
        let z = run.p50("shm-zero-copy", place, largest).unwrap();
        let p = run.p50("pipe", place, largest).unwrap();
        wins.push(z < p);
        seen.push(format!(
            "{}: shm (zero-copy) {} µs, pipe {} µs",
            words(place),
            us(z),
            us(p)
        ));
    }
    let claim = "shared memory without copies beats copying through the kernel";
    let (verdict, because) = run.verdict(claim).unwrap();
    assert_eq!(verdict, by_placements(&wins), "{because}");
    assert_eq!(because, format!("{size} round trips: {}", seen.join("; ")));
}

fn check_setup(run: &Run) {
    let setup = |key: &str| run.rows.iter().find(|r| r["key"] == key).unwrap()["setup_us"].as_f64();
    let pipe = setup("pipe").unwrap();
    let mut others: Vec<(f64, String)> = Vec::new();
    for r in &run.rows {
        let label = r["mechanism"].as_str().unwrap().to_string();
        let key = r["key"].as_str().unwrap();
        if key != "pipe" && r["verified"] == true && !others.iter().any(|(_, l)| *l == label) {
            others.push((setup(key).unwrap(), label));
        }
    }
    let least = others.iter().map(|o| o.0).fold(f64::MAX, f64::min);
    let (verdict, because) = run.verdict("pipes are the lightest IPC to set up").unwrap();
    let want = match (least < pipe * 0.8, least < pipe) {
        (true, _) => "REFUTED",
        (false, true) => "QUALIFIED",
        _ => "CONFIRMED",
    };
    // A value within the JSON's rounding of the pipe's may fall either side.
    let close = (least - pipe).abs() <= pipe * 0.01 || (least - pipe * 0.8).abs() <= pipe * 0.01;
    assert!(close || verdict == want, "{verdict} vs {want}: {because}");
    let printed: f64 = because["pipe ".len()..]
        .split(' ')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    assert!((printed - pipe).abs() <= 0.05 + pipe * 0.005, "{because}");
    for (us, label) in &others {
        if *us < pipe * 0.99 {
            assert!(because.contains(&format!("{label} ")), "{label}: {because}");
        }
    }
}

/// The lecture's words for a probed column, judged by a probe's fact (as compare's table).
fn judged(word: &str, fact: &str) -> Option<u8> {
    let word = word.rsplit(": ").next().unwrap().to_lowercase();
    let (c, q, r): (&[&str], &[&str], &[&str]) = match word.as_str() {
        "uni" => (&["one_way"], &[], &["both_ways", "no_ends"]),
        "bi" => (&["both_ways"], &["no_ends"], &["one_way"]),
        "stream" | "raw" => (&["stream"], &[], &["messages"]),
        "messages" => (&["messages"], &[], &["stream"]),
        "anonymous" => (&["no_name"], &[], &["by_name"]),
        "named" | "by pid" => (&["by_name"], &[], &["no_name"]),
        "persistent" => (&["outlived"], &["name_only"], &["gone"]),
        "transient" => (&["gone"], &[], &["outlived", "name_only"]),
        _ => return None,
    };
    [c, q, r]
        .iter()
        .position(|set| set.contains(&fact))
        .map(|i| i as u8)
}

fn check_design_rows(run: &Run) {
    let mut checked = 0;
    for v in &run.verdicts {
        let claim = v["claim"].as_str().unwrap();
        let Some(rest) = claim.strip_prefix("the table's ") else {
            continue;
        };
        let (_, rest) = rest.split_once(" row (").unwrap();
        let (said, label) = rest.split_once(") for ").unwrap();
        let row = run.rows.iter().find(|r| r["mechanism"] == label).unwrap();
        let because = v["because"].as_str().unwrap();
        let mut cells = Vec::new();
        for (column, word) in ["structure", "direction", "naming", "persistence"]
            .iter()
            .zip(said.split(", "))
        {
            let probe = &row["probes"][column];
            if let Some(fact) = probe["fact"].as_str() {
                assert!(
                    because.contains(probe["seen"].as_str().unwrap()),
                    "{column}: {because}"
                );
                cells.extend(judged(word, fact).map(|j| (j, word)));
            }
        }
        let worst = cells.iter().map(|(j, _)| *j).max().unwrap();
        let want = ["CONFIRMED", "QUALIFIED", "REFUTED"][usize::from(worst)];
        assert_eq!(v["verdict"], want, "{claim}: {because}");
        // A row not confirmed names the cells that decided it, in the table's words.
        let decided: Vec<&str> = cells
            .iter()
            .filter(|(j, _)| *j == worst)
            .map(|(_, w)| *w)
            .collect();
        let tail = format!("; {}: {}", want.to_lowercase(), decided.join(", "));
        assert_eq!(worst > 0, because.ends_with(&tail), "{claim}: {because}");
        checked += 1;
    }
    assert!(checked >= 10, "{checked} design rows");
}

#[test]
fn every_verdict_is_recomputed_from_the_same_run_s_rows() {
    if std::thread::available_parallelism().map_or(1, |n| n.get()) < 2 {
        eprintln!("skipped: the placement claims need two CPUs");
        return;
    }
    let run = run(&["--quick", "--sizes", "64,16384"]);
    check_design_rows(&run);
    check_setup(&run);
    check_signals(&run);
    check_fastest(&run);
    check_copies(&run, 16384, "16 KiB");
    check_sockets(&run);
    assert_eq!(run.verdicts.len(), 12 + 5, "{:#?}", run.verdicts);
}

#[test]
fn a_claim_whose_numbers_the_run_lacks_gets_no_line() {
    // One core only, one size, no zero-copy row, no TCP: neither the copies nor the sockets.
    let run = run(&[
        "--quick",
        "--only",
        "pipe,signal,uds-stream",
        "--placement",
        "same",
    ]);
    let claims: Vec<&str> = run
        .verdicts
        .iter()
        .map(|v| v["claim"].as_str().unwrap())
        .collect();
    assert!(
        claims
            .iter()
            .all(|c| !c.starts_with("a Unix socket") && !c.contains("without copies")),
        "{claims:#?}"
    );
    assert!(
        claims.contains(&"signals are the lightest communication"),
        "{claims:#?}"
    );
    check_signals(&run);
    // Shared memory alone: nothing outside it to beat, so no "fastest IPC" line (the table's
    // Shared Mem rows are still judged).
    let run = crate::run(&["--quick", "--only", "shm"]);
    let claims: Vec<&str> = run
        .verdicts
        .iter()
        .map(|v| v["claim"].as_str().unwrap())
        .collect();
    assert!(!claims.iter().any(|c| c.contains("fastest")), "{claims:#?}");
    assert!(
        claims
            .iter()
            .any(|c| c.starts_with("the table's Shared Mem row")),
        "{claims:#?}"
    );
}
