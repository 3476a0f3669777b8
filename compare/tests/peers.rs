//! The peer crates' rows (`cargo test -p compare --features peers --test peers`): iceoryx2 (its
//! spin and its event row), ipc-channel and interprocess measured by the real binary like any
//! kernel row, in both placements, each message checked by both processes, the lesson that
//! sets each crate against the nearest kernel row recomputed from the same JSON, and nothing
//! left behind. Without the feature, the
//! one test here checks that asking for a peer row says how to build it.
#![allow(clippy::unwrap_used)]

mod common;

/// A build without the feature: a peer row or the group is a usage error, one line, exit 2,
/// that names the feature and the command to run, with the whole list asked for; --help names
/// the rows and the feature, but does not offer them among the possible values.
#[cfg(not(feature = "peers"))]
#[test]
fn a_peer_row_without_the_feature_says_how_to_build_it() {
    for name in [
        "iceoryx2",
        "iceoryx2-event",
        "ipc-channel",
        "interprocess",
        "peers",
    ] {
        let out = common::compare(&["--quick", "--only", &format!("pipe,{name}")]);
        let err = testkit::stderr(&out);
        assert_eq!(out.status.code(), Some(2), "{name}: {err}");
        assert_eq!(err.lines().count(), 1, "{name}: {err}");
        assert!(
            err.starts_with(&format!("compare: --only {name}: "))
                && err.contains(&format!("--features peers -- --only pipe,{name})")),
            "{name}: {err}"
        );
    }
    let help = testkit::stdout(&common::compare(&["--help"]));
    let only = help.lines().find(|l| l.contains("--only")).unwrap();
    let (words, values) = only.split_once("[possible values:").unwrap();
    assert!(words.contains(
        "iceoryx2, iceoryx2-event, ipc-channel, interprocess (built with `--features peers`)"
    ));
    assert!(!values.contains("ipc-channel"), "{only}");
}

#[cfg(feature = "peers")]
mod with_the_feature {
    use std::os::unix::process::CommandExt;
    use std::path::PathBuf;
    use std::process::{Command, Output, Stdio};
    use std::sync::Mutex;
    use std::time::Duration;

    use serde_json::Value;
    use testkit::{names_containing, processes_in_group, stderr};

    use super::common::BIN;

    /// Each peer row: key, label, and the kernel row the lesson sets it against.
    const PEERS: [(&str, &str, &str); 4] = [
        ("iceoryx2", "iceoryx2", "shm-zero-copy"),
        ("iceoryx2-event", "iceoryx2 (event)", "shm-blocking"),
        ("ipc-channel", "ipc-channel", "uds-datagram"),
        ("interprocess", "interprocess", "uds-stream"),
    ];

