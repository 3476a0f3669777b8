//! End to end: the examples in mq-demo/examples, run as the binaries cargo built, each half
//! as its own process, the way a reader runs them one after the other.
#![cfg(target_os = "linux")]

use std::process::Output;

use nix::errno::Errno;
use nix::mqueue::{MQ_OFlag, mq_close, mq_getattr, mq_open, mq_unlink};
use nix::sys::stat::Mode;
use rand::RngExt;

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

// Fed by the test: tasks drawn per run, sent by the test in an order it chooses, so a
// receiver that prints fixed tasks, or collects them and sorts them itself, fails.

/// A queue made by the test as task_send makes it (10 messages of 256 bytes, mode 0600),
/// holding `tasks`, each (priority, message) sent in the order given.
fn queue_holding(name: &str, tasks: &[(u32, Vec<u8>)]) {
    use nix::mqueue::{MqAttr, mq_send};
    let flags = MQ_OFlag::O_WRONLY | MQ_OFlag::O_CREAT | MQ_OFlag::O_EXCL;
    let attr = MqAttr::new(0, 10, 256, 0);
    let queue = mq_open(name, flags, Mode::S_IRUSR | Mode::S_IWUSR, Some(&attr)).expect("mq_open");
    for (priority, message) in tasks {
        mq_send(&queue, message, *priority).expect("mq_send");
    }
    mq_close(queue).expect("mq_close");
}

/// Random tasks: priorities from a small range (so some tie), any task_type, payloads of
/// 0 to 252 printable characters (a message is at most 256 bytes).
fn random_tasks(count: usize) -> Vec<(u32, u32, String)> {
    let mut rng = rand::rng();
    (0..count)
        .map(|_| {
            let len = rng.random_range(0..=252);
            let payload = (0..len)
                .map(|_| char::from(rng.random_range(b' '..=b'~')))
                .collect();
            (rng.random_range(0..4), rng.random(), payload)
        })
        .collect()
}

/// task_send's encoding: task_type (4 bytes, little-endian), then the payload.
fn encoded(tasks: &[(u32, u32, String)]) -> Vec<(u32, Vec<u8>)> {
    let message = |t: u32, p: &str| [t.to_le_bytes().as_slice(), p.as_bytes()].concat();
    tasks
        .iter()
        .map(|(pr, t, p)| (*pr, message(*t, p)))
        .collect()
}

#[test]
fn task_receive_prints_the_tests_tasks_by_priority_as_it_receives_them() {
    let queue = QueueName::new();
    let name = queue.0.as_str();
    let tasks = random_tasks(rand::rng().random_range(1..=10));
    // The kernel's order: highest priority first, in send order within one (a stable sort).
    let mut order = tasks.clone();
    order.sort_by_key(|(priority, _, _)| std::cmp::Reverse(*priority));
    let mut want: Vec<String> = order
        .iter()
        .map(|(pr, t, p)| format!("received priority {pr}: task_type {t} {p:?}"))
        .collect();
    let done = format!(
        "queue empty after {} tasks; {name} removed (mq_unlink)",
        tasks.len()
    );
    want.push(done);

    // Under strace, when it can trace here: each receive must be followed by its line,
    // before the next receive (a program that collected and sorted would print them last).
    queue_holding(name, &encoded(&tasks));
    let trace = std::env::temp_dir().join(testkit::unique("mq-demo-fed-trace"));
    let example = testkit::example(env!("CARGO_MANIFEST_DIR"), "task_receive");
    let strace = std::process::Command::new("strace").arg("-V").output();
    let out = strace.is_ok().then(|| {
        let mut traced = std::process::Command::new("strace");
        traced
            .args(["-qq", "-e", "trace=mq_timedreceive,write", "-o"])
            .arg(&trace)
            .arg(&example)
            .arg(name)
            .stdin(std::process::Stdio::null());
        testkit::output(&mut traced, "strace task_receive")
    });
    let out = out.filter(|out| out.status.success() && trace.exists());
    let log = std::fs::read_to_string(&trace).unwrap_or_default();
    let _ = std::fs::remove_file(&trace);
    let stdout = match out {
        Some(out) => {
            let calls: String = log
                .lines()
                .filter_map(|l| match l {
                    _ if l.starts_with("mq_timedreceive(") => Some('R'),
                    _ if l.starts_with("write(1,") => Some('W'),
                    _ => None,
                })
                .collect();
            // k receives each with its line, the receive that finds the queue empty, the
            // last line.
            assert_eq!(calls, "RW".repeat(tasks.len()) + "RW", "{log}");
            String::from_utf8_lossy(&out.stdout).into_owned()
        }
        None => {
            eprintln!("strace could not trace here: order of calls not checked");
            let _ = mq_unlink(name);
            queue_holding(name, &encoded(&tasks));
            run_ok("task_receive", &[name])
        }
    };
    assert_eq!(stdout.lines().collect::<Vec<_>>(), want, "sent {tasks:?}");
    assert_eq!(messages_in(name), Err(Errno::ENOENT), "queue left behind");
}

#[test]
fn task_send_adds_its_four_tasks_to_what_the_queue_already_holds() {
    let queue = QueueName::new();
    let name = queue.0.as_str();
    // 1 to 6 already queued: all four fit (a full queue has its own test above).
    let already = rand::rng().random_range(1..=6usize);
    queue_holding(name, &encoded(&random_tasks(already)));
    let stdout = run_ok("task_send", &[name]);
    let sent = stdout.lines().filter(|l| l.starts_with("sent priority"));
    assert_eq!(sent.count(), 4, "{stdout}");
    let waiting = format!("{} tasks wait in {name}; ", already + 4);
    assert!(
        stdout.contains(&waiting),
        "{already} queued before:\n{stdout}"
    );
    assert_eq!(messages_in(name), Ok(already as i64 + 4));
}
