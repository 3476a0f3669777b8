//! Helpers shared by the end-to-end tests: run the real binary as a user would.
#![allow(dead_code, clippy::unwrap_used)]

use std::io::{BufRead, BufReader};
use std::process::{Child, ChildStdout, Command, Output, Stdio};

// Each test file uses some of these, as it does of the rest of this module.
#[allow(unused_imports)]
pub use testkit::{alive, processes_in_group, stderr, stdout};

pub const BIN: &str = env!("CARGO_BIN_EXE_shm-demo");

/// Runs shm-demo with `args` to the end; the test fails if it has not exited within 60 s.
pub fn run(args: &[&str]) -> Output {
    testkit::run(BIN, args)
}

/// A shm name no other test (or run) uses: `/shm-demo-test-<tag>-<pid>-<counter>-<clock>`.
pub fn unique_name(tag: &str) -> String {
    format!("/{}", testkit::unique(&format!("shm-demo-test-{tag}")))
}

/// Entries of /dev/shm whose name contains `needle`.
pub fn dev_shm_matching(needle: &str) -> Vec<String> {
    testkit::names_containing("/dev/shm", needle).expect("read /dev/shm")
}

/// Kills and reaps `child` if it is still running (so a failing test leaves nothing behind).
pub fn ensure_dead(child: &mut Child) {
    testkit::kill_and_reap(child);
}

/// Reads stdout lines until one contains `child pid N`; returns N and the lines so far.
pub fn read_child_pid(stdout: &mut BufReader<ChildStdout>) -> (i32, String) {
    let mut seen = String::new();
    loop {
        let mut line = String::new();
        if stdout.read_line(&mut line).expect("read stdout") == 0 {
            panic!("no `child pid` line in: {seen}");
        }
        seen.push_str(&line);
        if let Some(rest) = line.split("child pid ").nth(1) {
            let pid = rest.split_whitespace().next().unwrap().parse().unwrap();
            return (pid, seen);
        }
    }
}

/// Runs shm-demo with the umask set to `umask`, as this user; fails the test after 60 s.
pub fn run_with_umask(args: &[&str], umask: u32) -> Output {
    let mut command = Command::new(BIN);
    command.args(args).stdin(Stdio::null());
    testkit::output(testkit::with_umask(&mut command, umask), "shm-demo")
}

/// Spawns shm-demo with piped stdout/stderr in a process group of its own.
pub fn spawn_in_own_group(args: &[&str]) -> Child {
    use std::os::unix::process::CommandExt;
    Command::new(BIN)
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .spawn()
        .expect("spawn shm-demo")
}

/// Every number in `line`, in order.
pub fn numbers(line: &str) -> Vec<u64> {
    line.split(|c: char| !c.is_ascii_digit())
        .filter(|s| !s.is_empty())
        .filter_map(|s| s.parse().ok())
        .collect()
}

/// Runs a copy of the binary as uid/gid 65534 (`nobody`), with setpriv from util-linux. The
/// copy sits in the temp dir: the checkout may be in a directory `nobody` cannot enter.
pub fn run_as_nobody(args: &[&str]) -> Output {
    run_as_nobody_with_umask(args, None)
}

/// [`run_as_nobody`] with the umask set to `umask` (when given) before setpriv runs; the
/// binary inherits it. Fails the test after 60 s.
pub fn run_as_nobody_with_umask(args: &[&str], umask: Option<u32>) -> Output {
    let copy = testkit::NobodyCopy::of(BIN);
    let mut command = copy.command();
    command.args(args).stdin(Stdio::null());
    if let Some(mask) = umask {
        testkit::with_umask(&mut command, mask);
    }
    testkit::output(&mut command, "shm-demo as nobody")
}
