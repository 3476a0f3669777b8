//! Bad input: usage errors exit 2, runtime errors exit 1, each with one line on stderr; never a
//! panic, never anything left in /dev/shm.
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
        (vec!["write", "/."], 2),
        (vec!["write", "/.."], 2),
        (vec!["read", "/."], 2),
        (vec!["unlink", "/.."], 2),
        (vec!["write", &long_name], 2),
        (vec!["write", &name, "--temp", "-300"], 2),
        (vec!["write", &name, "--temp", "hot"], 2),
        (vec!["write", &name, "--temp", "1e9"], 2),
        (vec!["write", &name, "--temp", "7.5"], 2),
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
        assert_eq!(err.lines().count(), 1, "{args:?}: {err}");
        assert!(err.starts_with("shm-demo: "), "{args:?}: {err}");
        if code == 2 {
            assert!(err.trim_end().ends_with("; see --help"), "{args:?}: {err}");
        } else {
            assert!(err.contains(&name), "{args:?}: {err}");
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

#[test]
fn a_bad_number_is_told_what_is_allowed() {
    let cases: [(&[&str], &str); 5] = [
        (
            &["write", "/x", "--temp", "7.5"],
            "whole number of degrees Celsius from -273 to 10000",
        ),
        (
            &["write", "/x", "--temp", "-300"],
            "whole number of degrees Celsius from -273 to 10000",
        ),
        (
            &["counter", "--increments", "-1"],
            "whole number of increments from 1 to 100000000",
        ),
        (
            &["--messages", "-5"],
            "whole number of round trips from 1 to 10000000",
        ),
        (
            &["ring", "--size", "-64"],
            "whole number of bytes from 1 to 16777216",
        ),
    ];
    for (args, allowed) in cases {
        let out = run(args);
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains(allowed), "{args:?}: {err}");
        assert!(!err.contains("unexpected argument"), "{args:?}: {err}");
    }
}

#[test]
fn another_users_object_is_refused_with_whose_it_is() {
    // Needs two users: as root (CI), the object is root's and the reader is `nobody`.
    if !nix::unistd::geteuid().is_root() {
        println!("not root: cannot make an object another user may not open");
        return;
    }
    let name = unique_name("eacces");
    assert!(run(&["write", &name]).status.success());
    let out = common::run_as_nobody(&["read", &name]);
    let _ = std::fs::remove_file(format!("/dev/shm{name}"));
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.contains("Permission denied") && err.contains("owned by uid 0 (root) with mode 0600"),
        "{err}"
    );
}

#[test]
fn stdout_that_fails_otherwise_is_one_line_and_status_1() {
    // `shm-demo counter > /dev/full`: every write to stdout fails with ENOSPC.
    let full = std::fs::OpenOptions::new()
        .write(true)
        .open("/dev/full")
        .unwrap();
    let out = std::process::Command::new(common::BIN)
        .args(["counter", "--increments", "1000"])
        .stdout(full)
        .output()
        .unwrap();
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.starts_with("shm-demo: cannot write to stdout: No space left on device"),
        "{err}"
    );
}
