//! Step 2, boundaries: the same three writes through a pipe and through a queue. The pipe
//! returns one run of bytes; the queue returns each write as the message it was.

use mq_demo::Queue;
use nix::errno::Errno;
use nix::fcntl::OFlag;
use nix::mqueue::MQ_OFlag;
use plumbing::{Result, stop};

pub fn run(name: &str) -> Result {
    stop::check()?; // a stop signal during the step before ends the tour here
    println!("\nStep 2. Boundaries: the same three writes through a pipe and through a queue");
    let writes = ["temperature: 42", "temperature: 43", "temperature: 44"];
    let quoted: Vec<String> = writes.iter().map(|w| format!("{w:?}")).collect();
    println!(
        "  writes: {} ({} bytes each)",
        quoted.join(" "),
        writes[0].len()
    );

    let (pipe_r, pipe_w) = nix::unistd::pipe2(OFlag::O_NONBLOCK | OFlag::O_CLOEXEC)
        .map_err(|e| format!("pipe2: {e}"))?;
    for w in writes {
        nix::unistd::write(&pipe_w, w.as_bytes()).map_err(|e| format!("write pipe: {e}"))?;
    }
    let mut queue = Queue::create(name, MQ_OFlag::O_RDWR | MQ_OFlag::O_NONBLOCK, 10, 64)?;
    queue.unlink()?; // this process holds the only descriptor it needs
    println!("  queue {name}:");
    println!("    10 messages of up to 64 bytes; name unlinked at once");
    for w in writes {
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
    Ok(())
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
