//! The "x pipe" column, recomputed from the rounds. Each row's x pipe is the median over the
//! rounds of (its p50 in round k) / (the pipe's p50 in round k), at the same placement and size
//! (a signal, which carries no bytes: the pipe at 64 B); its spread is the median distance of
//! those ratios from the median, over the median; `~` marks a spread over 10%. The JSON has
//! every round's p50 in ns, so its ratios are rebuilt exactly; the terminal table is checked
//! against the same run's progress lines on stderr, which give each round's p50 as printed.
#![allow(clippy::unwrap_used)]

mod common;

use std::collections::HashMap;
use std::process::Command;

use serde_json::Value;

use common::{BIN, compare, json_rows};
use testkit::stderr;

/// The documented threshold of the x pipe's mark.
const MARK_ABOVE: f64 = 0.10;

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    let n = values.len();
    match n % 2 {
        1 => values[n / 2],
        _ => (values[n / 2 - 1] + values[n / 2]) / 2.0,
    }
}

/// (median, spread): the median of `ratios`, and the median of their distances from it over it.
fn statistic(ratios: &[f64]) -> (f64, f64) {
    let m = median(ratios.to_vec());
    let off: Vec<f64> = ratios.iter().map(|r| (r - m).abs()).collect();
    (m, median(off) / m)
}

/// `x` to 3 significant digits, as JSON keeps every number that is not whole ns.
fn sig3(x: f64) -> f64 {
    let scale = 10f64.powi(2 - x.abs().log10().floor() as i32);
    format!("{:.12}", (x * scale).round() / scale)
        .parse()
        .unwrap()
}

fn p50s(row: &Value) -> Vec<u64> {
    let each = row["rtt_round_p50s_ns"].as_array().unwrap();
    each.iter().map(|v| v.as_u64().unwrap()).collect()
}

fn usable_cpus() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

