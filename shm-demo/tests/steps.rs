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

/// The row of the zero-copy table that starts with `label`: (sent, received, wchar, rchar).
fn zero_copy_row(text: &str, label: &str) -> (String, String, u64, u64) {
    let row = line(text, &format!("   {label}  "));
    let fields: Vec<&str> = row.split_whitespace().collect();
    let n = fields.len();
    assert!(n >= 8, "row {row:?}");
    let number = |s: &str| {
        s.parse::<u64>()
            .unwrap_or_else(|_| panic!("{s:?} in {row:?}"))
    };
    (
        fields[n - 4].to_string(),
        fields[n - 3].to_string(),
        number(fields[n - 2]),
        number(fields[n - 1]),
    )
}

#[test]
fn zero_copy_pipe_moves_the_frame_twice_and_shared_memory_not_at_all() {
    let text = stdout_ok(&run(&["zero-copy"]), "shm-demo zero-copy");
    println!("{text}");
    assert!(text.starts_with("2. zero copies"), "{text}");
    const MIB: u64 = 1 << 20;
    let (sent, received, wchar, rchar) = zero_copy_row(&text, "pipe");
    assert!(sent.starts_with("0x") && sent == received, "pipe: {text}");
    // The 8 MiB frame, written once and read once: about 16 MiB (nothing else is read or
    // written by the two meanwhile, so in practice exactly).
    assert!(
        (8 * MIB..8 * MIB + 4096).contains(&wchar),
        "pipe wchar: {text}"
    );
    assert!(
        (8 * MIB..8 * MIB + 4096).contains(&rchar),
        "pipe rchar: {text}"
    );
    let (sent_shm, received_shm, wchar, rchar) = zero_copy_row(&text, "shared memory");
    assert!(
        sent_shm.starts_with("0x") && sent_shm == received_shm,
        "shm: {text}"
    );
    assert_ne!(
        sent, sent_shm,
        "the two frames were the same: not drawn per run"
    );
    assert!(
        wchar + rchar < 4096,
        "shared memory moved bytes by syscalls: {text}"
    );
    assert!(line(&text, "through read()/write()").contains("the pipe 16.0 MiB"));
    assert_80_columns(&text, "shm-demo zero-copy");
}
