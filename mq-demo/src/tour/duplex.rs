//! Step 6, both ways; a queue has no EOF, a liveness pipe adds one: `mq_demo::duplex` pairs
//! one queue per direction with a liveness pipe, because a queue never reports that the last
//! sender is gone. 1000 round trips
//! with an echo process, then the echo is killed and a read returns EOF instead of hanging.

use std::io::{self, Read, Write};
use std::time::{Duration, Instant};

use nix::sys::signal::Signal;
use plumbing::tour::duration;
use plumbing::{Result, child, stop};

const SIZE: usize = 64;
const ROUND_TRIPS: usize = 1000;

/// Returns the names the step's two queues had, for the tour's last check.
pub fn run() -> Result<[String; 2]> {
    stop::check()?; // a stop signal during the step before ends the tour here
    println!("\nStep 6. Both ways: a queue has no EOF; a liveness pipe adds one");
    println!("  (mq_demo::duplex. A queue never reports that the last sender is gone, so");
    println!("  each side also holds the only write end of a pipe the other side polls:");
    println!("  the kernel closes it when the process dies)");
    let (end, peer_end) = mq_demo::duplex(SIZE)?; // names already unlinked
    // fork() copies both ends. Each process closes the end that is not its own, or it would
    // hold the other's liveness pipe open itself.
    let mut ours = Some(end);
    let mut echo = child::fork(|| {
        drop(ours.take()); // in the echo process
        echo_messages(peer_end)
    })?; // here `peer_end` went with the closure, and is closed
    let mut end = ours.ok_or("our end of the duplex pair is gone")?;
    let names = end.queue_names().map(str::to_owned);

    let mut buf = [0u8; SIZE];
    for i in 0..ROUND_TRIPS {
        stop::check()?; // (returning drops `echo`, which kills and reaps it)
        buf.iter_mut()
            .enumerate()
            .for_each(|(j, b)| *b = (i + j) as u8); // changes every message
        end.write_all(&buf)?;
        end.read_exact(&mut buf)?;
        if buf.iter().enumerate().any(|(j, b)| *b != !((i + j) as u8)) {
            return Err(format!("round trip {i}: the reply is not the inverted message").into());
        }
    }
    println!(
        "  {ROUND_TRIPS} round trips of {SIZE}-byte messages with the echo process (pid {}),",
        echo.pid()
    );
    println!("  every byte checked");

    echo.signal(Signal::SIGKILL)?;
    let start = Instant::now();
    let n = end.read(&mut buf)?; // no message will ever come: without the pipe, this would hang
    let waited = start.elapsed();
    echo.wait(Duration::from_secs(2))?;
    if n != 0 {
        return Err(format!("read() after the echo was killed: {n} bytes, not EOF").into());
    }
    println!(
        "  killed it with SIGKILL, then read(): 0 bytes (EOF) after {}, not a hang",
        duration(waited)
    );
    Ok(names)
}

/// The echo process: inverts every byte of each message and sends it back, until EOF.
fn echo_messages(mut end: mq_demo::End) -> Result {
    let mut buf = [0u8; SIZE];
    loop {
        match end.read_exact(&mut buf) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(()), // parent gone
            Err(e) => return Err(e.into()),
        }
        buf.iter_mut().for_each(|b| *b = !*b);
        end.write_all(&buf)?;
    }
}