#[test]
fn every_x_pipe_is_the_median_of_its_rounds_ratios_to_the_pipe() {
    // An even number of rounds (the median is the mean of the middle two), and a doorbell.
    let out = compare(&[
        "--quick",
        "--only",
        "pipe,uds-stream,shm-spin,signal",
        "--sizes",
        "64,1024",
        "--rounds",
        "6",
        "--format",
        "json",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let rows = json_rows(&out);
    let pipe = |place: &Value, size: u64| {
        rows.iter()
            .find(|r| r["key"] == "pipe" && r["placement"] == *place && r["size"] == size)
            .unwrap()
    };
    let (mut checked, mut not_headlines) = (0, 0);
    for row in &rows {
        let what = format!("{} {} {}", row["key"], row["placement"], row["size"]);
        if row["status"] != "ok" {
            assert!(row["x_pipe"].is_null(), "{what}: no rounds, no ratio");
            continue;
        }
        let size = match row["size"].as_u64().unwrap() {
            0 => 64,
            size => size,
        };
        let theirs = pipe(&row["placement"], size);
        let ratios: Vec<f64> = p50s(row)
            .iter()
            .zip(p50s(theirs))
            .map(|(mine, pipe)| *mine as f64 / pipe as f64)
            .collect();
        assert_eq!(ratios.len(), 6, "{what}");
        let (x, spread) = statistic(&ratios);
        let kept: Vec<f64> = ratios.iter().map(|r| sig3(*r)).collect();
        assert_eq!(
            row["x_pipe_round_ratios"],
            serde_json::json!(kept),
            "{what}"
        );
        assert_eq!(row["x_pipe"].as_f64(), Some(sig3(x)), "{what}: {ratios:?}");
        assert_eq!(row["x_pipe_size"].as_u64(), Some(size), "{what}");
        if spread == 0.0 {
            assert_eq!(row["x_pipe_spread"].as_f64(), Some(0.0), "{what}");
        } else {
            assert_eq!(row["x_pipe_spread"].as_f64(), Some(sig3(spread)), "{what}");
        }
        if (spread - MARK_ABOVE).abs() > 1e-9 {
            let marked = row["x_pipe_rounds_disagree"].as_bool().unwrap();
            assert_eq!(marked, spread > MARK_ABOVE, "{what}: {ratios:?}");
        }
        if row["key"] == "pipe" {
            assert_eq!(row["x_pipe"].as_f64(), Some(1.0), "{what}");
        }
        let headlines =
            row["rtt_p50_ns"].as_f64().unwrap() / theirs["rtt_p50_ns"].as_f64().unwrap();
        not_headlines += usize::from(sig3(headlines) != sig3(x));
        checked += 1;
    }
    assert_eq!(checked, 7 * usable_cpus().min(2), "{rows:#?}");
    // The headlines' ratio is another number: a run shows it in some row.
    eprintln!("{not_headlines} of {checked} x pipes differ from the ratio of the headlines");
}

/// The progress lines' round-trip p50s by label ("pipe, 64 B, same core"), in µs as printed.
fn progress_p50s(err: &str) -> HashMap<String, Vec<String>> {
    let mut found: HashMap<String, Vec<String>> = HashMap::new();
    for line in err.lines() {
        let Some((_, rest)) = line.split_once("] ") else {
            continue;
        };
        let Some((label, result)) = rest.split_once(": p50 ") else {
            continue;
        };
        let p50 = result.split_once(" µs").unwrap().0;
        found.entry(label.to_string()).or_default().push(p50.into());
    }
    found
}

/// The values a number printed as `printed` may have had.
fn range(printed: &str) -> (f64, f64) {
    let decimals = printed.split_once('.').map_or(0, |(_, f)| f.len());
    let half = 0.5 * 10f64.powi(-(decimals as i32));
    let v: f64 = printed.parse().unwrap();
    (v - half, v + half)
}

/// Every table of the terminal report: its column headers (both header lines joined by a
/// space) and its rows, cells trimmed.
fn tables(text: &str) -> Vec<(Vec<String>, Vec<Vec<String>>)> {
    let cells = |line: &str| -> Vec<String> {
        let inner = line.trim().trim_start_matches('│').trim_end_matches('│');
        inner.split('┆').map(|c| c.trim().to_string()).collect()
    };
    let mut found = Vec::new();
    let lines: Vec<&str> = text.lines().collect();
    for (i, line) in lines.iter().enumerate() {
        if !line.starts_with('┌') {
            continue;
        }
        let header: Vec<String> = cells(lines[i + 1])
            .iter()
            .zip(cells(lines[i + 2]))
            .map(|(a, b)| format!("{a} {b}").trim().to_string())
            .collect();
        let rows = lines[i + 1..]
            .iter()
            .take_while(|l| !l.starts_with('└'))
            .filter(|l| l.starts_with('│'))
            .map(|l| cells(l))
            .filter(|c| !c[0].is_empty())
            .skip(1)
            .collect();
        found.push((header, rows));
    }
    found
}

#[test]
fn the_terminal_table_shows_the_x_pipe_of_its_own_rounds() {
    let placements = usable_cpus().min(2);
    for columns in ["120", "80"] {
        let out = Command::new(BIN)
            .args(["--quick", "--only", "pipe,uds-stream,shm-spin,signal"])
            .args(["--rounds", "5"])
            .env("COLUMNS", columns)
            .output()
            .unwrap();
        let err = stderr(&out);
        let text = String::from_utf8(out.stdout).unwrap();
        assert!(out.status.success(), "{err}");
        let rounds = progress_p50s(&err);
        let mut shown = 0;
        for (header, rows) in tables(&text) {
            for (at, name) in header.iter().enumerate() {
                let Some(place) = name.strip_prefix("x pipe ") else {
                    continue;
                };
                for row in &rows {
                    let name = row[0].split(" [").next().unwrap();
                    let label = match name {
                        l if l.starts_with("signal") => "signal, no payload".to_string(),
                        l => format!("{l}, 64 B"),
                    };
                    let mine = &rounds[&format!("{label}, {place}")];
                    let pipe = &rounds[&format!("pipe, 64 B, {place}")];
                    check_cell(&row[at], mine, pipe, &format!("{label}, {place}\n{text}"));
                    shown += 1;
                }
            }
        }
        assert_eq!(
            shown,
            4 * placements,
            "x pipe cells at {columns} columns:\n{text}"
        );
        assert!(
            text.contains("x pipe: each row's p50 divided by the pipe's p50"),
            "{text}"
        );
    }
    // Markdown: one table, "x pipe, 64 B, same core" beside the round trips.
    let out = compare(&[
        "--quick",
        "--only",
        "pipe,shm-spin,signal",
        "--rounds",
        "5",
        "--format",
        "markdown",
    ]);
    let err = stderr(&out);
    let text = String::from_utf8(out.stdout).unwrap();
    let rounds = progress_p50s(&err);
    let table: Vec<Vec<String>> = text
        .lines()
        .skip_while(|l| !l.starts_with("### Design space"))
        .skip_while(|l| !l.starts_with('|'))
        .take_while(|l| l.starts_with('|'))
        .filter(|l| !l.starts_with("|-"))
        .map(|l| {
            let inner = l.trim().trim_start_matches('|').trim_end_matches('|');
            inner.split('|').map(|c| c.trim().to_string()).collect()
        })
        .collect();
    let mut shown = 0;
    for (at, name) in table[0].iter().enumerate() {
        let Some(place) = name.strip_prefix("x pipe, 64 B, ") else {
            continue;
        };
        let place = place.replace("different cores", "diff. cores");
        for row in &table[1..] {
            let label = match row[0].as_str() {
                "signal" => "signal, no payload".to_string(),
                l => format!("{l}, 64 B"),
            };
            let mine = &rounds[&format!("{label}, {place}")];
            let pipe = &rounds[&format!("pipe, 64 B, {place}")];
            check_cell(&row[at], mine, pipe, &format!("{label}, {place}\n{text}"));
            shown += 1;
        }
    }
    assert_eq!(shown, 3 * placements, "x pipe cells in Markdown:\n{text}");
}

/// One x pipe cell ("1.07 ±3%", "1.07~ ±14%", "1.00" for the pipe) against the rounds of its
/// row and of the pipe as the progress lines printed them.
fn check_cell(cell: &str, mine: &[String], pipe: &[String], what: &str) {
    assert_eq!(mine.len(), pipe.len(), "{what}");
    // Each round's ratio lies between its lowest and highest reading of the printed p50s;
    // a median is monotone in each value, so the median lies between theirs.
    let (mut low, mut high, mut mid) = (Vec::new(), Vec::new(), Vec::new());
    for (m, p) in mine.iter().zip(pipe) {
        let ((m0, m1), (p0, p1)) = (range(m), range(p));
        low.push(m0 / p1);
        high.push(m1 / p0);
        mid.push(m.parse::<f64>().unwrap() / p.parse::<f64>().unwrap());
    }
    let (lo, hi) = (median(low), median(high));
    let mut words = cell.split_whitespace();
    let (value, marked) = match words.next().unwrap() {
        v if v.ends_with('~') => (v.trim_end_matches('~'), true),
        v => (v, false),
    };
    let (v0, v1) = range(value);
    assert!(v1 >= lo && v0 <= hi, "{cell:?}: not {lo}..={hi}, {what}");
    let Some(spread) = words.next() else {
        assert_eq!(
            cell, "1.00",
            "only the pipe's own cell has no spread: {what}"
        );
        return;
    };
    // The spread and mark, where the printed p50s' rounding cannot hide which side it fell.
    let percent: f64 = spread
        .strip_prefix('±')
        .and_then(|s| s.strip_suffix('%'))
        .unwrap()
        .parse()
        .unwrap();
    let (_, computed) = statistic(&mid);
    assert!(
        (percent - 100.0 * computed).abs() <= 2.5,
        "{cell:?}: the rounds spread ±{:.1}%, {what}",
        100.0 * computed
    );
    if (computed - MARK_ABOVE).abs() > 0.02 {
        assert_eq!(marked, computed > MARK_ABOVE, "{cell:?}: {mid:?}, {what}");
    }
}

#[test]
fn without_the_pipe_there_is_no_column_and_the_json_says_why() {
    let args = [
        "--quick",
        "--only",
        "uds-stream,shm-spin",
        "--placement",
        "same",
    ];
    let out = compare(&args);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(!text.contains("x pipe"), "{text}");
    let out = compare(&[&args[..], &["--format", "json"]].concat());
    for row in json_rows(&out) {
        assert!(row["x_pipe"].is_null(), "{row}");
        let note = row["x_pipe_note"].as_str().unwrap();
        assert!(note.contains("pipe was not measured"), "{row}");
    }
}

#[test]
fn a_ring_is_not_set_against_a_pipe_message_larger_than_64_bytes() {
    let args = [
        "--quick",
        "--only",
        "pipe,signal",
        "--sizes",
        "4096",
        "--placement",
        "same",
    ];
    let out = compare(&[&args[..], &["--format", "json"]].concat());
    assert!(out.status.success(), "{}", stderr(&out));
    let rows = json_rows(&out);
    let signal = rows.iter().find(|r| r["key"] == "signal").unwrap();
    assert!(signal["x_pipe"].is_null(), "{signal}");
    let note = signal["x_pipe_note"].as_str().unwrap();
    assert!(
        note.contains("carries no bytes") && note.contains("4 KiB"),
        "{note}"
    );
    let pipe = rows.iter().find(|r| r["key"] == "pipe").unwrap();
    assert_eq!(pipe["x_pipe"].as_f64(), Some(1.0), "{pipe}");
    // The table says why in a note; the lesson keeps its times without a ratio.
    let out = compare(&args);
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.contains("signal x pipe: none: a ring carries no bytes"),
        "{text}"
    );
    assert!(!text.contains("x the pipe, round by round"), "{text}");
}
