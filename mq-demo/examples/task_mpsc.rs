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
//! To use it alone: `cargo new task_mpsc`, put this file in src/main.rs, then
//! `cargo run`. It needs std only: [dependencies] stays empty:
//! ```toml
//! [dependencies]
//! ```

use std::error::Error;
use std::sync::mpsc;
use std::thread;

/// The lecture's task; a value moves through the channel, no bytes are encoded.
struct Task {
    task_type: u32,
    payload: String,
}

fn main() -> Result<(), Box<dyn Error>> {
    let (tx, rx) = mpsc::channel::<Task>();

    // The worker stands in for the receiving process. Iterating the Receiver calls
    // recv(): it blocks while the channel is empty and ends once every Sender is gone.
    let worker = thread::spawn(move || {
        let mut done = 0;
        for task in rx {
            println!(
                "worker got task_type {}: {:?}",
                task.task_type, task.payload
            );
            done += 1;
        }
        done
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
        // Fails only if the receiver is gone (the worker ended early).
        tx.send(task).map_err(|_| "send: the worker has hung up")?;
        println!("sent task_type {task_type}");
    }
    // Drop the last Sender, or the worker's loop waits forever: the channel's EOF,
    // just as a pipe reader sees EOF only after every write end is closed.
    drop(tx);

    let done = worker
        .join()
        .map_err(|_| "join: the worker thread panicked")?;
    println!("channel closed; the worker got {done} tasks, in the order sent");
    Ok(())
}
