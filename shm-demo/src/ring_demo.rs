//! The ring in action: a child echoes verified messages back, and a child that SIGKILLs itself
//! while the parent waits for it.

use std::error::Error;
use std::io::{self, Read, Write};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use nix::sys::resource::{UsageWho, getrusage};
use nix::sys::signal::{Signal, kill};
use nix::sys::wait::WaitStatus;
use nix::time::{ClockId, clock_gettime};
use nix::unistd::getpid;
use shm_demo::{Coordination, End, SharedMapping, blocking_duplex, spin_duplex};

use crate::process::{self, Child, Stop};

/// What one echo run observed.
pub struct Echo {
    pub wall: Duration,
    pub parent_cpu: Duration,
    pub child_cpu: Duration,
}

fn duplex(mode: Coordination, size: usize) -> io::Result<(End, End)> {
    match mode {
        Coordination::Spin => spin_duplex(size),
        Coordination::Futex => blocking_duplex(size),
    }
}

/// Forks a child that gets `.1` of the pair (and closes its copy of `.0`); the parent keeps
/// `.0` and closes its copy of `.1`, so each liveness pipe is held only by the side it watches.
fn fork_peer(
    pair: (End, End),
    body: impl FnOnce(End) -> Result<(), Box<dyn Error>>,
) -> Result<(Child, End), Box<dyn Error>> {
    let (mut ours, mut theirs) = (Some(pair.0), Some(pair.1));
    let child = process::spawn(|| {
        drop(ours.take());
        body(theirs.take().ok_or("no end for the child")?)
    })?;
    drop(theirs);
    Ok((child, ours.ok_or("no end for the parent")?))
}

/// Message `seq`: bytes that change with every message, so a lost, repeated or torn message
/// fails the check.
fn fill(buf: &mut [u8], seq: u64) {
    let x = seq.wrapping_mul(0x9E37_79B9_7F4A_7C15).to_le_bytes();
    for (i, b) in buf.iter_mut().enumerate() {
        *b = x[i % 8] ^ (i as u8);
    }
}

fn check(buf: &[u8], seq: u64, scratch: &mut [u8]) -> Result<(), String> {
    fill(scratch, seq);
    match buf.iter().zip(scratch.iter()).position(|(a, b)| a != b) {
        None => Ok(()),
        Some(i) => Err(format!("message {seq} is wrong at byte {i}")),
    }
}

/// Says which call failed and, for end-of-file or EPIPE, that the peer died.
fn peer_error(call: &str, who: &str, e: io::Error) -> String {
    match e.kind() {
        io::ErrorKind::UnexpectedEof => format!("{call}: the {who} process is gone (end of file)"),
        io::ErrorKind::BrokenPipe => format!("{call}: the {who} process is gone ({e})"),
        _ => format!("{call}: {e}"),
    }
}

fn cpu_time(who: UsageWho) -> Result<Duration, String> {
    let usage = getrusage(who).map_err(|e| format!("getrusage: {e}"))?;
    let micros = |t: nix::sys::time::TimeVal| t.tv_sec() as u64 * 1_000_000 + t.tv_usec() as u64;
    Ok(Duration::from_micros(
        micros(usage.user_time()) + micros(usage.system_time()),
    ))
}

/// The parent, on `cpus[0]`, sends `messages` messages of `size` bytes; the child, on
/// `cpus[1]`, checks each one and sends it back; the parent checks the echo. `on_child` sees
/// the child's pid before the first message.
pub fn echo(
    mode: Coordination,
    messages: u64,
    size: usize,
    [parent_cpu, child_cpu]: [usize; 2],
    stop: &Stop,
    on_child: impl FnOnce(nix::unistd::Pid),
) -> Result<Echo, Box<dyn Error>> {
    let pair = duplex(mode, size).map_err(|e| format!("ring: {e}"))?;
    let children_cpu = cpu_time(UsageWho::RUSAGE_CHILDREN)?;
    let _pinned = process::pin_to(parent_cpu)?;
    let (mut child, mut end) = fork_peer(pair, |mut end| {
        let _pinned = process::pin_to(child_cpu)?;
        let (mut buf, mut scratch) = (vec![0; size], vec![0; size]);
        for seq in 0..messages {
            end.read_exact(&mut buf)
                .map_err(|e| peer_error("read", "parent", e))?;
            check(&buf, seq, &mut scratch)?;
            end.write_all(&buf)
                .map_err(|e| peer_error("write", "parent", e))?;
        }
        Ok(())
    })?;
    on_child(child.pid);
    let own_cpu = cpu_time(UsageWho::RUSAGE_SELF)?;
    let start = Instant::now();
    let (mut buf, mut scratch) = (vec![0; size], vec![0; size]);
    for seq in 0..messages {
        fill(&mut buf, seq);
        end.write_all(&buf)
            .map_err(|e| peer_error("ring write", "echo", e))?;
        end.read_exact(&mut buf)
            .map_err(|e| peer_error("ring read", "echo", e))?;
        check(&buf, seq, &mut scratch).map_err(|e| format!("echo: {e}"))?;
        stop.check()?;
    }
    let wall = start.elapsed();
    let parent_cpu = cpu_time(UsageWho::RUSAGE_SELF)? - own_cpu;
    drop(end);
    child.wait_ok(stop, Duration::from_secs(5))?;
    let child_cpu = cpu_time(UsageWho::RUSAGE_CHILDREN)? - children_cpu;
    Ok(Echo {
        wall,
        parent_cpu,
        child_cpu,
    })
}