    /// The median of the rounds' ratios of `row`'s p50 to `under`'s (each round's p50s, in
    /// the order measured, from the JSON): what the lesson quotes.
    fn same_round_ratio(row: &Value, under: &Value) -> f64 {
        let p50s = |r: &Value| -> Vec<f64> {
            r["rtt_round_p50s_ns"]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_f64().unwrap())
                .collect()
        };
        let (ours, theirs) = (p50s(row), p50s(under));
        assert_eq!(ours.len(), theirs.len(), "{row} {under}");
        let mut ratios: Vec<f64> = ours
            .iter()
            .zip(&theirs)
            .map(|(o, t)| o / t.max(1.0))
            .collect();
        ratios.sort_by(f64::total_cmp);
        let n = ratios.len();
        match n % 2 {
            1 => ratios[n / 2],
            _ => (ratios[n / 2 - 1] + ratios[n / 2]) / 2.0,
        }
    }

    /// The runs take turns: each checks that its temporary directory is empty afterwards.
    static TURN: Mutex<()> = Mutex::new(());

    /// Runs compare with `args` in a process group of its own, with TMPDIR a fresh directory
    /// (where ipc-channel's one-shot server makes its own directory, and interprocess's pairs
    /// theirs); once it has exited, asserts that it left no process, nothing in that directory
    /// and no name with its pid in /dev/shm.
    fn run(args: &[&str]) -> Output {
        let _turn = TURN.lock().unwrap_or_else(|e| e.into_inner());
        // Short (this process's runs take turns): the iceoryx2 event row's socket paths, which
        // a Unix socket address limits to 107 bytes, lie below it.
        let tmp = std::env::temp_dir().join(format!("cp{}", std::process::id()));
        std::fs::create_dir(&tmp).unwrap();
        let child = Command::new(BIN)
            .args(args)
            .env("TMPDIR", &tmp)
            .process_group(0)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let pid = child.id();
        let out = testkit::output_within(child, Duration::from_secs(60), "compare");
        let pgid = i32::try_from(pid).unwrap();
        testkit::assert_none_left(&processes_in_group(pgid), &format!("{args:?}: processes"));
        let left = names_containing(&tmp, "").unwrap();
        let _ = std::fs::remove_dir_all(&tmp);
        assert!(left.is_empty(), "{args:?}: left in TMPDIR: {left:?}");
        let shm = names_containing(PathBuf::from("/dev/shm"), &format!("-{pid}-"));
        assert!(shm.unwrap_or_default().is_empty(), "{args:?}: /dev/shm");
        out
    }

    fn json_of(out: &Output) -> Value {
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", stderr(out)))
    }

    /// The row of `key` at 64 B in `place`.
    fn row<'a>(json: &'a Value, key: &str, place: &str) -> &'a Value {
        json["rows"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["key"] == key && r["placement"] == place && r["size"] == 64)
            .unwrap_or_else(|| panic!("no {key} row, {place}: {json}"))
    }

    /// Microseconds as the report writes them (`row::us`): three significant digits, the
    /// format chosen after rounding (9997 ns is "10.0").
    fn us(ns: f64) -> String {
        let decimals = |u: f64| match u {
            u if u < 10.0 => 2,
            u if u < 100.0 => 1,
            _ => 0,
        };
        let us = ns / 1000.0;
        let rounded: f64 = format!("{us:.*}", decimals(us)).parse().unwrap();
        format!("{us:.*}", decimals(rounded))
    }

    /// One CPU: the "different cores" placement is not applicable, said so.
    fn one_cpu() -> bool {
        std::thread::available_parallelism().map_or(1, |n| n.get()) < 2
    }

    #[test]
    fn each_peer_row_is_measured_in_both_placements_and_set_against_its_kernel_row() {
        let out = run(&[
            "--quick",
            "--only",
            "uds,shm-zero-copy,shm-blocking,peers",
            "--format",
            "json",
        ]);
        assert!(out.status.success(), "{}", stderr(&out));
        let json = json_of(&out);
        let lesson = json["lessons"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(Value::as_str)
            .find(|l| l.starts_with("A crate costs what it adds"))
            .unwrap_or_else(|| panic!("no lesson on the crates: {}", json["lessons"]));
        for (key, _, kernel) in PEERS {
            for place in ["same", "split"] {
                let (peer, under) = (row(&json, key, place), row(&json, kernel, place));
                if place == "split" && one_cpu() {
                    assert_eq!(peer["status"], "n/a", "{peer}");
                    continue;
                }
                assert_eq!(peer["status"], "ok", "{peer}");
                assert_eq!(peer["verified"], true, "{peer}");
                let p = peer["rtt_p50_ns"].as_f64().unwrap();
                let k = under["rtt_p50_ns"].as_f64().unwrap();
                assert!(p > 0.0 && peer["cpu_us_per_msg"].as_f64().unwrap() > 0.0);
                // The event row's receiver wakes on the notification, not at the end of a
                // 100 ms wait (which would find the sample too, two per round trip).
                if key == "iceoryx2-event" {
                    assert!(p < 50e6, "{key} {place}: woken late: {peer}");
                }
                assert!(peer["throughput_mib_s"].as_f64().unwrap() > 0.0, "{peer}");
                assert!(peer["setup_us"].as_f64().unwrap() > 0.0, "{peer}");
                // The lesson's numbers for this pair and placement, from these rows.
                let said = format!("{} µs against {} µs, ", us(p), us(k));
                let ratio = format!("{:.2}x round by round", same_round_ratio(peer, under));
                assert!(
                    lesson.contains(&said) && lesson.contains(&ratio),
                    "{key} {place}: no {said:?} ... {ratio:?} in: {lesson}"
                );
            }
        }
        // Underneath: ipc-channel keeps each value a message, interprocess is a byte stream.
        let probe = |key| row(&json, key, "same")["probe_structure"].clone();
        assert_eq!(probe("ipc-channel"), "2 writes of 3 B: 1 read of 3 B");
        assert_eq!(probe("interprocess"), "2 writes of 3 B: 1 read of 6 B");

        // Without the kernel rows there is nothing to set the crates against: each crate is
        // named, with the row to add.
        let out = run(&["--quick", "--only", "peers", "--format", "json"]);
        assert!(out.status.success(), "{}", stderr(&out));
        let json = json_of(&out);
        let keys: Vec<&str> = json["rows"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|r| r["key"].as_str())
            .collect();
        assert!(
            keys.iter().all(|k| PEERS.iter().any(|(p, _, _)| p == k)),
            "{keys:?}"
        );
        let lessons = json["lessons"].to_string();
        for (_, label, kernel) in PEERS {
            let said = format!(
                "{label}: not compared ({kernel} not in this run; add `{kernel}` to --only)"
            );
            assert!(lessons.contains(&said), "no {said:?} in: {lessons}");
        }
        assert!(!lessons.contains("round by round"), "{lessons}");
    }

    #[test]
    fn a_message_changed_on_the_way_fails_the_row_on_either_side() {
        let quick = [
            "--quick",
            "--placement",
            "same",
            "--sizes",
            "64",
            "--format",
            "json",
        ];
        for (key, label, _) in PEERS {
            // On its way to the child: both receiving children say so.
            let out = run(&[&["--only", key, "--corrupt-to-child", "5"], &quick[..]].concat());
            let err = stderr(&out);
            assert_eq!(out.status.code(), Some(1), "{key}: {err}");
            for measurement in [
                format!("{label}, 64 B, same core"),
                format!("{label} throughput, same core"),
            ] {
                let said = format!(
                    "compare: child ({measurement}): message 5 arrived changed: payload mismatch"
                );
                assert!(
                    err.lines().any(|l| l.starts_with(&said)),
                    "{key}: no {said:?} in:\n{err}"
                );
            }
            // On its way back: the parent says so.
            let out = run(&[&["--only", key, "--corrupt-after", "5"], &quick[..]].concat());
            let err = stderr(&out);
            assert_eq!(out.status.code(), Some(1), "{key}: {err}");
            assert!(
                err.contains("message 5 came back changed: payload mismatch"),
                "{key}: {err}"
            );
            assert!(!err.contains("panicked"), "{key}: {err}");
            // And without either flag the same run passes: the failures were the flags' doing.
            // A key names its row alone (`iceoryx2` is not a group of the two iceoryx2 rows).
            let out = run(&[&["--only", key], &quick[..]].concat());
            assert!(out.status.success(), "{key}: {}", stderr(&out));
            let json = json_of(&out);
            let rows = json["rows"].as_array().unwrap();
            assert!(rows.iter().all(|r| r["key"] == key), "{key}: {json}");
        }
    }
}
