//! The sending half of a job queue: four `Task`s, each one message with a priority, put on
//! a POSIX message queue that outlives this process. Its encoding (a 4-byte task_type, then
//! the payload) is this pair's own; the tour's `mq_demo::Task` has a versioned 9-byte header
//! instead, so a queue written by one cannot be read by the other.
//! Lecture: "Message Queues: Communication With Structure" (the job dispatch system).
//!
//! Run (Linux only), one step after the other:
//!     cargo run -p mq-demo --example task_send
//!     cargo run -p mq-demo --example task_receive
//! Both take the queue name as an optional argument (default /tasks).
//!
//! You will see four `sent priority ...` lines and the count waiting in the queue; the
//! program exits and the tasks stay in the kernel until task_receive takes them, highest
//! priority first, and removes the queue. Run task_send twice before receiving and the
//! queue holds both batches. To remove a queue by hand instead: task_receive, or
//! `rm /dev/mqueue/tasks` where the mqueue file system is mounted.
//!
//! To use it alone: `cargo new task_send`, put this file in src/main.rs, add these
//! lines under [dependencies] in Cargo.toml, then `cargo run`; then `cargo run` in
//! task_receive's own project:
//! ```toml
//! [dependencies]
//! nix = { version = "0.32", features = ["mqueue"] }
//! ```

use std::error::Error;

/// The lecture's task. Its priority travels beside it, in the queue, not in the message.
#[cfg(target_os = "linux")]
struct Task {
    task_type: u32,
    payload: String,
}

/// One Task as one message: task_type (4 bytes, little-endian), then the payload's UTF-8.
/// No length field and no delimiter: the queue returns exactly the bytes of one mq_send,
/// so the payload is simply everything after the first 4 bytes.
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
    // O_CREAT without O_EXCL: the queue is meant to collect tasks across runs, so an
    // existing one is reused. O_NONBLOCK: a full queue fails with EAGAIN instead of
    // blocking this program until somebody receives.
    let flags = MQ_OFlag::O_WRONLY | MQ_OFlag::O_CREAT | MQ_OFlag::O_NONBLOCK;
    // Mode 0600 (owner only) applies when we create it; the umask can only clear bits.
    let mode = Mode::from_bits_truncate(0o600);
    let queue = mq_open(name.as_str(), flags, mode, Some(&attr))
        .map_err(|e| format!("mq_open {name}: {e}"))?;

    for (priority, task_type, payload) in tasks {
        let task = Task {
            task_type,
            payload: payload.into(),
        };
        mq_send(&queue, &encode(&task), priority).map_err(|e| match e {
            Errno::EAGAIN => format!("mq_send {name}: queue full; run task_receive to drain it"),
            _ => format!("mq_send {name}: {e}"),
        })?;
        println!(
            "sent priority {priority}: task_type {} {:?}",
            task.task_type, task.payload
        );
    }

    let waiting = mq_getattr(&queue)
        .map_err(|e| format!("mq_getattr {name}: {e}"))?
        .curmsgs();
    mq_close(queue).map_err(|e| format!("mq_close {name}: {e}"))?;
    println!("{waiting} tasks wait in {name}; the queue outlives this process");
    println!("next: cargo run -p mq-demo --example task_receive {name}");
    Ok(())
}

#[cfg(not(target_os = "linux"))]
fn main() -> Result<(), Box<dyn Error>> {
    println!("POSIX message queues (mq_open) do not exist on this OS; run this on Linux.");
    Ok(())
}