/// What waiting for slow messages cost the reader.
pub struct Paced {
    pub wall: Duration,
    pub reader_cpu: Duration,
}

/// A slow sensor: the parent sends `messages` messages, one every `interval`; the child, on
/// `cpu`, waits for each and checks it. Returns the child's CPU time and the wall time.
pub fn paced(
    mode: Coordination,
    messages: u64,
    interval: Duration,
    cpu: usize,
    stop: &Stop,
) -> Result<Paced, Box<dyn Error>> {
    let pair = duplex(mode, 64).map_err(|e| format!("ring: {e}"))?;
    let children_cpu = cpu_time(UsageWho::RUSAGE_CHILDREN)?;
    let start = Instant::now();
    let (mut child, mut end) = fork_peer(pair, |mut end| {
        let _pinned = process::pin_to(cpu)?;
        let (mut buf, mut scratch) = ([0; 64], [0; 64]);
        for seq in 0..messages {
            end.read_exact(&mut buf)
                .map_err(|e| peer_error("read", "parent", e))?;
            check(&buf, seq, &mut scratch)?;
        }
        Ok(())
    })?;
    let mut buf = [0; 64];
    for seq in 0..messages {
        std::thread::sleep(interval);
        stop.check()?;
        fill(&mut buf, seq);
        end.write_all(&buf)
            .map_err(|e| peer_error("ring write", "reader", e))?;
    }
    child.wait_ok(stop, Duration::from_secs(5))?;
    Ok(Paced {
        wall: start.elapsed(),
        reader_cpu: cpu_time(UsageWho::RUSAGE_CHILDREN)? - children_cpu,
    })
}

fn monotonic_ns() -> Result<u64, String> {
    let now = clock_gettime(ClockId::CLOCK_MONOTONIC).map_err(|e| format!("clock_gettime: {e}"))?;
    Ok(now.tv_sec() as u64 * 1_000_000_000 + now.tv_nsec() as u64)
}

/// The parent waits in `read` for a child that sends nothing and SIGKILLs itself after
/// `delay`. Returns how long after the child's death the parent's `read` returned.
pub fn peer_death(
    mode: Coordination,
    delay: Duration,
    stop: &Stop,
) -> Result<Duration, Box<dyn Error>> {
    let death = SharedMapping::new(size_of::<AtomicU64>()).map_err(|e| e.to_string())?;
    // SAFETY: the mapping is page aligned and zero filled: a valid AtomicU64. The child stores
    // to it once, atomically; the parent loads it after the child is dead.
    let died_at = unsafe { &*death.as_ptr().cast::<AtomicU64>() };
    let pair = duplex(mode, 64).map_err(|e| format!("ring: {e}"))?;
    let (mut child, mut end) = fork_peer(pair, |_end| {
        std::thread::sleep(delay);
        died_at.store(monotonic_ns()?, Ordering::Release);
        kill(getpid(), Signal::SIGKILL).map_err(|e| format!("kill: {e}"))?;
        Ok(())
    })?;
    let mut buf = [0; 64];
    let got = end.read(&mut buf);
    let returned_at = monotonic_ns()?;
    match child.wait(stop, Duration::from_secs(5))? {
        WaitStatus::Signaled(_, Signal::SIGKILL, _) => {}
        status => return Err(format!("the child was to SIGKILL itself, but: {status:?}").into()),
    }
    match got {
        Ok(0) => {}
        other => {
            return Err(format!("read after the peer died gave {other:?}, not end of file").into());
        }
    }
    let died_at = died_at.load(Ordering::Acquire);
    Ok(Duration::from_nanos(returned_at.saturating_sub(died_at)))
}
