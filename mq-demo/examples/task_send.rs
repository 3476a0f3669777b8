//! The sending half of a job queue: four `Task`s, each one message with a priority, put on a
//! POSIX message queue that outlives this process. The encoding (4 bytes of task_type, then
//! the payload) is this pair's own: the tour's `mq_demo::Task` has a versioned 9-byte header.
//! Lecture: "Message Queues: Communication With Structure" (the job dispatch system).
//!
//! Run (Linux only), one step after the other (both take the queue name, default /tasks):
//!     cargo run -p mq-demo --example task_send
//!     cargo run -p mq-demo --example task_receive
//!
//! You will see four `sent priority ...` lines and the count waiting in the queue; the tasks
//! stay in the kernel after we exit, until task_receive takes them, highest priority first,
//! and removes the queue. Run task_send twice before receiving: the queue holds both batches.
//! To remove a queue by hand: `rm /dev/mqueue/tasks` where the mqueue file system is mounted.
//!
//! To use it alone: `cargo new task_send`, put this file in src/main.rs, add these lines
//! under [dependencies] in Cargo.toml, `cargo run`, then task_receive's own `cargo run`:
//! ```toml
//! [dependencies]
//! libc = "0.2"
//! nix = { version = "0.32", features = ["mqueue"] }
//! ```

use std::error::Error;

/// The lecture's task. Its priority travels beside it, in the queue, not in the message.
#[cfg(target_os = "linux")]
struct Task {
    task_type: u32,
    payload: String,
}

/// One Task as one message: task_type (4 bytes, little-endian), then the payload's UTF-8. No
/// length, no delimiter: a receive returns one send's bytes, so the payload is all the rest.
#[cfg(target_os = "linux")]
fn encode(task: &Task) -> Vec<u8> {
    let mut message = task.task_type.to_le_bytes().to_vec();
    message.extend_from_slice(task.payload.as_bytes());
    message
}

#[cfg(target_os = "linux")]
fn main() -> Result<(), Box<dyn Error>> {
    use nix::errno::Errno;
    use nix::mqueue::{MQ_OFlag, MqAttr, mq_close, mq_getattr, mq_open, mq_send};
    use nix::sys::stat::Mode;
    use std::io::Write;

    // SAFETY: before any thread exists. Rust ignores SIGPIPE; the default makes a closed
    // stdout (`| head -1`) end us quietly, as it would a C program.
    unsafe { libc::signal(libc::SIGPIPE, libc::SIG_DFL) };
    let name = std::env::args().nth(1).unwrap_or_else(|| "/tasks".into());
    // (priority, task_type, payload): urgent 9, normal 5, low 1. Higher is received first.
    let tasks = [
        (5, 1, "compress file.dat"),
        (1, 3, "rotate logs"),
        (9, 2, "send alert: disk 95% full"),
        (5, 4, "resize image.png"),
    ];

    // 10 messages of at most 256 bytes: within the limits an ordinary user gets
    // (/proc/sys/fs/mqueue/msg_max = 10, msgsize_max = 8192). Used only if we create it.
    let attr = MqAttr::new(0, 10, 256, 0);
    // O_CREAT without O_EXCL: the queue collects tasks across runs, so an existing one is
    // reused. O_NONBLOCK: a full queue is EAGAIN instead of a wait until somebody receives.
    let flags = MQ_OFlag::O_WRONLY | MQ_OFlag::O_CREAT | MQ_OFlag::O_NONBLOCK;
    // Mode 0600 (owner only) applies when we create it; the umask can only clear bits.
    let mode = Mode::from_bits_truncate(0o600);
    let queue = mq_open(name.as_str(), flags, mode, Some(&attr))
        .map_err(|e| format!("mq_open {name}: {e}"))?;

    let mut out = std::io::stdout().lock();
    for (priority, task_type, payload) in tasks {
        let payload = payload.to_string();
        let task = Task { task_type, payload };
        mq_send(&queue, &encode(&task), priority).map_err(|e| match e {
            Errno::EAGAIN => format!("mq_send {name}: queue full; run task_receive to drain it"),
            _ => format!("mq_send {name}: {e}"),
        })?;
        let (task_type, payload) = (task.task_type, task.payload);
        let sent = format!("sent priority {priority}: task_type {task_type} {payload:?}");
        writeln!(out, "{sent}")?;
    }

    let attr = mq_getattr(&queue).map_err(|e| format!("mq_getattr {name}: {e}"))?;
    mq_close(queue).map_err(|e| format!("mq_close {name}: {e}"))?;
    let waiting = attr.curmsgs();
    let summary = format!("{waiting} tasks wait in {name}; the queue outlives this process");
    let next = format!("next: cargo run -p mq-demo --example task_receive {name}");
    writeln!(out, "{summary}\n{next}")?;
    Ok(())
}

#[cfg(not(target_os = "linux"))]
fn main() -> Result<(), Box<dyn Error>> {
    println!("POSIX message queues (mq_open) do not exist on this OS; run this on Linux.");
    Ok(())
}
