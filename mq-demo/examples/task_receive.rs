//! The receiving half of the job queue: drains what task_send left behind, highest priority
//! first, decodes each message back into a `Task`, and removes the queue.
//!
//! Lecture: "Message Queues: Communication With Structure" (the job dispatch system).
//!
//! Run (Linux only), one step after the other:
//!     cargo run -p mq-demo --example task_send
//!     cargo run -p mq-demo --example task_receive
//! Both take the queue name as an optional argument (default /tasks).
//!
//! You will see the alert (priority 9) first, then the two priority-5 tasks in the order
//! they were sent, then the priority-1 task, each with its payload intact; then that the
//! queue is gone. Run it again and mq_open fails with ENOENT: nothing is left behind.
//!
//! To use it alone: `cargo new task_receive`, put this file in src/main.rs, add these
//! lines under [dependencies] in Cargo.toml, then `cargo run`, after `cargo run` in
//! task_send's own project:
//! ```toml
//! [dependencies]
//! nix = { version = "0.32", features = ["mqueue"] }
//! ```

use std::error::Error;

#[cfg(target_os = "linux")]
struct Task {
    task_type: u32,
    payload: String,
}

/// The inverse of task_send's encode: 4 bytes of task_type, then the UTF-8 payload.
/// The message's own length marks where the payload ends.
#[cfg(target_os = "linux")]
fn decode(message: &[u8]) -> Result<Task, String> {
    let (head, payload) = message
        .split_first_chunk::<4>()
        .ok_or(format!("a {}-byte message is no Task", message.len()))?;
    let payload = String::from_utf8(payload.to_vec()).map_err(|e| format!("payload: {e}"))?;
    Ok(Task {
        task_type: u32::from_le_bytes(*head),
        payload,
    })
}

#[cfg(target_os = "linux")]
fn main() -> Result<(), Box<dyn Error>> {
    use nix::errno::Errno;
    use nix::mqueue::{MQ_OFlag, mq_close, mq_getattr, mq_open, mq_receive, mq_unlink};
    use nix::sys::stat::Mode;

    let name = std::env::args().nth(1).unwrap_or_else(|| "/tasks".into());
    // No O_CREAT: a missing queue is an error (ENOENT), not a new empty one. O_NONBLOCK:
    // once the queue is empty mq_receive fails with EAGAIN instead of waiting for a sender,
    // so this program drains and exits and never needs Ctrl-C.
    let flags = MQ_OFlag::O_RDONLY | MQ_OFlag::O_NONBLOCK;
    let queue = mq_open(name.as_str(), flags, Mode::empty(), None).map_err(|e| match e {
        Errno::ENOENT => format!("mq_open {name}: no such queue (run task_send first)"),
        _ => format!("mq_open {name}: {e}"),
    })?;
    // Remove the name at once. Like an unlinked file, the queue itself lives until its
    // last descriptor closes, so we still drain it, and no error below can leave it behind.
    mq_unlink(name.as_str()).map_err(|e| format!("mq_unlink {name}: {e}"))?;

    // The buffer must be mq_msgsize bytes even if every message is shorter: mq_receive
    // refuses a smaller one with EMSGSIZE rather than risk cutting a message in two.
    let attr = mq_getattr(&queue).map_err(|e| format!("mq_getattr {name}: {e}"))?;
    let size = usize::try_from(attr.msgsize()).map_err(|e| format!("mq_msgsize: {e}"))?;
    let mut buffer = vec![0u8; size];

    let mut received = 0;
    loop {
        // The kernel picks the oldest message of the highest priority: no sorting here.
        let mut priority = 0;
        let len = match mq_receive(&queue, &mut buffer, &mut priority) {
            Ok(len) => len,
            Err(Errno::EAGAIN) => break, // empty
            Err(e) => return Err(format!("mq_receive {name}: {e}").into()),
        };
        // One mq_receive returns one whole message: exactly the bytes of one mq_send.
        let task = decode(&buffer[..len]).map_err(|e| format!("message from {name}: {e}"))?;
        println!(
            "received priority {priority}: task_type {} {:?}",
            task.task_type, task.payload
        );
        received += 1;
    }
    mq_close(queue).map_err(|e| format!("mq_close {name}: {e}"))?;
    println!("queue empty after {received} tasks; {name} removed (mq_unlink)");
    Ok(())
}

#[cfg(not(target_os = "linux"))]
fn main() -> Result<(), Box<dyn Error>> {
    println!("POSIX message queues (mq_open) do not exist on this OS; run this on Linux.");
    Ok(())
}
