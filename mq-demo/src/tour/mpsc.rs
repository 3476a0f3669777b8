//! Step 7, the mpsc analog: std::sync::mpsc between threads carries typed Tasks whole, like a
//! queue, but in sending order (no priorities), with no encoding and no copy through the
//! kernel (a blocked recv still sleeps in it, on a futex).

use std::sync::mpsc::channel;
use std::thread;

use mq_demo::Task;
use plumbing::tour::heading;
use plumbing::verdict::{self, Verdict, judge};
use plumbing::{Result, stop};

/// (task_type, payload), in sending order.
const SENT: [(u32, &str); 3] = [
    (2, "compress file.dat"),
    (1, "resize photo.jpg"),
    (3, "alert: temperature: 42"),
];

pub fn run() -> Result {
    stop::check()?; // a stop signal during the step before ends the tour here
    heading(
        7,
        "The mpsc analog: threads, typed Tasks kept whole, FIFO (no priorities)",
    );
    let (tx, rx) = channel();
    let sender = thread::spawn(move || {
        for (task_type, payload) in SENT {
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
    let mut received = Vec::new();
    for task in rx {
        println!(
            "  received Task {{ task_type: {}, payload: {:?} }}",
            task.task_type, task.payload
        );
        received.push((task.task_type, task.payload));
    }
    sender.join().map_err(|_| "mpsc sender thread panicked")?;
    let in_order = received.len() == SENT.len()
        && received
            .iter()
            .zip(SENT)
            .all(|(r, s)| r.0 == s.0 && r.1 == s.1);
    let order = if in_order {
        "in sending order"
    } else {
        "NOT in sending order"
    };
    println!(
        "  observed: {} Tasks arrived as whole values, {order};",
        received.len()
    );
    println!("  no encoding, no copy through the kernel");
    let (v, because) = analog_claim(SENT.len(), received.len(), in_order);
    verdict::record("mpsc is the thread analog", v, because);
    Ok(())
}

/// The lecture: std::sync::mpsc is the thread-level analog of a queue, typed messages that
/// arrive intact. Holds when every Task `sent` was `received` whole, as the same value; their
/// order is quoted, FIFO being all mpsc has (no priorities).
pub fn analog_claim(sent: usize, received: usize, in_order: bool) -> (Verdict, String) {
    let order = if in_order { "in" } else { "NOT in" };
    let because = format!("{received} of {sent} Tasks arrived whole, typed, {order} sending order");
    (judge(received == sent && in_order, false), because)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_task_in_order_confirms_the_analog() {
        let (v, because) = analog_claim(3, 3, true);
        assert_eq!(v, Verdict::Confirmed);
        assert_eq!(
            because,
            "3 of 3 Tasks arrived whole, typed, in sending order"
        );
    }

    #[test]
    fn a_lost_or_reordered_task_refutes_it() {
        assert_eq!(analog_claim(3, 2, true).0, Verdict::Refuted);
        let (v, because) = analog_claim(3, 3, false);
        assert_eq!(v, Verdict::Refuted);
        assert!(because.ends_with("NOT in sending order"), "{because}");
    }
}
