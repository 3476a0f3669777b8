//! `mq-demo receive NAME [--wait S]`: every waiting message, highest priority first (TLPI's
//! pmsg_receive).

use std::os::fd::AsFd;
use std::time::{Duration, Instant};

use mq_demo::Queue;
use nix::errno::Errno;
use nix::mqueue::MQ_OFlag;
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use plumbing::{Result, stop};

/// Every message waiting now, highest priority first; with a `wait`, first waits up to that
/// long for one to come.
pub fn run(name: &str, wait: Duration) -> Result {
    let queue = Queue::open(name, MQ_OFlag::O_RDONLY | MQ_OFlag::O_NONBLOCK)?;
    if !wait.is_zero() {
        println!(
            "waiting up to {} s for a message on {name} (send one from another terminal)",
            wait.as_secs()
        );
        wait_for_a_message(&queue, wait)?;
    }
    let mut buf = vec![0; queue.msgsize()]; // must hold the largest message the queue allows
    let mut count = 0;
    loop {
        // Taking a message off the queue is for good: first make sure someone still reads
        // what we print (`mq-demo receive $Q | head -1` closes the pipe after one line).
        stdout_still_read()?;
        match queue.receive(&mut buf) {
            Ok((len, priority)) => {
                count += 1;
                println!(
                    "received prio {priority}, {len} bytes: {:?}",
                    String::from_utf8_lossy(&buf[..len])
                );
            }
            Err(Errno::EAGAIN) => break,
            Err(e) => return Err(queue.error("mq_receive", e).into()),
        }
    }
    if count == 0 && wait.is_zero() {
        println!("{name} is empty");
    } else if count == 0 {
        println!("waited {} s: no message came to {name}", wait.as_secs());
    }
    Ok(())
}

/// Fails the way printing would, so the run ends quietly with 141 (see plumbing::program),
/// when stdout is a pipe whose reader has closed it: poll() reports POLLERR.
fn stdout_still_read() -> Result {
    let stdout = std::io::stdout();
    let mut fds = [PollFd::new(stdout.as_fd(), PollFlags::POLLOUT)];
    let closed = match poll(&mut fds, PollTimeout::ZERO) {
        Ok(_) => fds[0]
            .revents()
            .is_some_and(|r| r.contains(PollFlags::POLLERR)),
        Err(_) => false, // then the next println reports whatever is wrong
    };
    if closed {
        println!(); // EPIPE: the same path as any print to a closed stdout
    }
    Ok(())
}

/// Waits at most `wait` for a message, in 100 ms slices so a stop signal is noticed: a queue
/// descriptor can be poll()ed.
fn wait_for_a_message(queue: &Queue, wait: Duration) -> Result {
    let until = Instant::now() + wait;
    while let Some(left) = until.checked_duration_since(Instant::now()) {
        stop::check()?;
        let slice = PollTimeout::try_from(left.min(Duration::from_millis(100)))
            .unwrap_or(PollTimeout::ZERO);
        let mut fds = [PollFd::new(queue.as_fd(), PollFlags::POLLIN)];
        match poll(&mut fds, slice) {
            Ok(0) | Err(Errno::EINTR) => {}
            Ok(_) => break,
            Err(e) => return Err(queue.error("poll", e).into()),
        }
    }
    Ok(())
}
