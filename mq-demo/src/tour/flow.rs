//! Step 4, flow control: a queue of 3 messages is full after 3 sends. Then an O_NONBLOCK
//! descriptor gets EAGAIN at once, a blocking one waits until its deadline or until a worker
//! process takes a message, and a receive on the empty queue waits until its own deadline.

use std::time::{Duration, Instant};

use mq_demo::Queue;
use nix::errno::Errno;
use nix::mqueue::MQ_OFlag;
use plumbing::tour::{duration, heading};
use plumbing::verdict::{self, Verdict, judge};
use plumbing::{Result, child, stop};

use super::{check_ended, format_outcome};

pub fn run(name: &str) -> Result {
    stop::check()?; // a stop signal during the step before ends the tour here
    heading(4, "Flow control: a queue of 3 messages");
    let mut queue = Queue::create(name, MQ_OFlag::O_RDWR, 3, 64)?;
    let nonblocking = Queue::open(name, MQ_OFlag::O_WRONLY | MQ_OFlag::O_NONBLOCK)?;
    queue.unlink()?; // both descriptors are open; the forked worker below inherits them
    println!("  queue {name}:");
    println!("    name unlinked once both descriptors were open");
    for i in 1..=3 {
        queue
            .send(format!("temperature: {}", 40 + i).as_bytes(), 0)
            .map_err(|e| queue.error("mq_send", e))?;
    }
    let attr = queue.attr().map_err(|e| queue.error("mq_getattr", e))?;
    println!(
        "  sent 3 messages without waiting; mq_getattr: curmsgs {} of maxmsg {}",
        attr.curmsgs(),
        attr.maxmsg()
    );

    let start = Instant::now();
    let result = nonblocking.send(b"temperature: 44", 0);
    println!(
        "  O_NONBLOCK descriptor: mq_send -> {} after {}",
        format_outcome(result),
        duration(start.elapsed())
    );

    let start = Instant::now();
    let result = send_noticing_stop(&queue, b"temperature: 44", Duration::from_millis(300))?;
    let full = (result, start.elapsed());
    println!("  blocking descriptor: mq_timedsend with a 300 ms deadline");
    println!(
        "    -> {} after {}",
        format_outcome(result),
        duration(full.1)
    );
    stop::check()?;

    let woken = sender_woken_by_a_worker(&queue)?;
    let empty = empty_queue_times_out(&queue)?;
    stop::check()?;
    let (v, because) = blocking_claim(full, woken, empty);
    verdict::record(
        "a full queue blocks the sender, an empty one the receiver",
        v,
        because,
    );
    Ok(())
}

/// What a timed call returned, and how long it took.
type Waited = (nix::Result<()>, Duration);

/// The lecture: the kernel blocks a sender on a full queue and a receiver on an empty one
/// until the other side acts. Holds when the send on the full queue (`full`) and the receive
/// on the empty one (`empty`) each slept to their 300 ms deadline, and the send a worker's
/// receive ended after 200 ms (`woken`) slept that long and then went through.
pub fn blocking_claim(full: Waited, woken: Waited, empty: Waited) -> (Verdict, String) {
    let slept = |(result, waited): Waited, at_least: Duration| {
        let outcome = match result {
            Ok(()) => "sent".to_string(),
            Err(e) => format!("{e:?}"),
        };
        (
            waited >= at_least,
            format!("{} ({outcome})", duration(waited)),
        )
    };
    let deadline = Duration::from_millis(270); // 300 ms, less the clock's granularity
    let (full_slept, full_text) = slept(full, deadline);
    let (woken_slept, woken_text) = slept(woken, Duration::from_millis(180));
    let (empty_slept, empty_text) = slept(empty, deadline);
    let because = format!(
        "full, mq_timedsend slept {full_text}, and {woken_text} until a receive; \
         empty, mq_timedreceive slept {empty_text}"
    );
    let holds = full_slept
        && full.0 == Err(Errno::ETIMEDOUT)
        && woken_slept
        && woken.0.is_ok()
        && empty_slept
        && empty.0 == Err(Errno::ETIMEDOUT);
    (judge(holds, false), because)
}

