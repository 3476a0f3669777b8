//! Helpers shared by the integration tests: run the real binary, find what it left behind.
#![allow(dead_code, clippy::unwrap_used)]

use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

use nix::mqueue::{MQ_OFlag, mq_close, mq_open};
use nix::sys::stat::Mode;

pub const BIN: &str = env!("CARGO_BIN_EXE_mq-demo");

/// The binary with `args`, tagged through its environment so that the test can find every
/// process it leaves running (forked and spawned children inherit the environment).
pub fn command(args: &[&str], tag: &str) -> Command {
    let mut cmd = Command::new(BIN);
    cmd.args(args)
        .env("MQ_DEMO_TEST_TAG", tag)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    cmd
}

/// Runs the binary with `args` to the end; the test fails if it has not exited within 60 s.
pub fn run(args: &[&str]) -> Output {
    testkit::output(&mut command(args, &unique_tag()), "mq-demo")
}

/// The binary with `args`, tagged, talked to while it runs: every wait bounded, its process
/// group stopped on drop.
pub fn start(args: &[&str], tag: &str) -> testkit::Running {
    testkit::Running::start(&mut command(args, tag))
}

/// A started child's output once it has exited; the test fails (the child killed) if it has
/// not exited within 60 s.
pub fn output_of(child: Child) -> Output {
    testkit::output_within(child, Duration::from_secs(60), "mq-demo")
}

pub fn spawn(args: &[&str], tag: &str) -> Child {
    command(args, tag).spawn().expect("spawn mq-demo")
}

/// A tag no other test (or run) uses, for [`command`].
pub fn unique_tag() -> String {
    testkit::unique("mq-test")
}

/// Live processes whose environment carries `tag` (zombies have no environment and are
/// counted by `zombies_of` instead).
pub fn processes_with_tag(tag: &str) -> Vec<String> {
    let needle = format!("MQ_DEMO_TEST_TAG={tag}");
    let tagged = |pid: &i32| {
        let environ = std::fs::read(format!("/proc/{pid}/environ")).unwrap_or_default();
        environ.split(|&b| b == 0).any(|v| v == needle.as_bytes())
    };
    let pids = testkit::pids().into_iter().filter(tagged);
    pids.map(|pid| pid.to_string()).collect()
}

/// Does a queue of this name exist? (mq_open of an absent name fails with ENOENT.)
pub fn queue_exists(name: &str) -> bool {
    match mq_open(name, MQ_OFlag::O_RDONLY, Mode::empty(), None) {
        Ok(mqd) => {
            let _ = mq_close(mqd);
            true
        }
        Err(nix::errno::Errno::ENOENT) => false,
        Err(e) => panic!("mq_open {name}: {e}"),
    }
}

/// Is the mqueue file system mounted on /dev/mqueue (so that queues can be listed)?
pub fn mqueue_listable() -> bool {
    std::fs::read_to_string("/proc/self/mounts").is_ok_and(|m| {
        m.lines().any(|l| {
            l.split_whitespace().nth(1) == Some("/dev/mqueue")
                && l.split_whitespace().nth(2) == Some("mqueue")
        })
    })
}

/// Queues in /dev/mqueue (when the mqueue file system is mounted there) whose name contains
/// `fragment`. Without the mount this returns nothing; tests also check names they know.
pub fn listed_queues(fragment: &str) -> Vec<String> {
    testkit::names_containing("/dev/mqueue", fragment).unwrap_or_default()
}

/// Everything a run of the binary with this pid may have left: its listed queues, and every
/// queue name of that run its output shows.
pub fn leftovers(pid: u32, stdout: &str) -> Vec<String> {
    let mut left = listed_queues(&format!("ipc-tour-mq-{pid}-"));
    for name in printed_names(pid, stdout) {
        if queue_exists(&name) && !left.iter().any(|l| name[1..] == *l) {
            left.push(name);
        }
    }
    left
}

/// The queue names of the run with this pid that its output shows, each once: every step
/// prints its queue's name, `/ipc-tour-mq-<pid>-<8 hex digits>`.
pub fn printed_names(pid: u32, stdout: &str) -> Vec<String> {
    let prefix = format!("/ipc-tour-mq-{pid}-");
    let is_name = |word: &&str| {
        word.strip_prefix(&prefix).is_some_and(|random| {
            random.len() == 8 && random.bytes().all(|b| b.is_ascii_hexdigit())
        })
    };
    let mut names: Vec<String> = stdout
        .split(|c: char| c.is_whitespace() || ":;`\"".contains(c))
        .filter(is_name)
        .map(str::to_string)
        .collect();
    names.sort();
    names.dedup();
    names
}
