//! Step 2, boundaries: the same three writes through a pipe and through a queue. The pipe
//! returns one run of bytes; the queue returns each write as the message it was.
#![cfg(target_os = "linux")]

use mq_demo::Queue;
use nix::errno::Errno;
use nix::fcntl::OFlag;
use nix::mqueue::MQ_OFlag;
use plumbing::Result;

pub fn run(name: &str) -> Result {
    println!("\nStep 2. Boundaries: the same three writes through a pipe and through a queue");
    let writes = ["temperature: 42", "temperature: 43", "temperature: 44"];
    println!("  writes: {writes:?}, {} bytes each", writes[0].len());

    let (pipe_r, pipe_w) = nix::unistd::pipe2(OFlag::O_NONBLOCK | OFlag::O_CLOEXEC)
        .map_err(|e| format!("pipe2: {e}"))?;
    for w in writes {
        nix::unistd::write(&pipe_w, w.as_bytes()).map_err(|e| format!("write pipe: {e}"))?;
    }
    let mut queue = Queue::create(name, MQ_OFlag::O_RDWR | MQ_OFlag::O_NONBLOCK, 10, 64)?;
    queue.unlink()?; // this process holds the only descriptor it needs
    println!("  queue {name}: 10 messages of up to 64 bytes; name unlinked at once");
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
    print_side_by_side(&pipe_reads, &queue_reads);
    println!(
        "  observed: the pipe returned {} run(s) of bytes, the queue {} message(s): the queue kept the boundaries",
        pipe_reads.len(),
        queue_reads.len()
    );
    Ok(())
}

/// One row per read: what the pipe returned, then what the queue returned.
fn print_side_by_side(pipe_reads: &[String], queue_reads: &[String]) {
    println!(
        "         {:<60} queue: mq_receive(1024 bytes)",
        "pipe: read(1024 bytes)"
    );
    let show = |reads: &[String], i: usize| match reads.get(i) {
        Some(r) => format!("{:>2} bytes {r:?}", r.len()),
        None if i == reads.len() => "EAGAIN: empty".into(),
        None => String::new(),
    };
    for i in 0..=pipe_reads.len().max(queue_reads.len()) {
        println!(
            "  read {} {:<60} {}",
            i + 1,
            show(pipe_reads, i),
            show(queue_reads, i)
        );
    }
}
