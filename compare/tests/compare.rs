//! End-to-end runs of the `compare` binary, checking what it printed.
#![allow(clippy::unwrap_used)]

mod common;

use std::io::{BufRead, BufReader};
use std::os::unix::process::CommandExt;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use serde_json::Value;
use testkit::{
    TempDir, exit_within, output_within, processes_in_group, start_carelessly, stderr, with_umask,
};

use common::{BIN, compare, json_rows, kill_the_echo_mid_run};

/// Every row the issue asks for, by `--only` name.
const ALL: [&str; 12] = [
    "pipe",
    "fifo",
    "signal",
    "mq",
    "sysv-mq",
    "shm-spin",
    "shm-blocking",
    "shm-zero-copy",
    "uds-stream",
    "uds-datagram",
    "tcp",
    "udp",
];

/// How compare's progress lines name a size.
fn size_words(size: u64) -> String {
    match size {
        0 => "no payload".to_string(),
        s if s >= 1024 && s % 1024 == 0 => format!("{} KiB", s / 1024),
        s => format!("{s} B"),
    }
}

fn usable_cpus() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

#[test]
fn quick_json_has_every_row_with_sane_numbers() {
    let out = compare(&["--quick", "--format", "json", "--sizes", "64,65536"]);
    let err = stderr(&out);
    assert!(
        out.status.success(),
        "exit {:?}; stderr:\n{err}",
        out.status
    );
    let rows = json_rows(&out);
    let split_possible = usable_cpus() >= 2;

    for key in ALL {
        for placement in ["same", "split"] {
            let mine: Vec<&Value> = rows
                .iter()
                .filter(|r| r["key"] == key && r["placement"] == placement)
                .collect();
            let sizes: Vec<u64> = mine.iter().map(|r| r["size"].as_u64().unwrap()).collect();
            let want: &[u64] = if key == "signal" { &[0] } else { &[64, 65536] };
            assert_eq!(sizes, want, "{key} {placement}: sizes");
            for row in mine {
                for column in [
                    "data",
                    "structure",
                    "direction",
                    "naming",
                    "coordination",
                    "persistence",
                ] {
                    assert!(!row[column].as_str().unwrap().is_empty(), "{key}: {column}");
                }
                assert!(!row["verification"].as_str().unwrap().is_empty());
                assert_eq!(row["verified"], key != "signal", "{key}: payload checked");
                let status = row["status"].as_str().unwrap();
                if placement == "split" && !split_possible {
                    assert_eq!(status, "n/a", "{key}: split on one CPU must be n/a");
                    assert!(
                        row["reason"]
                            .as_str()
                            .unwrap()
                            .contains("cannot run on different cores")
                    );
                    assert!(row["cpus"].is_null());
                    continue;
                }
                if key.ends_with("mq") && row["size"] == 65536 {
                    // Above msgsize_max or msgmax (8192 by default): not applicable, never
                    // clamped.
                    assert_eq!(status, "n/a", "{key} 64 KiB: {row}");
                    let knob = if key == "mq" { "msgsize_max" } else { "msgmax" };
                    assert!(row["reason"].as_str().unwrap().contains(knob), "{row}");
                    assert!(
                        row["rtt_p50_ns"].is_null(),
                        "a number for an n/a size: {row}"
                    );
                    continue;
                }
                if key == "udp" && row["size"] == 65536 {
                    // Above the largest UDP payload over IPv4: not applicable, never split.
                    assert_eq!(status, "n/a", "{key} 64 KiB: {row}");
                    assert!(row["reason"].as_str().unwrap().contains("65507"), "{row}");
                    continue;
                }
                assert_eq!(status, "ok", "{key} {placement}: {row}");
                let p50 = row["rtt_p50_ns"].as_u64().unwrap();
                let p99 = row["rtt_p99_ns"].as_u64().unwrap();
                let max = row["rtt_max_ns"].as_u64().unwrap();
                assert!(
                    p50 > 0 && p99 >= p50 && max >= p99,
                    "{key}: {p50} {p99} {max}"
                );
                assert!(row["samples"].as_u64().unwrap() >= 1);
                assert!(row["cpu_us_per_msg"].as_f64().unwrap() >= 0.0);
                assert!(row["setup_us"].as_f64().unwrap() > 0.0, "{key}: setup");
                if key == "signal" || key == "udp" {
                    // No bytes; or UDP, which drops what a one-way stream overruns.
                    assert!(row["throughput_mib_s"].is_null());
                } else {
                    assert!(
                        row["throughput_mib_s"].as_f64().unwrap() > 0.0,
                        "{key}: MiB/s"
                    );
                }
                let cpus = row["cpus"].as_array().unwrap();
                assert_eq!(
                    cpus[0] == cpus[1],
                    placement == "same",
                    "{key}: cpus {cpus:?}"
                );
            }
        }
    }
    // Not on a terminal: one progress line per measurement, "[ i/n]" counting up (a cell
    // that does not apply is not measured again after its first round), each whole (a log
    // has no width; only the line rewritten on a terminal fits 80 columns); every measured
    // cell has one line per round; the log closes with the count at its total
    // (`tests/progress.rs` checks what that line says).
    let mut progress: Vec<&str> = err.lines().filter(|l| l.contains("] ")).collect();
    let closing = progress.pop().unwrap_or_default();
    assert!(closing.contains("] done: "), "no closing line:\n{err}");
    let mut last = 0;
    for line in progress.iter().chain([&closing]) {
        assert!(!line.contains('…'), "cut short: {line}");
        let (i, n): (usize, usize) = line
            .split_once('[')
            .and_then(|(_, rest)| rest.split_once(']'))
            .and_then(|(count, _)| count.trim().split_once('/'))
            .and_then(|(i, n)| Some((i.trim().parse().ok()?, n.parse().ok()?)))
            .unwrap_or_else(|| panic!("no [i/n] in {line}"));
        match *line == closing {
            true => assert!(i >= last && i == n, "{line} after [{last}/..]"),
            false => assert!(i > last && i <= n, "{line} after [{last}/..]"),
        }
        last = i;
    }
    for row in rows.iter().filter(|r| r["status"] == "ok") {
        let place = match row["placement"].as_str().unwrap() {
            "same" => "same core",
            _ => "diff. cores",
        };
        let label = format!(
            "] {}, {}, {place}: p50 ",
            row["mechanism"].as_str().unwrap(),
            size_words(row["size"].as_u64().unwrap())
        );
        let lines = progress.iter().filter(|l| l.contains(&label)).count();
        assert_eq!(
            Some(lines as u64),
            row["rounds"].as_u64(),
            "{label}:\n{err}"
        );
        assert_eq!(row["rounds"], 3, "--quick: 3 rounds");
    }
}

