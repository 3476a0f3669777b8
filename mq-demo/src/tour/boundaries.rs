//! Step 2, boundaries: the same three writes through a pipe and through a queue. The pipe
//! returns one run of bytes; the queue returns each write as the message it was.

use mq_demo::Queue;
use nix::errno::Errno;
use nix::fcntl::OFlag;
use nix::mqueue::MQ_OFlag;
use plumbing::tour::heading;
use plumbing::verdict::{self, Verdict, judge};
use plumbing::{Result, stop};

use super::format_outcome;

pub fn run(name: &str) -> Result {
    stop::check()?; // a stop signal during the step before ends the tour here
    heading(
        2,
        "Boundaries: the same three writes through a pipe and through a queue",
    );
    // Three readings drawn for this run, 10 to 99: fixed ones could be printed by a fake.
    let writes: Vec<String> = (0..3)
        .map(|i| format!("temperature: {}", 10 + super::drawn(90, i)))
        .collect();
    let quoted: Vec<String> = writes.iter().map(|w| format!("{w:?}")).collect();
    println!(
        "  writes: {} ({} bytes each)",
        quoted.join(" "),
        writes[0].len()
    );

    let (pipe_r, pipe_w) = nix::unistd::pipe2(OFlag::O_NONBLOCK | OFlag::O_CLOEXEC)
        .map_err(|e| format!("pipe2: {e}"))?;
    for w in &writes {
        nix::unistd::write(&pipe_w, w.as_bytes()).map_err(|e| format!("write pipe: {e}"))?;
    }
    let mut queue = Queue::create(name, MQ_OFlag::O_RDWR | MQ_OFlag::O_NONBLOCK, 10, 64)?;
    queue.unlink()?; // this process holds the only descriptor it needs
    println!("  queue {name}:");
    println!("    10 messages of up to 64 bytes; name unlinked at once");
    for w in &writes {
        queue
            .send(w.as_bytes(), 0)
            .map_err(|e| queue.error("mq_send", e))?;
    }

    // Read both until they are empty (EAGAIN), with buffers far larger than one write.
    let mut pipe_reads = Vec::new();
    let mut buf = [0u8; 1024];
    loop {
        match nix::unistd::read(&pipe_r, &mut buf) {
            Ok(n) => pipe_reads.push(String::from_utf8_lossy(&buf[..n]).into_owned()),
            Err(Errno::EAGAIN) => break,
            Err(e) => return Err(format!("read pipe: {e}").into()),
        }
    }
    let mut queue_reads = Vec::new();
    loop {
        match queue.receive(&mut buf) {
            Ok((n, _)) => queue_reads.push(String::from_utf8_lossy(&buf[..n]).into_owned()),
            Err(Errno::EAGAIN) => break,
            Err(e) => return Err(queue.error("mq_receive", e).into()),
        }
    }
    print_reads("pipe: read(1024 bytes), until EAGAIN", &pipe_reads);
    print_reads("queue: mq_receive(1024 bytes), until EAGAIN", &queue_reads);
    println!(
        "  observed: the pipe returned {}, the queue {}",
        plural(pipe_reads.len(), "run of bytes", "runs of bytes"),
        plural(queue_reads.len(), "message", "messages")
    );
    if queue_reads.len() == writes.len() && pipe_reads.len() < writes.len() {
        println!("  (the queue kept each write whole and apart; the pipe merged them)");
    }
    let small = smaller_buffer(&queue, &writes[0])?;
    let (v, because) = boundaries_claim(&writes, &queue_reads, &pipe_reads);
    verdict::record("a queue keeps message boundaries", v, because);
    let (v, because) = whole_claim(&writes, &queue_reads, small, queue.msgsize());
    verdict::record("each receive returns one whole message", v, because);
    Ok(())
}

/// One more message, received into a buffer one byte larger than it but smaller than the
/// queue's msgsize: the kernel wants room for the largest message the queue may hold.
fn smaller_buffer(queue: &Queue, message: &str) -> Result<nix::Result<usize>> {
    queue
        .send(message.as_bytes(), 0)
        .map_err(|e| queue.error("mq_send", e))?;
    let mut buf = vec![0u8; message.len() + 1];
    let small = queue.receive(&mut buf).map(|(n, _)| n);
    println!(
        "  queue: mq_receive({} bytes) of one more {}-byte message",
        buf.len(),
        message.len()
    );
    match small {
        Ok(n) => println!("    -> {n} bytes"),
        Err(e) => println!("    -> {}", format_outcome(Err(e))),
    }
    if small == Err(Errno::EMSGSIZE) {
        println!(
            "    (a receive must offer the queue's msgsize, {} bytes, whatever the message)",
            queue.msgsize()
        );
        let mut buf = vec![0u8; queue.msgsize()];
        queue
            .receive(&mut buf)
            .map_err(|e| queue.error("mq_receive", e))?; // the message is still there
    }
    Ok(small)
}

