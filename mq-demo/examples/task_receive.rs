//! The receiving half of the job queue: drains what task_send left behind, highest priority
//! first, decodes each message back into a `Task`, and removes the queue once it is empty.
//! Lecture: "Message Queues: Communication With Structure" (the job dispatch system).
//!
//! Run (Linux only), one step after the other (both take the queue name, default /tasks):
//!     cargo run -p mq-demo --example task_send
//!     cargo run -p mq-demo --example task_receive
//!
//! You will see the alert (priority 9) first, then the two priority-5 tasks in the order
//! they were sent, then the priority-1 task, payloads intact; then that the queue is gone
//! (run it again: mq_open fails with ENOENT). A message that is no Task is reported on stderr
//! and skipped; if this program stops early, the queue keeps the tasks not yet received.
//!
//! To use it alone: `cargo new task_receive`, put this file in src/main.rs, add these lines
//! under [dependencies] in Cargo.toml, then `cargo run` after task_send's own `cargo run`:
//! ```toml
//! [dependencies]
//! libc = "0.2"
//! nix = { version = "0.32", features = ["mqueue"] }
//! ```

use std::error::Error;

#[cfg(target_os = "linux")]
struct Task {
    task_type: u32,
    payload: String,
}

/// task_send's encode reversed: 4 bytes of task_type, then UTF-8 up to the message's end.
#[cfg(target_os = "linux")]
fn decode(message: &[u8]) -> Result<Task, String> {
    let (head, payload) = message
        .split_first_chunk::<4>()
        .ok_or(format!("a {}-byte message is no Task", message.len()))?;
    let payload = String::from_utf8(payload.to_vec()).map_err(|e| format!("payload: {e}"))?;
    let task_type = u32::from_le_bytes(*head);
    Ok(Task { task_type, payload })
}

#[cfg(target_os = "linux")]
fn main() -> Result<(), Box<dyn Error>> {
    use nix::errno::Errno;
    use nix::mqueue::{MQ_OFlag, mq_close, mq_getattr, mq_open, mq_receive, mq_unlink};
    use nix::sys::stat::Mode;
    use std::io::Write;
    // SAFETY: before any thread exists. Rust ignores SIGPIPE; the default makes a closed
    // stdout (`| head -1`) end us quietly, as it would a C program.
    unsafe { libc::signal(libc::SIGPIPE, libc::SIG_DFL) };
    let name = std::env::args().nth(1).unwrap_or_else(|| "/tasks".into());
    // No O_CREAT: a missing queue is an error (ENOENT), not a new empty one. O_NONBLOCK: an
    // empty queue is EAGAIN, not a wait for a sender: this program drains, exits, needs no ^C.
    let flags = MQ_OFlag::O_RDONLY | MQ_OFlag::O_NONBLOCK;
    let queue = mq_open(name.as_str(), flags, Mode::empty(), None).map_err(|e| match e {
        Errno::ENOENT => format!("mq_open {name}: no such queue (run task_send first)"),
        _ => format!("mq_open {name}: {e}"),
    })?;

    // The buffer must be mq_msgsize bytes even if every message is shorter: mq_receive
    // refuses a smaller one with EMSGSIZE rather than risk cutting a message in two.
    let attr = mq_getattr(&queue).map_err(|e| format!("mq_getattr {name}: {e}"))?;
    let size = usize::try_from(attr.msgsize()).map_err(|e| format!("mq_msgsize: {e}"))?;
    let mut buffer = vec![0u8; size];

    let (mut out, mut received) = (std::io::stdout().lock(), 0);
    loop {
        // The kernel picks the oldest message of the highest priority: no sorting here.
        let mut priority = 0;
        let len = match mq_receive(&queue, &mut buffer, &mut priority) {
            Ok(len) => len,
            Err(Errno::EAGAIN) => break, // empty
            Err(e) => return Err(format!("mq_receive {name}: {e}").into()),
        };
        // One mq_receive returns one whole message: exactly the bytes of one mq_send. A bad
        // one (another program's) is skipped: it must not cost the tasks queued behind it.
        let Ok(task) = decode(&buffer[..len]).inspect_err(|e| eprintln!("skipped: {e}")) else {
            continue;
        };
        let (task_type, payload) = (task.task_type, task.payload);
        let got = format!("received priority {priority}: task_type {task_type} {payload:?}");
        writeln!(out, "{got}")?;
        received += 1;
    }
    // Only now, empty, may the name go (a task sent since our last receive goes with it).
    mq_unlink(name.as_str()).map_err(|e| format!("mq_unlink {name}: {e}"))?;
    mq_close(queue).map_err(|e| format!("mq_close {name}: {e}"))?;
    let done = format!("queue empty after {received} tasks; {name} removed (mq_unlink)");
    writeln!(out, "{done}")?;
    Ok(())
}

#[cfg(not(target_os = "linux"))]
fn main() -> Result<(), Box<dyn Error>> {
    println!("POSIX message queues (mq_open) do not exist on this OS; run this on Linux.");
    Ok(())
}
