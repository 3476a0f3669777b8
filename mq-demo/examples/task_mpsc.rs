//! The thread-level analog of a message queue: std::sync::mpsc carries whole, typed
//! `Task`s from one thread to another, with no framing code at all.
//!
//! Lecture: "Message Queues: Communication With Structure", the `mpsc::channel` snippet.
//!
//! Run:
//!     cargo run -p mq-demo --example task_mpsc
//!
//! You will see main's `sent` lines and the worker's `worker got` lines (the two threads
//! run at once, so the two kinds may interleave), then the count. The worker gets the
//! tasks in the order they were sent: a channel is FIFO and has no priorities, unlike the
//! POSIX queue of task_send/task_receive, which hands out the same tasks urgent-first.
//!
//! To use it alone: `cargo new task_mpsc`, put this file in src/main.rs, add these lines
//! under [dependencies] in Cargo.toml, then `cargo run`:
//! ```toml
//! [dependencies]
//! libc = "0.2"
//! ```

use std::error::Error;
use std::io::Write;
use std::sync::mpsc;
use std::thread;

/// The lecture's task; a value moves through the channel, no bytes are encoded.
struct Task {
    task_type: u32,
    payload: String,
}

fn main() -> Result<(), Box<dyn Error>> {
    // SAFETY: before any thread exists. Rust ignores SIGPIPE; the default makes a closed
    // stdout (`| head -1`) end us quietly, as it would a C program.
    unsafe { libc::signal(libc::SIGPIPE, libc::SIG_DFL) };
    let (tx, rx) = mpsc::channel::<Task>();

    // The worker stands in for the receiving process. Iterating the Receiver calls
    // recv(): it blocks while the channel is empty and ends once every Sender is gone.
    // A failed print (a full disk behind stdout) ends it with the error, for main to report.
    let worker = thread::spawn(move || -> std::io::Result<u32> {
        let mut done = 0;
        for Task { task_type, payload } in rx {
            writeln!(
                std::io::stdout(),
                "worker got task_type {task_type}: {payload:?}"
            )?;
            done += 1;
        }
        Ok(done)
    });

    let tasks = [
        (1, "compress file.dat"),
        (3, "rotate logs"),
        (2, "send alert: disk 95% full"),
        (4, "resize image.png"),
    ];
    for (task_type, payload) in tasks {
        let task = Task {
            task_type,
            payload: payload.into(),
        };
        // Fails only if the receiver is gone (the worker ended early): join says why.
        if tx.send(task).is_err() {
            break;
        }
        writeln!(std::io::stdout(), "sent task_type {task_type}")?;
    }
    // Drop the last Sender, or the worker's loop waits forever: the channel's EOF,
    // just as a pipe reader sees EOF only after every write end is closed.
    drop(tx);

    let joined = worker
        .join()
        .map_err(|_| "join: the worker thread panicked")?;
    let done = joined.map_err(|e| format!("worker: stdout: {e}"))?;
    let summary = format!("channel closed; the worker got {done} tasks, in the order sent");
    writeln!(std::io::stdout(), "{summary}")?;
    Ok(())
}
