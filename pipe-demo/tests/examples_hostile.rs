//! The pipe examples under the conditions a copied program meets: stdout closed (`| head -1`)
//! or full (`> /dev/full`), started with SIGCHLD ignored and every signal blocked, and a
//! peer (cat, a pipeline stage) killed mid-way. None may panic, hang or fail to reap.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::process::{Command, Stdio};

use testkit::hostile::{assert_no_panic, assert_quiet_sigpipe, closed_pipe, dev_full, run_to_end};
use testkit::{Finished, TempDir};

/// `target/debug/examples/NAME`, no older than its source, in a process group of its own.
fn example(name: &str) -> Command {
    let mut command = Command::new(testkit::example(env!("CARGO_MANIFEST_DIR"), name));
    command.process_group(0).stdin(Stdio::null());
    command
}

/// Runs `command` to the end (bounded) with stderr captured and stdout as given.
fn run(command: &mut Command, stdout: Stdio, what: &str) -> Finished {
    let (out, _) = run_to_end(command.stdout(stdout), testkit::LIMIT, what);
    Finished::from(out)
}

#[test]
fn closed_stdout_ends_each_example_quietly_by_sigpipe() {
    for name in ["cat_temperature", "pipe_fork"] {
        let done = run(&mut example(name), closed_pipe(), name);
        assert_no_panic(name, done.status, &done.stderr);
        assert_quiet_sigpipe(name, done.status, &done.stderr);
    }
    // pipeline's stdout is wc's: wc dies of SIGPIPE (the default it was given), and
    // pipeline reports it.
    let done = run(&mut example("pipeline"), closed_pipe(), "pipeline");
    assert!(done.status.success(), "{}\n{}", done.status, done.stderr);
    assert!(
        done.stderr.contains("pipeline: wc was killed by SIGPIPE"),
        "{}",
        done.stderr
    );
}

#[test]
fn full_stdout_is_an_error_naming_the_write_not_a_panic() {
    for name in ["cat_temperature", "pipe_fork"] {
        let done = run(&mut example(name), dev_full(), name);
        assert_no_panic(name, done.status, &done.stderr);
        // pipe_fork's child writes to stdout too: when it fails first and exits, closing the
        // pipe, the parent's next write to the pipe raises SIGPIPE, which the example restores
        // to its default on purpose (a dead reader ends the writer, as in C). Which comes
        // first is the scheduler's choice, so either ending is correct; a panic is not.
        let sigpipe = name == "pipe_fork" && done.status.signal() == Some(libc::SIGPIPE);
        assert!(
            done.status.code() == Some(1) || sigpipe,
            "{name}: {:?} {}",
            done.status,
            done.stderr
        );
        assert!(
            done.stderr
                .contains("write stdout: No space left on device"),
            "{name}: {}",
            done.stderr
        );
    }
    // pipeline itself writes only to stderr: its reports.
    let mut pipeline = example("pipeline");
    let child = pipeline
        .stdout(Stdio::null())
        .stderr(dev_full())
        .spawn()
        .expect("spawn pipeline");
    let out = testkit::output_within(child, testkit::LIMIT, "pipeline");
    assert_eq!(out.status.code(), Some(1), "pipeline: {}", out.status);
}

#[test]
fn sigchld_ignored_and_signals_blocked_every_child_is_still_reaped() {
    let done = run(
        testkit::start_carelessly(&mut example("cat_temperature")),
        Stdio::piped(),
        "cat_temperature",
    );
    assert!(done.status.success(), "{}\n{}", done.status, done.stderr);
    assert!(
        done.stdout.ends_with("cat ended with exit status: 0\n"),
        "{}",
        done.stdout
    );

    let done = run(
        testkit::start_carelessly(&mut example("pipe_fork")),
        Stdio::piped(),
        "pipe_fork",
    );
    assert!(done.status.success(), "{}\n{}", done.status, done.stderr);
    assert!(
        done.stdout.ends_with("exited with status 0\n"),
        "{}",
        done.stdout
    );

    let dir = TempDir::new("pipe-demo-hostile");
    fs::write(dir.join("main.rs"), "").expect("create main.rs");
    let done = run(
        testkit::start_carelessly(example("pipeline").current_dir(&dir.0)),
        Stdio::piped(),
        "pipeline",
    );
    assert!(done.status.success(), "{}\n{}", done.status, done.stderr);
    assert_eq!(done.stdout.trim(), "1");
    for stage in ["ls", "grep", "wc"] {
        let report = format!("pipeline: {stage} exited with status 0");
        assert!(done.stderr.contains(&report), "{}", done.stderr);
    }
}

/// A directory holding an executable `name` that kills itself with SIGKILL before reading
/// anything: a peer that dies mid-way. Put first in PATH, it stands in for the real one.
fn dying(name: &str) -> TempDir {
    let dir = TempDir::new("pipe-demo-dying");
    fs::set_permissions(&dir.0, fs::Permissions::from_mode(0o755)).expect("chmod");
    let script = dir.join(name);
    fs::write(&script, "#!/bin/sh\nkill -KILL $$\n").expect("write script");
    fs::set_permissions(&script, fs::Permissions::from_mode(0o755)).expect("chmod");
    dir
}

fn path_with(dir: &TempDir) -> String {
    let path = std::env::var("PATH").unwrap_or_default();
    format!("{}:{path}", dir.0.display())
}

#[test]
fn cat_killed_mid_way_ends_cat_temperature_without_a_hang_or_a_panic() {
    let fake = dying("cat");
    let done = run(
        example("cat_temperature").env("PATH", path_with(&fake)),
        Stdio::piped(),
        "cat_temperature",
    );
    assert_no_panic("cat_temperature", done.status, &done.stderr);
    // Either our write met the dead reader (SIGPIPE, quietly) or it landed in the pipe
    // buffer first, and then cat's end is reported.
    let reported = done.stdout.contains("cat ended with signal: 9 (SIGKILL)");
    assert!(
        done.status.signal() == Some(libc::SIGPIPE) || (done.status.success() && reported),
        "{}\n{}{}",
        done.status,
        done.stdout,
        done.stderr
    );
}

#[test]
fn a_stage_killed_mid_way_ends_the_pipeline_and_each_stage_is_reported() {
    let fake = dying("grep");
    let dir = TempDir::new("pipe-demo-hostile");
    fs::write(dir.join("main.rs"), "").expect("create main.rs");
    let done = run(
        example("pipeline")
            .env("PATH", path_with(&fake))
            .current_dir(&dir.0),
        Stdio::piped(),
        "pipeline",
    );
    assert!(done.status.success(), "{}\n{}", done.status, done.stderr);
    assert_eq!(done.stdout.trim(), "0", "wc saw end-of-file at once");
    assert!(
        done.stderr.contains("pipeline: grep was killed by SIGKILL"),
        "{}",
        done.stderr
    );
    assert!(
        done.stderr.contains("pipeline: wc exited with status 0"),
        "{}",
        done.stderr
    );
}