/// A slow worker takes one message after 200 ms; the sender blocked on the full queue wakes
/// up then.
fn sender_woken_by_a_worker(queue: &Queue) -> Result<Waited> {
    let mut worker = child::fork(|| {
        stop::pause(Duration::from_millis(200))?;
        let mut buf = [0u8; 64];
        queue
            .receive(&mut buf)
            .map(drop)
            .map_err(|e| queue.error("mq_receive", e).into())
    })?;
    let start = Instant::now();
    // On an error the worker is dropped, which kills and reaps it.
    let result = send_noticing_stop(queue, b"temperature: 44", Duration::from_secs(2))?;
    let blocked = start.elapsed();
    check_ended(worker.wait(Duration::from_secs(10))?, "worker")?;
    println!(
        "  blocking descriptor again; a worker (pid {}) takes one message after",
        worker.pid()
    );
    println!(
        "    200 ms: mq_timedsend -> {} after {}",
        format_outcome(result),
        duration(blocked)
    );
    Ok((result, blocked))
}

/// Drains the queue, then shows mq_timedreceive giving up on the empty queue.
fn empty_queue_times_out(queue: &Queue) -> Result<Waited> {
    let mut buf = [0u8; 64];
    let mut drained = 0;
    while queue
        .attr()
        .map_err(|e| queue.error("mq_getattr", e))?
        .curmsgs()
        > 0
    {
        queue
            .receive(&mut buf)
            .map_err(|e| queue.error("mq_receive", e))?;
        drained += 1;
    }
    let start = Instant::now();
    let result = receive_noticing_stop(queue, &mut buf, Duration::from_millis(300))?.map(drop);
    let waited = start.elapsed();
    println!("  drained {drained} messages; mq_timedreceive on the empty queue, 300 ms");
    println!(
        "    deadline -> {} after {}",
        format_outcome(result),
        duration(waited)
    );
    Ok((result, waited))
}

/// mq_timedsend with a `timeout` deadline, in 100 ms slices: the kernel restarts a send that
/// a signal interrupts (our handlers use SA_RESTART), so one long call would not notice Ctrl-C
/// until its deadline. Err only when asked to stop; the send's own outcome is the inner result.
fn send_noticing_stop(queue: &Queue, message: &[u8], timeout: Duration) -> Result<nix::Result<()>> {
    let until = Instant::now() + timeout;
    loop {
        stop::check()?;
        let left = until.saturating_duration_since(Instant::now());
        let slice = left.min(Duration::from_millis(100));
        match queue.send_timeout(message, 0, slice) {
            Err(Errno::ETIMEDOUT) if slice < left => continue,
            result => return Ok(result),
        }
    }
}

/// mq_timedreceive with a `timeout` deadline, in 100 ms slices, for the same reason.
fn receive_noticing_stop(
    queue: &Queue,
    buf: &mut [u8],
    timeout: Duration,
) -> Result<nix::Result<(usize, u32)>> {
    let until = Instant::now() + timeout;
    loop {
        stop::check()?;
        let left = until.saturating_duration_since(Instant::now());
        let slice = left.min(Duration::from_millis(100));
        match queue.receive_timeout(buf, slice) {
            Err(Errno::ETIMEDOUT) if slice < left => continue,
            result => return Ok(result),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn sleeping_to_the_deadlines_confirms_blocking() {
        let timed_out = Err(Errno::ETIMEDOUT);
        let (v, because) = blocking_claim(
            (timed_out, ms(300)),
            (Ok(()), ms(200)),
            (timed_out, ms(301)),
        );
        assert_eq!(v, Verdict::Confirmed);
        assert_eq!(
            because,
            "full, mq_timedsend slept 300.0 ms (ETIMEDOUT), and 200.0 ms (sent) until a \
             receive; empty, mq_timedreceive slept 301.0 ms (ETIMEDOUT)"
        );
    }

    #[test]
    fn a_call_that_returned_at_once_refutes_it() {
        let timed_out = Err(Errno::ETIMEDOUT);
        let eagain = Err(Errno::EAGAIN);
        let woken = (Ok(()), ms(200));
        let asleep = (timed_out, ms(300));
        let at_once = Duration::from_micros(3);
        assert_eq!(
            blocking_claim((eagain, at_once), woken, asleep).0,
            Verdict::Refuted
        );
        assert_eq!(
            blocking_claim(asleep, (Ok(()), at_once), asleep).0,
            Verdict::Refuted
        );
        let (v, because) = blocking_claim(asleep, woken, (eagain, at_once));
        assert_eq!(v, Verdict::Refuted);
        assert!(because.ends_with("slept 3 µs (EAGAIN)"), "{because}");
    }
}
