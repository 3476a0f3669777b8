//! The examples in mq-demo/examples against what a reader's real program meets: a closed or
//! full stdout, and a message on the queue that is no Task. Each must end with an error or
//! quietly (SIGPIPE), never with a panic (101) or an abort (134), and must lose no task and
//! leave no queue behind. Run as the binaries cargo built, as tests/examples.rs does.
#![cfg(target_os = "linux")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::{Command, Output, Stdio};

use nix::errno::Errno;
use nix::mqueue::{MQ_OFlag, MqAttr, mq_close, mq_getattr, mq_open, mq_send, mq_unlink};
use nix::sys::stat::Mode;
use testkit::hostile::{Stdout, assert_ended_cleanly, run_to_end};

/// Runs example `name` to the end with its stdout sent to `stdout`; the test fails after
/// testkit's limit.
fn run(name: &str, args: &[&str], stdout: Stdout) -> (Output, String) {
    let mut command = Command::new(testkit::example(env!("CARGO_MANIFEST_DIR"), name));
    run_to_end(
        command.args(args).stdout(stdout.stdio()),
        testkit::LIMIT,
        name,
    )
}

/// A queue name of this test's own, unlinked when dropped.
struct QueueName(String);

impl QueueName {
    fn new() -> Self {
        QueueName(format!("/{}", testkit::unique("mqhostile")))
    }
}

impl Drop for QueueName {
    fn drop(&mut self) {
        let _ = mq_unlink(self.0.as_str());
    }
}

/// How many messages queue `name` holds, or mq_open's error (ENOENT: it is gone).
fn messages_in(name: &str) -> Result<i64, Errno> {
    let queue = mq_open(name, MQ_OFlag::O_RDONLY, Mode::empty(), None)?;
    let count = mq_getattr(&queue).map(|attr| attr.curmsgs());
    mq_close(queue).expect("mq_close");
    count
}

/// task_send's encoding: 4 bytes of task_type (little-endian), then the payload.
fn task(task_type: u32, payload: &str) -> Vec<u8> {
    let mut message = task_type.to_le_bytes().to_vec();
    message.extend_from_slice(payload.as_bytes());
    message
}

#[test]
fn task_receive_skips_a_message_that_is_no_task_and_delivers_the_rest() {
    let queue = QueueName::new();
    let name = queue.0.as_str();
    let flags = MQ_OFlag::O_WRONLY | MQ_OFlag::O_CREAT | MQ_OFlag::O_EXCL;
    let attr = MqAttr::new(0, 10, 256, 0);
    let q = mq_open(name, flags, Mode::from_bits_truncate(0o600), Some(&attr)).unwrap();
    // Highest priority first: the two bad messages come out before the good ones.
    mq_send(&q, b"xy", 9).unwrap(); // too short for a task_type
    mq_send(&q, &[1, 0, 0, 0, 0xff, 0xfe], 8).unwrap(); // payload not UTF-8
    mq_send(&q, &task(2, "send alert: disk 95% full"), 5).unwrap();
    mq_send(&q, &task(3, "rotate logs"), 1).unwrap();
    mq_close(q).unwrap();

    let (out, stderr) = run("task_receive", &[name], Stdout::Piped);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{:?}\n{stdout}{stderr}", out.status);
    let received: Vec<&str> = stdout
        .lines()
        .filter(|l| l.starts_with("received"))
        .collect();
    assert_eq!(
        received,
        [
            r#"received priority 5: task_type 2 "send alert: disk 95% full""#,
            r#"received priority 1: task_type 3 "rotate logs""#,
        ],
        "{stdout}{stderr}"
    );
    assert_eq!(stderr.matches("skipped").count(), 2, "{stderr}");
    assert!(stdout.contains("queue empty after 2 tasks"), "{stdout}");
    assert_eq!(messages_in(name), Err(Errno::ENOENT), "queue left behind");
}

#[test]
fn task_receive_that_cannot_print_leaves_the_tasks_it_did_not_take() {
    for stdout in [Stdout::Full, Stdout::Closed] {
        let queue = QueueName::new();
        let name = queue.0.as_str();
        let (sent, stderr) = run("task_send", &[name], Stdout::Piped);
        assert!(sent.status.success(), "task_send: {stderr}");
        assert_eq!(messages_in(name), Ok(4));

        // The first task is taken, its line cannot be written: the run ends there, and the
        // three behind it must still be in the queue (it used to be unlinked at the start).
        let (out, stderr) = run("task_receive", &[name], stdout);
        assert_ended_cleanly(&format!("task_receive, stdout {stdout:?}"), &out, &stderr);
        assert!(!out.status.success(), "{stdout:?}: {:?}", out.status);
        assert_eq!(messages_in(name), Ok(3), "stdout {stdout:?}: tasks lost");
    }
}

#[test]
fn task_send_and_task_mpsc_end_cleanly_on_a_closed_or_full_stdout() {
    for stdout in [Stdout::Full, Stdout::Closed] {
        let queue = QueueName::new();
        let (out, stderr) = run("task_send", &[queue.0.as_str()], stdout);
        assert_ended_cleanly(&format!("task_send, stdout {stdout:?}"), &out, &stderr);
        assert!(!out.status.success(), "{stdout:?}: {:?}", out.status);

        let (out, stderr) = run("task_mpsc", &[], stdout);
        assert_ended_cleanly(&format!("task_mpsc, stdout {stdout:?}"), &out, &stderr);
        assert!(!out.status.success(), "{stdout:?}: {:?}", out.status);
    }
}

/// The System V queues whose last msgsnd came from `pid` (/proc/sysvipc/msg, column lspid).
fn sysv_queues_of(pid: u32) -> Vec<String> {
    let table = std::fs::read_to_string("/proc/sysvipc/msg").expect("/proc/sysvipc/msg");
    let header: Vec<&str> = table.lines().next().unwrap().split_whitespace().collect();
    let lspid = header
        .iter()
        .position(|c| *c == "lspid")
        .expect("lspid column");
    table
        .lines()
        .skip(1)
        .filter(|l| l.split_whitespace().nth(lspid) == Some(pid.to_string().as_str()))
        .map(str::to_string)
        .collect()
}

#[test]
fn sysv_queue_removes_its_queue_when_stdout_is_closed_or_full() {
    for stdout in [Stdout::Full, Stdout::Closed] {
        let child = Command::new(testkit::example(env!("CARGO_MANIFEST_DIR"), "sysv_queue"))
            .stdin(Stdio::null())
            .stdout(stdout.stdio())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let pid = child.id();
        let out = testkit::output_within(child, testkit::LIMIT, "sysv_queue");
        let stderr = String::from_utf8_lossy(&out.stderr);
        // Before the fix: a panic on the first line, then a second one in Drop: abort (134).
        assert_ended_cleanly(&format!("sysv_queue, stdout {stdout:?}"), &out, &stderr);
        assert_eq!(out.status.code(), Some(1), "{stdout:?}: {stderr}");
        let left = sysv_queues_of(pid);
        for line in &left {
            let id: libc::c_int = line.split_whitespace().nth(1).unwrap().parse().unwrap();
            // SAFETY: IPC_RMID reads no buffer; remove what the example left, then fail.
            unsafe { libc::msgctl(id, libc::IPC_RMID, std::ptr::null_mut()) };
        }
        assert!(
            left.is_empty(),
            "stdout {stdout:?}: queue left behind: {left:?}"
        );
    }
}