#[test]
fn on_one_cpu_split_is_not_applicable_and_says_why() {
    let mut cmd = Command::new(BIN);
    cmd.args(["--quick", "--only", "pipe", "--format", "json"]);
    // SAFETY: runs in the forked child before exec; sched_setaffinity is a plain system call
    // on a stack value, no allocation or lock.
    unsafe {
        cmd.pre_exec(|| {
            let mut set = nix::sched::CpuSet::new();
            set.set(0)?;
            nix::sched::sched_setaffinity(nix::unistd::Pid::from_raw(0), &set)?;
            Ok(())
        });
    }
    let out = cmd.output().expect("run compare on CPU 0");
    assert!(out.status.success(), "{}", stderr(&out));
    let rows = json_rows(&out);
    let split: Vec<&Value> = rows.iter().filter(|r| r["placement"] == "split").collect();
    assert_eq!(split.len(), 1);
    assert_eq!(split[0]["status"], "n/a");
    assert!(split[0]["rtt_p50_ns"].is_null() && split[0]["cpus"].is_null());
    let reason = split[0]["reason"].as_str().unwrap();
    assert!(
        reason.contains("only CPU 0") && reason.contains("different cores"),
        "{reason}"
    );
    let same = rows.iter().find(|r| r["placement"] == "same").unwrap();
    assert_eq!(same["status"], "ok");
    assert_eq!(same["cpus"], serde_json::json!([0, 0]));
}

#[test]
fn a_corrupted_payload_fails_the_row_and_the_run() {
    // The pipe is a byte stream; a System V queue's echo is altered where msgrcv left it, and
    // a zero-copy slot where the sender wrote it.
    for key in ["pipe", "sysv-mq", "shm-zero-copy"] {
        let out = compare(&[
            "--quick",
            "--only",
            key,
            "--placement",
            "same",
            "--format",
            "json",
            "--corrupt-after",
            "5",
        ]);
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(1), "{key}: stderr:\n{err}");
        let last = err
            .lines()
            .last()
            .unwrap_or_else(|| panic!("{key}: empty stderr"));
        assert!(
            last.starts_with("compare: ")
                && last.contains("message 5 came back changed: payload mismatch"),
            "{key}: last line: {last}"
        );
        let rows = json_rows(&out);
        assert_eq!(rows.len(), 1, "{key}");
        assert_eq!(rows[0]["status"], "failed", "{key}");
        assert!(
            rows[0]["rtt_p50_ns"].is_null(),
            "{key}: a corrupted run must not give a number"
        );
        assert!(!err.contains("panicked"), "{key}");
    }
}

#[test]
fn bad_input_is_a_one_line_usage_error() {
    let cases: &[(&[&str], i32)] = &[
        (&["--only", "smoke-signals"], 2),
        (&["--only", "pipe,"], 2),
        (&["--sizes", "0"], 2),
        (&["--sizes", "7"], 2),
        (&["--sizes", "99999999999"], 2),
        (&["--sizes", "64,abc"], 2),
        (&["--sizes", "-64"], 2),
        (&["--iters", "0"], 2),
        (&["--iters", "-5"], 2),
        (&["--iters", "100000000000"], 2),
        (&["--placement", "diagonal"], 2),
        (&["--format", "xml"], 2),
        (&["--plot", "chart.png"], 2),
        (&["--corrupt-after", "x"], 2),
        (&["--bogus"], 2),
        // Chart paths are checked with the arguments, before anything is measured.
        (
            &["--quick", "--plot", "/nonexistent-ipc-tour-dir/chart.svg"],
            2,
        ),
        (&["--plot", "a.svg", "--plot-throughput", "a.svg"], 2),
        (&["--plot-throughput", "chart.png"], 2),
        (&["--rounds", "0"], 2),
    ];
    for (args, code) in cases {
        let out = compare(args);
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(*code), "{args:?}: {err}");
        assert_eq!(err.lines().count(), 1, "{args:?}: one line, got:\n{err}");
        assert!(err.starts_with("compare: "), "{args:?}: {err}");
        assert!(!err.contains("panicked"), "{args:?}: {err}");
        assert!(out.stdout.is_empty(), "{args:?}: printed a report");
    }
    let same = compare(&["--plot", "a.svg", "--plot-throughput", "a.svg"]);
    assert!(
        stderr(&same).contains("name the same file"),
        "{}",
        stderr(&same)
    );
}

