//! The steps that show why shared memory exists and how a frame is handed over without a
//! name: isolation (fork copies, MAP_SHARED does not), zero copies (a pipe against shared
//! memory, counted in /proc/PID/io), and the sealed memfd handoff, each run as a user runs it.
#![allow(clippy::unwrap_used)]

use std::process::{Command, Output};

const BIN: &str = env!("CARGO_BIN_EXE_shm-demo");

fn run(args: &[&str]) -> Output {
    Command::new(BIN).args(args).output().expect("run shm-demo")
}

/// Stdout of a run that must have succeeded.
fn stdout_ok(out: &Output, what: &str) -> String {
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{what}: {}\n{text}{err}", out.status);
    text
}

/// The line containing `needle`, or a failure that shows the whole output.
fn line<'a>(text: &'a str, needle: &str) -> &'a str {
    text.lines()
        .find(|l| l.contains(needle))
        .unwrap_or_else(|| panic!("no line with {needle:?} in:\n{text}"))
}

/// Every line at most 80 characters (not bytes), naming the first that is longer.
fn assert_80_columns(text: &str, what: &str) {
    for l in text.lines() {
        let n = l.chars().count();
        assert!(n <= 80, "{what}: a line of {n} characters: {l:?}");
    }
}

#[test]
fn isolation_only_map_shared_crosses_the_fork() {
    let text = stdout_ok(&run(&["isolation"]), "shm-demo isolation");
    println!("{text}");
    assert!(text.starts_with("1. isolation"), "{text}");
    assert!(
        line(&text, "child pid").contains(": 43, 43 and 43"),
        "the child did not read its own writes back:\n{text}"
    );
    let parent = |place: &str| line(&text, place).split(": ").nth(2).unwrap().to_string();
    assert_eq!(parent("ordinary variable"), "42 (copy-on-write)", "{text}");
    assert_eq!(
        parent("MAP_PRIVATE mapping"),
        "42 (copy-on-write)",
        "{text}"
    );
    assert_eq!(parent("MAP_SHARED mapping"), "43 (one page)", "{text}");
    assert!(
        line(&text, "reached the parent").ends_with("in 1 of 3: MAP_SHARED mapping"),
        "{text}"
    );
    assert_80_columns(&text, "shm-demo isolation");
}
