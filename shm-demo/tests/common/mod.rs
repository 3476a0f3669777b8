//! Helpers shared by the end-to-end tests: run the real binary as a user would.
#![allow(dead_code, clippy::unwrap_used)]

use std::io::{BufRead, BufReader};
use std::process::{Child, ChildStdout, Command, Output, Stdio};

pub const BIN: &str = env!("CARGO_BIN_EXE_shm-demo");

pub fn run(args: &[&str]) -> Output {
    Command::new(BIN).args(args).output().expect("run shm-demo")
}

pub fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// A shm name no other test (or run) uses: `/shm-demo-test-<pid>-<tag>-<random>`.
pub fn unique_name(tag: &str) -> String {
    let random: u16 = rand::random();
    format!("/shm-demo-test-{}-{tag}-{random:04x}", std::process::id())
}

/// Entries of /dev/shm whose name contains `needle`.
pub fn dev_shm_matching(needle: &str) -> Vec<String> {
    std::fs::read_dir("/dev/shm")
        .expect("read /dev/shm")
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains(needle))
        .collect()
}

/// Kills and reaps `child` if it is still running (so a failing test leaves nothing behind).
pub fn ensure_dead(child: &mut Child) {
    let _ = child.kill();
    let _ = child.wait();
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

/// Running (not a zombie) according to /proc/<pid>/stat.
pub fn alive(pid: i32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => {
            let state = stat
                .rsplit(')')
                .next()
                .unwrap()
                .split_whitespace()
                .next()
                .unwrap();
            state != "Z" && state != "X"
        }
        Err(_) => false,
    }
}

/// Processes (zombies included) whose process group is `pgid`.
pub fn processes_in_group(pgid: i32) -> Vec<i32> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc")
        .expect("read /proc")
        .filter_map(|e| e.ok())
    {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        // Fields after "(comm)": state ppid pgrp ...
        let fields: Vec<&str> = stat
            .rsplit(')')
            .next()
            .unwrap()
            .split_whitespace()
            .collect();
        if fields.get(2).and_then(|g| g.parse::<i32>().ok()) == Some(pgid) {
            found.push(pid);
        }
    }
    found
}

/// Runs shm-demo with the umask set to `umask`, as this user.
pub fn run_with_umask(args: &[&str], umask: u32) -> Output {
    let mut command = Command::new(BIN);
    testkit::with_umask(command.args(args), umask);
    command.output().expect("run shm-demo")
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
/// binary inherits it.
pub fn run_as_nobody_with_umask(args: &[&str], umask: Option<u32>) -> Output {
    let copy = testkit::NobodyCopy::of(BIN);
    let mut command = copy.command();
    command.args(args);
    if let Some(mask) = umask {
        testkit::with_umask(&mut command, mask);
    }
    command.output().expect("run setpriv (util-linux)")
}