/// Kernel objects a run with this pid could have left: /dev/shm, /dev/mqueue, FIFO dirs.
fn leftovers(pid: u32) -> Vec<String> {
    let mark = format!("-{pid}-");
    let temp = std::env::temp_dir();
    let mut left = Vec::new();
    for dir in [
        std::path::Path::new("/dev/shm"),
        std::path::Path::new("/dev/mqueue"),
        temp.as_path(),
    ] {
        if let Ok(entries) = std::fs::read_dir(dir) {
            for e in entries.flatten() {
                let name = e.file_name().to_string_lossy().into_owned();
                if name.contains("ipc-tour") && name.contains(&mark) {
                    left.push(format!("{}/{name}", dir.display()));
                }
            }
        }
    }
    left
}

fn assert_group_gone(pgid: i32) {
    let deadline = Instant::now() + Duration::from_secs(2);
    while !processes_in_group(pgid).is_empty() {
        assert!(
            Instant::now() < deadline,
            "left running: {:?}",
            processes_in_group(pgid)
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn every_stop_signal_mid_run_leaves_nothing_behind() {
    let seed: u64 = std::env::var("COMPARE_TEST_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| std::process::id() as u64);
    println!("seed {seed} (set COMPARE_TEST_SEED to repeat)");
    let mut rng = StdRng::seed_from_u64(seed);
    for (signal, name, code) in [
        (libc::SIGINT, "SIGINT", 130),
        (libc::SIGTERM, "SIGTERM", 143),
        (libc::SIGHUP, "SIGHUP", 129),
        (libc::SIGQUIT, "SIGQUIT", 131),
        (libc::SIGINT, "SIGINT", 130),
    ] {
        let delay = Duration::from_millis(rng.random_range(100..1500));
        let mut child = Command::new(BIN)
            .process_group(0)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let pid = child.id();
        std::thread::sleep(delay);
        // SAFETY: kill takes two integers; the pid is our own child, not yet reaped.
        assert_eq!(unsafe { libc::kill(pid as i32, signal) }, 0);
        let status = exit_within(&mut child, Duration::from_secs(5), "compare");
        let mut err = String::new();
        std::io::Read::read_to_string(child.stderr.as_mut().unwrap(), &mut err).unwrap();
        assert_eq!(status.code(), Some(code), "after {delay:?}: {err}");
        assert_eq!(
            err.lines().last().unwrap(),
            format!("compare: stopped by {name}; removed everything this run created"),
            "after {delay:?}: {err}"
        );
        assert_group_gone(pid as i32);
        assert_eq!(leftovers(pid), Vec::<String>::new(), "after {delay:?}");
    }
}

/// System V queues have no name to look for, so this runs compare in an IPC namespace of its
/// own (root only), where /proc/sysvipc/msg lists this run's queues and nothing else: a stop
/// signal in the middle of the System V row must leave none, whenever it lands.
#[test]
fn a_stop_mid_system_v_row_leaves_no_queue() {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 || Command::new("unshare").arg("--version").output().is_err()
    {
        eprintln!("skipped: an IPC namespace of its own needs root and unshare(1)");
        return;
    }
    let mut rng = StdRng::seed_from_u64(std::process::id() as u64);
    // TERM and HUP: sh starts a background job with SIGINT and SIGQUIT ignored.
    for signal in ["TERM", "HUP", "TERM", "HUP", "TERM", "HUP", "TERM", "HUP"] {
        let delay_ms = rng.random_range(20..900);
        let script = format!(
            "\"$0\" --only sysv-mq --sizes 64,4096 --rounds 300 --iters 100 > /dev/null 2>&1 & pid=$!
             sleep {}.{:03}; kill -{signal} $pid; wait $pid; echo \"status $?\"
             cat /proc/sysvipc/msg",
            delay_ms / 1000,
            delay_ms % 1000
        );
        let mut cmd = Command::new("unshare");
        cmd.args(["--ipc", "--", "sh", "-c", &script, BIN]);
        let out = output_within(
            cmd.stdout(Stdio::piped()).spawn().unwrap(),
            Duration::from_secs(20),
            "compare in an IPC namespace",
        );
        let text = String::from_utf8_lossy(&out.stdout);
        let mut lines = text.lines();
        let status = lines.next().unwrap_or_default();
        assert!(
            ["status 129", "status 143"].contains(&status),
            "SIG{signal} after {delay_ms} ms: {text}"
        );
        let queues: Vec<&str> = lines.skip(1).filter(|l| !l.trim().is_empty()).collect();
        assert!(
            queues.is_empty(),
            "SIG{signal} after {delay_ms} ms left System V queues:\n{}",
            queues.join("\n")
        );
    }
}

#[test]
fn a_closed_stdout_ends_quietly_with_141_and_a_full_one_says_so() {
    let quick = ["--quick", "--only", "pipe", "--placement", "same"];
    // Closed before the run starts: noticed before any measurement, so no text at all.
    for format in ["table", "json"] {
        let (reader, writer) = std::io::pipe().unwrap();
        drop(reader);
        let out = Command::new(BIN)
            .args(quick)
            .args(["--format", format])
            .stdout(writer)
            .output()
            .unwrap();
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(141), "{format}: {err}");
        assert_eq!(err, "", "{format}");
    }
    let full = std::fs::File::create("/dev/full").unwrap();
    let out = Command::new(BIN).args(quick).stdout(full).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        stderr(&out),
        "compare: cannot write to stdout: No space left on device (os error 28)\n"
    );
}

#[test]
fn a_killed_child_fails_its_row_with_the_reason() {
    let run = kill_the_echo_mid_run("uds-stream");
    run.assert_row_failed("UDS stream");
    assert_group_gone(run.pgid);
}

#[test]
fn chart_is_svg_with_one_line_per_mechanism_and_csv_has_every_row() {
    let args = ["--quick", "--sizes", "64,16384", "--format", "csv"];
    let (out, svg) = plotted(&args, "--plot");
    for label in [
        "pipe",
        "FIFO",
        "signal",
        "POSIX mq",
        "SysV mq",
        "shm (spin)",
        "shm (blocking)",
        "shm (zero-copy)",
        "UDS stream",
        "UDS datagram",
        "TCP loopback",
    ] {
        assert!(
            svg.contains(&format!("\n{label}\n")),
            "legend lacks {label}"
        );
    }
    // x ticks at the measured sizes; one panel per placement.
    for tick in ["\n64 B\n", "\n16 KiB\n"] {
        assert!(svg.contains(tick), "no tick {tick:?}");
    }
    // POSIX mq cannot carry 16 KiB (msgsize_max 8192 by default): its line stops with "n/a".
    let msgsize_max: usize = std::fs::read_to_string("/proc/sys/fs/mqueue/msgsize_max")
        .map_or(0, |s| s.trim().parse().unwrap_or(0));
    if msgsize_max < 16384 {
        assert!(svg.contains("\nn/a\n"), "no n/a mark where POSIX mq stops");
    }
    let panels = svg.matches(" (CPUs ").count();
    assert_eq!(panels, usable_cpus().min(2), "one panel per placement");

    let csv = String::from_utf8(out.stdout).unwrap();
    let mut lines = csv.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    assert!(header.contains(&"rtt_p50_ns") && header.contains(&"coordination"));
    // Rows: 11 byte mechanisms (and, built with `--features peers`, the 4 peer crate rows) x 2
    // sizes + signal, for each placement; then the run's facts.
    let (facts, rows): (Vec<&str>, Vec<&str>) = lines.partition(|l| l.starts_with('#'));
    let bytes = if cfg!(feature = "peers") { 11 + 4 } else { 11 };
    assert_eq!(rows.len(), (bytes * 2 + 1) * 2);
    assert!(
        facts.iter().any(|l| l.starts_with("# kernel: Linux")),
        "{facts:?}"
    );
}

#[test]
fn two_runs_at_once_both_succeed_and_markdown_is_a_table() {
    let args = [
        "--quick",
        "--only",
        "pipe,fifo,mq,shm",
        "--placement",
        "same",
        "--format",
        "markdown",
    ];
    let a = Command::new(BIN)
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let b = Command::new(BIN)
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let limit = Duration::from_secs(60);
    for run in [
        output_within(a, limit, "compare (a)"),
        output_within(b, limit, "compare (b)"),
    ] {
        assert!(run.status.success(), "{}", stderr(&run));
        let md = String::from_utf8(run.stdout).unwrap();
        assert!(md.contains("- **machine**: Linux"), "{md}");
        for label in [
            "| pipe",
            "| FIFO",
            "| POSIX mq",
            "| shm (spin)",
            "| shm (blocking)",
        ] {
            assert!(
                md.lines().any(|l| l.starts_with(label)),
                "{label} missing:\n{md}"
            );
        }
    }
}

/// Runs compare with `args` and then `flag PATH` (`--plot` or `--plot-throughput`), PATH in a
/// directory of the test's own; the run must succeed and draw a chart ([`assert_chart`]).
/// Returns what compare printed, and the SVG.
fn plotted(args: &[&str], flag: &str) -> (Output, String) {
    let dir = TempDir::new("compare-chart");
    let path = dir.join("chart.svg");
    let path = path.to_str().expect("a UTF-8 temp dir");
    let out = compare(&[args, &[flag, path]].concat());
    assert!(out.status.success(), "{}", stderr(&out));
    let svg = std::fs::read_to_string(path).unwrap();
    assert_chart(&svg);
    (out, svg)
}

/// What every chart must be: one SVG 880 px wide, every text at least 14 px and inside the
/// canvas, a caption with the kernel and which way is better.
fn assert_chart(svg: &str) {
    assert!(
        svg.starts_with("<svg width=\"880\"") && svg.trim_end().ends_with("</svg>"),
        "not an 880 px SVG"
    );
    assert_eq!(svg.matches("<svg").count(), 1);
    assert!(
        svg.contains(" is better)") && svg.contains("Linux "),
        "caption"
    );
    let attr = |tag: &str, name: &str| -> f64 {
        let tag = format!(" {tag}");
        let at = tag.find(&format!(" {name}=\"")).unwrap() + name.len() + 3;
        tag[at..].split('"').next().unwrap().parse().unwrap()
    };
    let texts: Vec<&str> = svg.split("<text ").skip(1).collect();
    assert!(!texts.is_empty());
    for text in texts {
        let (size, x) = (attr(text, "font-size"), attr(text, "x"));
        assert!(size >= 14.0, "text under 14 px: {text}");
        assert!((0.0..880.0).contains(&x), "text outside the canvas: {text}");
    }
}

/// The cells of every table line of `text` that starts with `label`.
fn table_rows(text: &str, label: &str) -> Vec<Vec<String>> {
    text.lines()
        .filter(|l| l.starts_with(&format!("│ {label}")))
        .map(|l| {
            l.trim_matches('│')
                .split('┆')
                .map(|c| c.trim().to_string())
                .collect()
        })
        .collect()
}

/// Every line of `text` is at most `width` characters (not bytes: "µ" and "┆" are one each).
fn assert_fits(text: &str, width: usize) {
    for line in text.lines() {
        let chars = line.chars().count();
        assert!(chars <= width, "{chars} columns:\n{line}\nin:\n{text}");
    }
}

/// The reference-size round trip of `label`: the cell "p50 +N% / p99" (the only cells with a
/// spread), as (p50, p99).
fn measured_rtt(text: &str, label: &str) -> (f64, f64) {
    let rows = table_rows(text, label);
    let cell = rows
        .iter()
        .flatten()
        .find(|c| c.contains("% / "))
        .unwrap_or_else(|| panic!("{label}: no round-trip cell in {rows:?}\n{text}"));
    let number = |s: &str| -> f64 {
        s.trim_matches(|c: char| !c.is_ascii_digit() && c != '.')
            .parse()
            .unwrap_or_else(|_| panic!("{label}: {cell:?}"))
    };
    let (p50, p99) = cell.split_once(" / ").unwrap();
    let p50 = p50.split(' ').next().unwrap();
    let p99 = p99.split(' ').next().unwrap();
    (number(p50), number(p99))
}

#[test]
fn the_terminal_report_fits_120_columns_and_shows_every_row() {
    let out = compare(&[
        "--quick",
        "--only",
        "pipe,signal,mq,shm-spin",
        "--sizes",
        "64,65536",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = String::from_utf8(out.stdout).unwrap();
    assert_fits(&text, 120);
    for label in ["pipe", "signal", "POSIX mq", "shm (spin)"] {
        // The lecture's columns, the measured numbers, and for a mechanism that carries
        // bytes, latency by size (one row per placement).
        let rows = table_rows(&text, label);
        assert!(rows.len() >= 2, "{label}: {rows:?}\n{text}");
        let (p50, p99) = measured_rtt(&text, label);
        assert!(p50 > 0.0 && p99 >= p50, "{label}: {p50} {p99}");
    }
}

#[test]
fn at_80_columns_every_table_fits_and_no_number_is_split() {
    let out = Command::new(BIN)
        .args(["--quick", "--sizes", "64,1024,16384,65536"])
        .env("COLUMNS", "80")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let text = String::from_utf8(out.stdout).unwrap();
    assert_fits(&text, 80);
    // A "p50 / p99" cell wrapped inside its column leaves a line ending in " /" (or, wrapped
    // before the slash, starting with "/ ").
    for cell in table_rows(&text, "").into_iter().flatten() {
        assert!(
            !cell.ends_with(" /") && !cell.starts_with("/ "),
            "a split cell {cell:?} in:\n{text}"
        );
    }
    for label in [
        "pipe",
        "FIFO",
        "POSIX mq",
        "shm (spin)",
        "UDS datagram",
        "TCP loopback",
    ] {
        let (p50, p99) = measured_rtt(&text, label);
        assert!(p50 > 0.0 && p99 >= p50, "{label}: {p50} {p99}");
        // Latency by size: every size of every row, in tables that repeat the mechanism.
        let by_size: usize = table_rows(&text, label)
            .iter()
            .filter(|cells| cells.get(1).is_some_and(|c| c.contains("core")))
            .map(|cells| cells.len() - 2)
            .sum();
        assert_eq!(by_size, 4 * usable_cpus().min(2), "{label}:\n{text}");
    }
}

#[test]
fn one_size_draws_bars_for_both_placements() {
    let (_, svg) = plotted(&["--quick", "--only", "pipe,shm-spin"], "--plot");
    assert!(svg.contains("Round trip of 64 B messages"), "not bars");
    assert!(svg.contains("lower is better"));
    let placements = usable_cpus().min(2);
    // A legend box per placement, then a bar per mechanism and placement.
    let bars = svg.matches("<rect ").count() - 1; // the first is the background
    assert_eq!(bars, placements + 2 * placements, "{svg}");
    for label in ["\npipe\n", "\nshm (spin)\n", "same core (CPUs"] {
        assert!(svg.contains(label), "{label:?} missing");
    }
}

#[test]
fn plot_throughput_measures_every_size_and_draws_it() {
    let args = [
        "--quick",
        "--only",
        "pipe,signal,mq",
        "--sizes",
        "64,16384",
        "--format",
        "json",
    ];
    let (out, svg) = plotted(&args, "--plot-throughput");
    assert!(svg.contains("higher is better") && svg.contains("one way (MiB/s)"));
    // A signal carries no bytes: not in this chart.
    assert!(!svg.contains("signal"), "signal drawn as throughput");
    for row in json_rows(&out).iter().filter(|r| r["key"] != "signal") {
        let stream = &row["stream_mib_s"];
        if row["key"] == "mq" && row["size"] == 16384 {
            // Above msgsize_max (8192 by default): n/a, and the line stops with a mark.
            assert!(stream.is_null() && row["stream_note"].as_str().unwrap().starts_with("n/a"));
            assert!(svg.contains("\nn/a\n"));
        } else if row["status"] == "ok" {
            assert!(stream.as_f64().unwrap() > 0.0, "{row}");
        }
    }
}

#[test]
fn rounds_are_interleaved_and_summarised_by_their_second_best() {
    // 11 rounds: the headline is the second lowest (neither the lowest nor the median).
    let out = compare(&[
        "--only",
        "pipe,fifo",
        "--sizes",
        "64",
        "--rounds",
        "11",
        "--iters",
        "30",
        "--format",
        "json",
    ]);
    let err = stderr(&out);
    assert!(out.status.success(), "{err}");
    // Progress: the k-th round of every measurement comes before the (k+1)-th of any. (The
    // closing "] done: " line counts them; it measures nothing.)
    let labels: Vec<String> = err
        .lines()
        .filter(|l| !l.contains("] done: "))
        .filter_map(|l| Some(l.split_once("] ")?.1.split_once(':')?.0.to_string()))
        .collect();
    let cells = 4 * usable_cpus().min(2); // pipe and FIFO: throughput and 64 B, per placement
    assert_eq!(labels.len(), 11 * cells, "{err}");
    for (i, label) in labels.iter().enumerate() {
        let round = labels[..i].iter().filter(|l| *l == label).count();
        assert_eq!(round, i / cells, "{label} out of turn:\n{err}");
    }
    let json: Value = serde_json::from_slice(&out.stdout).unwrap();
    let run = &json["run"];
    assert_eq!(run["rounds"], 11);
    assert_eq!(run["iters_per_round"], 30);
    assert!(
        run["options"].as_str().unwrap().contains("--rounds 11"),
        "{run}"
    );
    for fact in [
        "compare_version",
        "kernel",
        "cpu_model",
        "build_profile",
        "date_utc",
    ] {
        assert!(!run[fact].as_str().unwrap().is_empty(), "{fact}: {run}");
    }
    assert!(run["cpus_online"].as_u64().unwrap() >= 1);
    for row in json_rows(&out) {
        assert_eq!(row["rounds"], 11, "{row}");
        assert_eq!(row["samples"], 330, "{row}");
        let at = |f: &str| row[f].as_u64().unwrap();
        let (low, p50, high) = (
            at("rtt_p50_low_ns"),
            at("rtt_p50_ns"),
            at("rtt_p50_high_ns"),
        );
        let mut each: Vec<u64> = row["rtt_round_p50s_ns"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_u64().unwrap())
            .collect();
        each.sort_unstable();
        assert_eq!((low, p50, high), (each[0], each[1], each[10]), "{row}");
        // Throughput mirrors it: the second highest of 11 rounds.
        let rates = row["throughput_round_mib_s"]
            .as_array()
            .expect("pipe and FIFO stream");
        let mut rates: Vec<f64> = rates.iter().map(|v| v.as_f64().unwrap()).collect();
        rates.sort_by(|a, b| b.total_cmp(a));
        assert_eq!(row["throughput_mib_s"].as_f64(), Some(rates[1]), "{row}");
        // Marked when the slowest round ran more than 20% above the headline, or for
        // throughput below it (the rates are rounded to 3 digits: an edge case is left out).
        let above = (high - p50) as f64 / p50 as f64;
        assert_eq!(row["rtt_rounds_disagree"], above > 0.2, "{row}");
        let below = (rates[1] - rates[10]) / rates[1];
        if (below - 0.2).abs() > 0.01 {
            assert_eq!(row["throughput_rounds_disagree"], below > 0.2, "{row}");
        }
    }
}

#[test]
fn csv_keeps_its_columns_and_adds_the_run_as_comments() {
    let out = compare(&[
        "--only",
        "pipe",
        "--placement",
        "same",
        "--sizes",
        "64",
        "--iters",
        "50",
        "--format",
        "csv",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let csv = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<&str> = csv.lines().collect();
    // compare/baseline/run.sh reads line 2, columns 8 and 13.
    let header: Vec<&str> = lines[0].split(',').collect();
    assert_eq!((header[7], header[12]), ("rtt_p50_ns", "throughput_mib_s"));
    let first: Vec<&str> = lines[1].split(',').collect();
    assert_eq!(first.len(), header.len(), "{}", lines[1]);
    assert!(first[7].parse::<u64>().unwrap() > 0, "{}", lines[1]);
    // Numbers that are not whole ns carry 3 significant digits.
    for name in ["throughput_mib_s", "cpu_us_per_msg", "setup_us"] {
        let i = header.iter().position(|h| *h == name).unwrap();
        let digits = first[i]
            .chars()
            .filter(char::is_ascii_digit)
            .collect::<String>();
        let significant = digits.trim_start_matches('0').trim_end_matches('0');
        assert!(significant.len() <= 3, "{name} = {}", first[i]);
    }
    // The pipe's x pipe is itself over itself, round by round: 1, every round.
    let column = |name: &str| first[header.iter().position(|h| *h == name).unwrap()];
    assert_eq!(column("x_pipe"), "1.0", "{}", lines[1]);
    let each: Vec<&str> = column("x_pipe_round_ratios").split(' ').collect();
    assert_eq!(each, vec!["1.0"; 20], "{}", lines[1]); // the default rounds
    let facts: Vec<&str> = lines
        .iter()
        .copied()
        .filter(|l| l.starts_with("# "))
        .collect();
    assert!(
        lines[lines.len() - facts.len()..]
            .iter()
            .all(|l| l.starts_with("# "))
    );
    for fact in [
        "# kernel: ",
        "# cpu_model: ",
        "# rounds: 20",
        "# options: --only pipe",
    ] {
        assert!(
            facts.iter().any(|l| l.starts_with(fact)),
            "{fact}: {facts:?}"
        );
    }
    let help = compare(&["--help"]);
    assert!(
        String::from_utf8(help.stdout)
            .unwrap()
            .contains("# name: value")
    );
}

#[test]
fn placement_words_match_the_cpus_of_both_processes() {
    let out = compare(&["--quick", "--only", "pipe,signal", "--format", "json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let rows = json_rows(&out);
    for row in rows.iter().filter(|r| r["status"] == "ok") {
        let (parent, child) = (&row["parent_cpu"], &row["child_cpu"]);
        assert!(parent.is_u64() && child.is_u64(), "{row}");
        let same = parent == child;
        match row["placement"].as_str().unwrap() {
            "same" => assert!(same, "\"same core\" on two CPUs: {row}"),
            _ => assert!(!same, "\"different cores\" on one CPU: {row}"),
        }
    }
    // The table's setup section says the same, with the CPUs.
    let out = compare(&["--quick", "--only", "pipe"]);
    let text = String::from_utf8(out.stdout).unwrap();
    let words = text.split_whitespace().collect::<Vec<_>>().join(" ");
    let cpu = |after: &str| -> Option<u64> {
        let rest = words.split_once(after)?.1;
        rest.split(|c: char| !c.is_ascii_digit())
            .next()?
            .parse()
            .ok()
    };
    let same = cpu("same core = both processes on CPU ").expect("same-core CPU");
    if usable_cpus() >= 2 {
        let parent = cpu("different cores = parent on CPU ").expect("parent CPU");
        let child = cpu(", child on CPU ").expect("child CPU");
        assert!(parent != child && same == parent, "{words}");
    }
}

#[test]
fn a_reader_that_leaves_mid_run_stops_the_run_at_once() {
    let mut child = Command::new(BIN)
        .process_group(0)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let pid = child.id();
    let mut first = String::new();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    stdout.read_line(&mut first).unwrap();
    assert!(first.starts_with("ipc-tour compare"), "{first}");
    std::thread::sleep(Duration::from_millis(300));
    drop(stdout);
    let closed = Instant::now();
    // The default run measures for about 10 s; it must notice within a measurement.
    let status = exit_within(&mut child, Duration::from_secs(3), "compare");
    assert_eq!(status.code(), Some(141), "after {:?}", closed.elapsed());
    assert_group_gone(pid as i32);
    assert_eq!(leftovers(pid), Vec::<String>::new());
}

#[test]
fn an_interrupted_plot_leaves_the_previous_chart_untouched() {
    let dir = TempDir::new("compare-plot");
    let path = dir.join("chart.svg");
    std::fs::write(&path, "<svg>the previous chart</svg>\n").unwrap();
    let mut child = Command::new(BIN)
        .args(["--only", "pipe,fifo", "--plot", path.to_str().unwrap()])
        .process_group(0)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(500));
    // SAFETY: kill takes two integers; the pid is our own child, not yet reaped.
    assert_eq!(unsafe { libc::kill(child.id() as i32, libc::SIGINT) }, 0);
    let status = exit_within(&mut child, Duration::from_secs(5), "compare");
    let left: Vec<String> = dir
        .entries()
        .iter()
        .map(|e| e.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    let chart = std::fs::read_to_string(&path).unwrap();
    assert_eq!(status.code(), Some(130));
    assert_eq!(chart, "<svg>the previous chart</svg>\n");
    assert_eq!(left, ["chart.svg"], "a temporary file was left");
}

#[test]
fn sizes_beyond_the_memory_limit_are_one_line_not_an_abort() {
    let mut cmd = Command::new(BIN);
    cmd.args(["--quick", "--sizes", "16777216"]);
    // SAFETY: runs in the forked child before exec; setrlimit is a plain system call on a
    // stack value, no allocation or lock.
    unsafe {
        cmd.pre_exec(|| {
            let limit = libc::rlimit {
                rlim_cur: 40 << 20,
                rlim_max: 40 << 20,
            };
            match libc::setrlimit(libc::RLIMIT_AS, &limit) {
                0 => Ok(()),
                _ => Err(std::io::Error::last_os_error()),
            }
        });
    }
    let mut child = cmd
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let status = exit_within(&mut child, Duration::from_secs(10), "compare");
    let mut err = String::new();
    std::io::Read::read_to_string(child.stderr.as_mut().unwrap(), &mut err).unwrap();
    assert_eq!(status.code(), Some(1), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.starts_with("compare: --sizes 16777216: cannot allocate") && err.contains("ulimit -v"),
        "{err}"
    );
}

#[test]
fn inherited_signal_state_and_umask_do_not_matter() {
    for mask in [0o277, 0o377, 0o777] {
        let mut cmd = Command::new(BIN);
        cmd.args(["--quick", "--only", "fifo,mq,shm,uds", "--format", "json"]);
        let child = with_umask(start_carelessly(&mut cmd), mask)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let pid = child.id();
        let out = output_within(child, Duration::from_secs(60), "compare");
        assert!(out.status.success(), "umask {mask:o}: {}", stderr(&out));
        for row in json_rows(&out) {
            let n_a = row["status"] == "n/a";
            assert!(row["status"] == "ok" || n_a, "umask {mask:o}: {row}");
        }
        assert_eq!(leftovers(pid), Vec::<String>::new(), "umask {mask:o}");
    }
}

#[test]
fn the_lessons_are_computed_from_the_run_s_own_numbers() {
    let out = compare(&["--quick", "--sizes", "64,16384", "--format", "json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let json: Value = serde_json::from_slice(&out.stdout).unwrap();
    let lessons: Vec<&str> = json["lessons"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l.as_str().unwrap())
        .collect();
    let rows = json_rows(&out);
    let p50 = |key: &str, place: &str, size: u64| -> Option<f64> {
        rows.iter()
            .find(|r| r["key"] == key && r["placement"] == place && r["size"] == size)?
            ["rtt_p50_ns"]
            .as_f64()
    };
    // Growth with size, same core, of the rows that copy through the kernel and have both.
    let mut grew: Vec<f64> = ["pipe", "fifo", "uds-stream", "uds-datagram", "tcp", "udp"]
        .iter()
        .filter_map(|k| Some(p50(k, "same", 16384)? / p50(k, "same", 64)?))
        .collect();
    grew.sort_by(f64::total_cmp);
    let range = format!("grew {:.1}x to {:.1}x", grew[0], grew[grew.len() - 1]);
    assert!(
        lessons.iter().any(|l| l.contains(&range)),
        "{range} in {lessons:#?}"
    );
    if usable_cpus() < 2 {
        eprintln!("skipped: the placement lessons need two CPUs");
        return;
    }
    // A wakeup on another core against the same core, over every row that blocks.
    // (The spinning rows are left out: shm-spin, and the zero-copy slots, which spin too.)
    let mut ratios: Vec<f64> = ALL
        .iter()
        .filter(|k| !matches!(**k, "shm-spin" | "shm-zero-copy"))
        .filter_map(|k| {
            let size = if *k == "signal" { 0 } else { 64 };
            Some(p50(k, "split", size)? / p50(k, "same", size)?)
        })
        .collect();
    ratios.sort_by(f64::total_cmp);
    let range = format!("took {:.1}x to {:.1}x", ratios[0], ratios[ratios.len() - 1]);
    assert!(
        lessons.iter().any(|l| l.contains(&range)),
        "{range} in {lessons:#?}"
    );
    // The table prints the same lines under "What this run shows".
    let table = compare(&["--quick", "--only", "pipe,shm-spin"]);
    let text = String::from_utf8(table.stdout).unwrap();
    assert!(text.contains("What this run shows\n- "), "{text}");
}

#[test]
fn on_a_terminal_progress_is_one_line_rewritten_in_place() {
    // script(1) gives compare a terminal for stderr; the report goes to /dev/null.
    let Ok(out) = Command::new("script")
        .args([
            "-qec",
            &format!("{BIN} --quick --only pipe,fifo > /dev/null"),
            "/dev/null",
        ])
        .stdin(Stdio::null())
        .output()
    else {
        eprintln!("skipped: script(1) from util-linux is not installed");
        return;
    };
    assert!(out.status.success(), "{}", stderr(&out));
    let text = String::from_utf8_lossy(&out.stdout);
    const ERASE: &str = "\r\x1b[2K";
    // Each rewrite erases the line first; the last erase leaves it empty.
    let updates: Vec<&str> = text.split(ERASE).skip(1).collect();
    assert!(updates.len() >= 2, "no line rewritten in place:\n{text:?}");
    assert_eq!(
        updates.last(),
        Some(&""),
        "the progress line was not cleared"
    );
    for update in &updates[..updates.len() - 1] {
        assert!(
            !update.contains('\n'),
            "a new line instead of a rewrite: {update:?}"
        );
        assert!(update.chars().count() < 80, "wider than 79: {update:?}");
        assert!(update.contains(" s, round "), "{update:?}");
    }
    assert!(!text.contains("] pipe"), "log lines on a terminal:\n{text}");
}
