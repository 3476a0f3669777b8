//! Bad input: usage errors exit 2 (clap), runtime errors exit 1 with one line; never a panic,
//! never anything left in /dev/shm.
#![allow(clippy::unwrap_used)]

mod common;

use common::{dev_shm_matching, run, stderr, stdout, unique_name};

#[test]
fn bad_input_table() {
    let name = unique_name("bad");
    let long_name = format!("/{}", "x".repeat(300));
    let cases: Vec<(Vec<&str>, i32)> = vec![
        (vec!["--increments", "0"], 2),
        (vec!["--increments", "-5"], 2),
        (vec!["--messages", "many"], 2),
        (vec!["counter", "--increments", "0"], 2),
        (vec!["counter", "--increments", "-1"], 2),
        (vec!["counter", "--increments", "ten"], 2),
        (vec!["counter", "--increments", "99999999999999999999"], 2),
        (vec!["ring", "--messages", "0"], 2),
        (vec!["ring", "--size", "0"], 2),
        (vec!["ring", "--size", "-64"], 2),
        (vec!["ring", "--size", "1000000000"], 2),
        (vec!["ring", "--mode", "sideways"], 2),
        (vec!["write", "sensor_data"], 2),
        (vec!["write", "/"], 2),
        (vec!["write", "/a/b"], 2),
        (vec!["write", &long_name], 2),
        (vec!["write", &name, "--temp", "-300"], 2),
        (vec!["write", &name, "--temp", "hot"], 2),
        (vec!["write", &name, "--temp", "1e9"], 2),
        (vec!["read", "no-slash"], 2),
        (vec!["explode"], 2),
        (vec!["read", &name], 1),
        (vec!["unlink", &name], 1),
    ];
    for (args, code) in cases {
        let out = run(&args);
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(code), "{args:?}: {err}");
        assert!(!err.contains("panicked"), "{args:?}: {err}");
        assert!(
            stdout(&out).is_empty(),
            "{args:?} printed to stdout: {}",
            stdout(&out)
        );
        let first = err.lines().next().unwrap_or("");
        if code == 2 {
            assert!(first.starts_with("error: "), "{args:?}: {err}");
        } else {
            assert_eq!(err.lines().count(), 1, "{args:?}: {err}");
            assert!(
                first.starts_with("shm-demo: ") && first.contains(&name),
                "{args:?}: {err}"
            );
        }
    }
    assert!(
        dev_shm_matching(&name[1..]).is_empty(),
        "bad input left {name} behind"
    );
}

#[test]
fn help_lists_every_step() {
    let out = run(&["--help"]);
    assert!(out.status.success());
    let text = stdout(&out);
    for step in [
        "write",
        "read",
        "unlink",
        "counter",
        "ring",
        "--increments",
        "--messages",
    ] {
        assert!(
            text.contains(step),
            "--help does not mention {step}: {text}"
        );
    }
}