/// The lecture: the kernel keeps the boundaries of messages, where a pipe has none. Holds when
/// the queue gave back each write as it was; the pipe's reads are quoted for contrast.
pub fn boundaries_claim(
    writes: &[String],
    queue_reads: &[String],
    pipe_reads: &[String],
) -> (Verdict, String) {
    let lengths = |reads: &[String]| {
        let l: Vec<String> = reads.iter().map(|r| r.len().to_string()).collect();
        l.join(" ")
    };
    let because = format!(
        "{} writes came out of the queue as {} (bytes: {}), of a pipe as {} ({})",
        writes.len(),
        plural(queue_reads.len(), "message", "messages"),
        lengths(queue_reads),
        plural(pipe_reads.len(), "read", "reads"),
        lengths(pipe_reads)
    );
    (judge(queue_reads == writes, false), because)
}

/// The lecture: each receive returns exactly one complete message. Holds when every receive
/// gave one write whole and the receive into a too small buffer gave no part of one; qualified
/// when that buffer was refused (EMSGSIZE): a receiver must offer the queue's `msgsize`.
pub fn whole_claim(
    writes: &[String],
    queue_reads: &[String],
    small: nix::Result<usize>,
    msgsize: usize,
) -> (Verdict, String) {
    let whole = queue_reads == writes;
    let mut because = format!(
        "{} receives, {} whole",
        queue_reads.len(),
        queue_reads.iter().filter(|r| writes.contains(r)).count()
    );
    because += &match small {
        Ok(n) => format!("; a buffer below msgsize {msgsize} got {n} bytes"),
        Err(e) => format!("; a buffer below msgsize {msgsize} got {e:?}"),
    };
    let partial = matches!(small, Ok(n) if n != writes.first().map_or(0, String::len));
    (
        judge(whole && !partial, small == Err(Errno::EMSGSIZE)),
        because,
    )
}

/// One line per read: its length and bytes, then the EAGAIN that ended the reads.
fn print_reads(title: &str, reads: &[String]) {
    println!("  {title}");
    for (i, r) in reads.iter().enumerate() {
        println!("    read {}: {:>2} bytes {r:?}", i + 1, r.len());
    }
    println!("    read {}: EAGAIN, empty", reads.len() + 1);
}

/// "1 message", "3 messages".
fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn each_write_as_one_message_confirms_the_boundaries() {
        let writes = strings(&["t: 42", "t: 43", "t: 44"]);
        let (v, because) = boundaries_claim(&writes, &writes, &strings(&["t: 42t: 43t: 44"]));
        assert_eq!(v, Verdict::Confirmed);
        assert_eq!(
            because,
            "3 writes came out of the queue as 3 messages (bytes: 5 5 5), of a pipe as \
             1 read (15)"
        );
    }

    #[test]
    fn merged_or_split_messages_refute_them() {
        let writes = strings(&["t: 42", "t: 43", "t: 44"]);
        let merged = strings(&["t: 42t: 43", "t: 44"]);
        let (v, because) = boundaries_claim(&writes, &merged, &merged);
        assert_eq!(v, Verdict::Refuted);
        assert!(because.contains("as 2 messages (bytes: 10 5)"), "{because}");
    }

    #[test]
    fn a_refused_small_buffer_qualifies_one_whole_message_per_receive() {
        let writes = strings(&["t: 42", "t: 43"]);
        let (v, because) = whole_claim(&writes, &writes, Err(Errno::EMSGSIZE), 64);
        assert_eq!(v, Verdict::Qualified);
        assert_eq!(
            because,
            "2 receives, 2 whole; a buffer below msgsize 64 got EMSGSIZE"
        );
        // A kernel that handed out the whole message anyway: nothing to qualify.
        assert_eq!(
            whole_claim(&writes, &writes, Ok(5), 64).0,
            Verdict::Confirmed
        );
    }

    #[test]
    fn a_part_of_a_message_refutes_it() {
        let writes = strings(&["t: 42", "t: 43"]);
        let (v, because) = whole_claim(&writes, &writes, Ok(3), 64);
        assert_eq!(v, Verdict::Refuted);
        assert!(because.ends_with("got 3 bytes"), "{because}");
        let split = strings(&["t: 4", "2", "t: 43"]);
        let (v, because) = whole_claim(&writes, &split, Err(Errno::EMSGSIZE), 64);
        assert_eq!(v, Verdict::Refuted);
        assert!(because.starts_with("3 receives, 1 whole"), "{because}");
    }
}
