//! A hidden role for the tests (`mq-demo sysv-pair-check MODE`): two processes around one
//! `mq_demo::sysv_duplex` pair, as `compare` uses it, since a test harness must not fork.
//! - `creator-closes`: this process (which made the pair) sends 7 messages and closes its end;
//!   the forked peer reads after `--delay-ms` and prints each message, then EOF.
//! - `peer-killed`: the forked peer sends 7 messages and is killed by SIGKILL; this process
//!   prints each message it reads, then EOF.
//!
//! Then both: how many of the pair's two queues /proc/sysvipc/msg still lists.

use std::io::{Read, Write};
use std::time::Duration;

use mq_demo::{SysvEnd, sysv};
use plumbing::{Result, child};

const SIZE: usize = 64;
const MESSAGES: u32 = 7;

pub fn run(mode: &str, delay: Duration) -> Result {
    let (ours, theirs) = mq_demo::sysv_duplex(SIZE)?;
    let ids = ours.queue_ids();
    // fork() copies both ends; each process drops the one that is not its own.
    let (mut ours, mut theirs) = (Some(ours), Some(theirs));
    let peer_killed = match mode {
        "creator-closes" => false,
        "peer-killed" => true,
        _ => return Err(format!("unknown mode {mode}: creator-closes or peer-killed").into()),
    };
    let mut peer = child::fork(|| {
        let mut end = theirs.take().ok_or("the peer's end is gone")?;
        drop(ours.take()); // unused in this process: dropping it touches nothing
        if peer_killed {
            send_all(&mut end)?;
            nix::sys::signal::raise(nix::sys::signal::Signal::SIGKILL)?;
        }
        std::thread::sleep(delay);
        read_all(&mut end)
    })?;
    drop(theirs.take());
    let mut ours = ours.ok_or("our end is gone")?;
    if peer_killed {
        read_all(&mut ours)?; // blocks while the peer sends, then until it dies
        drop(ours);
        println!(
            "peer {}",
            child::describe(peer.wait(Duration::from_secs(5))?)
        );
    } else {
        send_all(&mut ours)?;
        drop(ours);
        println!("closed our end after sending {MESSAGES} messages");
        peer.wait_ok(Duration::from_secs(5))?;
    }
    let left = [ids.0, ids.1]
        .iter()
        .filter(|&&id| sysv::listed_id(id).is_ok_and(|l| l.is_some()))
        .count();
    println!("queues left: {left}");
    Ok(())
}

fn send_all(end: &mut SysvEnd) -> Result {
    for i in 0..MESSAGES {
        end.write_all(format!("temperature: {}", 40 + i).as_bytes())?;
    }
    Ok(())
}

/// Prints each message until EOF, or the error that ended the reading.
fn read_all(end: &mut SysvEnd) -> Result {
    let mut buf = [0u8; SIZE];
    loop {
        let n = end.read(&mut buf)?;
        if n == 0 {
            println!("EOF");
            return Ok(());
        }
        println!("got {}", String::from_utf8_lossy(&buf[..n]));
    }
}
