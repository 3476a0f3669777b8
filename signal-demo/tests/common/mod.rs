//! What both test files need: run the real binary, and make sure no child of a run outlives it.
#![allow(dead_code)] // each test file uses a part

use std::io::Read;
use std::process::{Child, Command, Output};
use std::time::Duration;

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

pub const BIN: &str = env!("CARGO_BIN_EXE_signal-demo");

pub fn run(args: &[&str]) -> Output {
    Command::new(BIN)
        .args(args)
        .output()
        .expect("run signal-demo")
}

pub fn stdout_of(output: &Output) -> String {
    let text = String::from_utf8_lossy(&output.stdout).into_owned();
    let err = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "signal-demo failed: {}\n{text}\n{err}",
        output.status
    );
    assert!(!err.contains("panicked at"), "{err}");
    text
}

/// Processes that are children of the signal-demo run with this pid (by their command line,
/// `signal-demo child --parent <pid> ...`, which stays true even after re-parenting).
pub fn children_of(parent: u32) -> Vec<u32> {
    let needle = format!("\0--parent\0{parent}\0");
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").expect("read /proc").flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let cmdline = std::fs::read(entry.path().join("cmdline")).unwrap_or_default();
        if String::from_utf8_lossy(&cmdline).contains(&needle) {
            found.push(pid);
        }
    }
    found
}

/// Waits up to `limit` for the process to end; kills it and fails if it does not.
pub fn wait_within(child: &mut Child, limit: Duration) -> std::process::ExitStatus {
    testkit::exit_within(child, limit, "signal-demo")
}

/// Waits (bounded) for a signal-demo run to end, then fails if any of its children outlived it —
/// killing those first (they are ours: their command line names this run's pid), so a leak fails
/// the test instead of hanging it on a pipe the orphan still holds open.
pub fn finish(mut child: Child, limit: Duration) -> Output {
    let pid = child.id();
    let status = wait_within(&mut child, limit);
    let leftovers = children_of(pid);
    for &orphan in &leftovers {
        let _ = kill(Pid::from_raw(orphan as i32), Signal::SIGKILL);
    }
    assert!(
        leftovers.is_empty(),
        "children of {pid} left behind: {leftovers:?}"
    );
    let (mut stdout, mut stderr) = (Vec::new(), Vec::new());
    if let Some(mut out) = child.stdout.take() {
        out.read_to_end(&mut stdout).expect("read stdout");
    }
    if let Some(mut err) = child.stderr.take() {
        err.read_to_end(&mut stderr).expect("read stderr");
    }
    Output {
        status,
        stdout,
        stderr,
    }
}
