//! End to end: the examples in mq-demo/examples, run as the binaries cargo built, each half
//! as its own process, the way a reader runs them one after the other.
#![cfg(target_os = "linux")]

use std::process::Output;

use nix::errno::Errno;
use nix::mqueue::{MQ_OFlag, mq_close, mq_getattr, mq_open, mq_unlink};
use nix::sys::stat::Mode;

/// Runs an example to completion (bounded) and returns what it printed.
fn run(name: &str, args: &[&str]) -> Output {
    testkit::run_example(env!("CARGO_MANIFEST_DIR"), name, args)
}

/// Runs an example that must succeed and returns its stdout.
fn run_ok(name: &str, args: &[&str]) -> String {
    let out = run(name, args);
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "{name} {args:?}: {}\n{stdout}{stderr}",
        out.status
    );
    stdout
}

/// A queue name no other run or test uses; unlinks it when dropped, so a failing test
/// leaves no queue behind either.
struct QueueName(String);

impl QueueName {
    fn new() -> Self {
        QueueName(format!("/{}", testkit::unique("mq-demo-example")))
    }
}

impl Drop for QueueName {
    fn drop(&mut self) {
        let _ = mq_unlink(self.0.as_str());
    }
}

/// How many messages the queue holds now, or the error of mq_open.
fn messages_in(name: &str) -> Result<i64, Errno> {
    let queue = mq_open(name, MQ_OFlag::O_RDONLY, Mode::empty(), None)?;
    let count = mq_getattr(&queue).map(|attr| attr.curmsgs());
    mq_close(queue).expect("mq_close");
    count
}

#[test]
fn tasks_survive_the_sender_and_come_out_by_priority_then_the_queue_is_gone() {
    let queue = QueueName::new();
    let name = queue.0.as_str();

    let sent = run_ok("task_send", &[name]);
    assert_eq!(
        sent.lines()
            .filter(|l| l.starts_with("sent priority"))
            .count(),
        4,
        "{sent}"
    );
    // The sender has exited; its tasks are still in the kernel.
    assert_eq!(messages_in(name), Ok(4), "after task_send exited:\n{sent}");

    let received = run_ok("task_receive", &[name]);
    let tasks: Vec<&str> = received
        .lines()
        .filter(|l| l.starts_with("received"))
        .collect();
    assert_eq!(
        tasks,
        [
            r#"received priority 9: task_type 2 "send alert: disk 95% full""#,
            r#"received priority 5: task_type 1 "compress file.dat""#,
            r#"received priority 5: task_type 4 "resize image.png""#,
            r#"received priority 1: task_type 3 "rotate logs""#,
        ],
        "priority order (FIFO within a priority), payloads intact:\n{received}"
    );
    assert!(received.contains("queue empty after 4 tasks"), "{received}");

    // Removed: /dev/mqueue need not be mounted, so ask mq_open.
    assert_eq!(messages_in(name), Err(Errno::ENOENT), "queue left behind");
    let again = run("task_receive", &[name]);
    let err = String::from_utf8_lossy(&again.stderr);
    assert!(!again.status.success() && err.lines().count() == 1, "{err}");
    assert!(
        err.contains(&format!("mq_open {name}: no such queue")),
        "{err}"
    );
}

#[test]
fn a_full_queue_makes_task_send_fail_instead_of_block() {
    let queue = QueueName::new();
    let name = queue.0.as_str();
    run_ok("task_send", &[name]);
    run_ok("task_send", &[name]);
    // 8 of 10 slots are taken: the third run fits two tasks, then gets EAGAIN.
    let out = run("task_send", &[name]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "third task_send succeeded");
    assert!(err.contains("queue full"), "{err}");
    assert_eq!(messages_in(name), Ok(10));
    let received = run_ok("task_receive", &[name]);
    assert!(
        received.contains("queue empty after 10 tasks"),
        "{received}"
    );
    assert_eq!(messages_in(name), Err(Errno::ENOENT), "queue left behind");
}

#[test]
fn task_mpsc_delivers_whole_tasks_in_send_order() {
    let out = run_ok("task_mpsc", &[]);
    let got: Vec<&str> = out
        .lines()
        .filter(|l| l.starts_with("worker got"))
        .collect();
    assert_eq!(
        got,
        [
            r#"worker got task_type 1: "compress file.dat""#,
            r#"worker got task_type 3: "rotate logs""#,
            r#"worker got task_type 2: "send alert: disk 95% full""#,
            r#"worker got task_type 4: "resize image.png""#,
        ],
        "{out}"
    );
    assert_eq!(
        out.lines().last(),
        Some("channel closed; the worker got 4 tasks, in the order sent")
    );
}

#[test]
fn sysv_queue_selects_by_type_and_removes_the_queue() {
    let out = run_ok("sysv_queue", &[]);
    let id: libc::c_int = out
        .split("queue id ")
        .nth(1)
        .and_then(|rest| rest.split(',').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no queue id in:\n{out}"));

    // SAFETY: msqid_ds is plain integers, so all-zero is a valid value.
    let mut info: libc::msqid_ds = unsafe { std::mem::zeroed() };
    // SAFETY: IPC_STAT writes one msqid_ds into `info`, which is ours and large enough.
    let rc = unsafe { libc::msgctl(id, libc::IPC_STAT, &mut info) };
    let errno = Errno::last();
    if rc == 0 {
        // SAFETY: IPC_RMID reads no buffer. Remove what the example left, then fail.
        unsafe { libc::msgctl(id, libc::IPC_RMID, std::ptr::null_mut()) };
        panic!("queue {id} was left behind (removed it now):\n{out}");
    }
    assert!(
        matches!(errno, Errno::EINVAL | Errno::EIDRM),
        "msgctl IPC_STAT {id}: {errno}"
    );

    let received: Vec<&str> = out.lines().filter(|l| l.starts_with("msgrcv")).collect();
    assert_eq!(
        received,
        [
            r#"msgrcv  2: type 2 "compress""#,
            r#"msgrcv -3: type 1 "send alert""#,
            r#"msgrcv -3: type 3 "rotate logs""#,
        ],
        "type 2 first, then lowest type first:\n{out}"
    );
    assert!(
        out.contains(&format!("msgctl IPC_RMID: queue {id} removed")),
        "{out}"
    );
}
