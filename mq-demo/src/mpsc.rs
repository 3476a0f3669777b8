//! Step 7, the mpsc analog: std::sync::mpsc between threads carries typed Tasks whole, like a
//! queue, but in sending order (no priorities), with no encoding and no kernel.
#![cfg(target_os = "linux")]

use std::sync::mpsc::channel;
use std::thread;

use mq_demo::Task;
use plumbing::Result;

pub fn run() -> Result {
    println!("\nStep 7. The mpsc analog: threads, typed Tasks kept whole, FIFO (no priorities)");
    let (tx, rx) = channel();
    let sender = thread::spawn(move || {
        for (task_type, payload) in [
            (2, "compress file.dat"),
            (1, "resize photo.jpg"),
            (3, "alert: temperature: 42"),
        ] {
            // A send fails only when the receiver is gone; then there is nobody to tell.
            if tx
                .send(Task {
                    task_type,
                    payload: payload.into(),
                })
                .is_err()
            {
                break;
            }
        }
    }); // tx is dropped when the thread ends: that is the receiver's end of stream
    let mut count = 0;
    for task in rx {
        count += 1;
        println!(
            "  received Task {{ task_type: {}, payload: {:?} }}",
            task.task_type, task.payload
        );
    }
    sender.join().map_err(|_| "mpsc sender thread panicked")?;
    println!("  observed: {count} Tasks arrived as whole values, in sending order;");
    println!("  no encoding, no kernel");
    Ok(())
}
