//! Steps 9 and 10 of the tour (`shm-demo ring`): a child echoes verified messages back
//! through the shared-memory rings, back to back, then waits for a slow sensor; each waiting
//! by spinning (step 9) or on a futex (step 10), and what each costs in CPU.

use std::io::{self, Read, Write};
use std::time::{Duration, Instant};

use clap::ValueEnum;
use nix::sys::resource::{UsageWho, getrusage};
use nix::unistd::Pid;
use plumbing::tour::{duration, heading};
use plumbing::{Result, cpu, stop};
use shm_demo::Coordination;

use super::{duplex, fork_peer, label};

/// The slow sensor of the ring steps: messages that arrive every 20 ms.
const SLOW_SENSOR_MESSAGES: u64 = 10;
const SLOW_SENSOR_INTERVAL: Duration = Duration::from_millis(20);

/// Which ways of waiting the `ring` subcommand shows.
#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum RingMode {
    Spin,
    Futex,
    Both,
}

/// Steps 9 and 10 (`shm-demo ring`), for each mode `mode` asks for: `messages` verified
/// round trips back to back, then a few messages from a slow sensor, to show what waiting
/// costs. `corrupt_after` (a hidden option, for the tests) makes the echo side flip a byte of
/// every message from that number on, to show that the check catches it.
pub fn run(mode: RingMode, messages: u64, size: usize, corrupt_after: Option<u64>) -> Result {
    let modes = match mode {
        RingMode::Spin => vec![Coordination::Spin],
        RingMode::Futex => vec![Coordination::Futex],
        RingMode::Both => vec![Coordination::Spin, Coordination::Futex],
    };
    for mode in modes {
        let step = match mode {
            Coordination::Spin => 9,
            Coordination::Futex => 10,
        };
        one_mode(step, mode, messages, size, corrupt_after)?;
    }
    Ok(())
}

/// Step `step`: one mode.
fn one_mode(
    step: u32,
    mode: Coordination,
    messages: u64,
    size: usize,
    corrupt_after: Option<u64>,
) -> Result {
    stop::check()?;
    let [parent_cpu, child_cpu] = cpu::two_cpus()?;
    let cpus = if parent_cpu == child_cpu {
        format!("both on CPU {parent_cpu}, taking turns")
    } else {
        format!("child on CPU {child_cpu}, parent on CPU {parent_cpu}")
    };
    let cpu_pair = [parent_cpu, child_cpu];
    let echo = echo(mode, messages, size, cpu_pair, corrupt_after, |pid| {
        let how = label(mode);
        heading(
            step,
            &format!("SPSC ring in shared memory, {how}: child pid {pid} checks each"),
        );
        println!("   {size}-byte message and echoes it ({cpus})");
    })?;
    let round_trip = echo.wall.as_nanos() as f64 / messages as f64 / 1e3;
    let wall = duration(echo.wall);
    println!("   {messages} round trips back to back, verified both ways, in {wall}");
    println!(
        "   ({round_trip:.2} µs each); CPU used: parent {}, child {}",
        duration(echo.parent_cpu),
        duration(echo.child_cpu)
    );
    stop::check()?;
    let (count, interval) = (SLOW_SENSOR_MESSAGES, SLOW_SENSOR_INTERVAL);
    let slow = paced(mode, count, interval, child_cpu)?;
    let share = 100.0 * slow.reader_cpu.as_secs_f64() / slow.wall.as_secs_f64();
    let apart = duration(interval);
    println!("   a slow sensor, {count} messages {apart} apart: the child waiting for them");
    println!(
        "   used {} of CPU in {} ({share:.1}% of a CPU)",
        duration(slow.reader_cpu),
        duration(slow.wall)
    );
    Ok(())
}

/// What one echo run observed.
struct Echo {
    wall: Duration,
    parent_cpu: Duration,
    child_cpu: Duration,
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
        Some(i) => Err(format!(
            "message {seq} is wrong at byte {i}: {:#04x}, expected {:#04x}",
            buf[i], scratch[i]
        )),
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
/// the child's pid before the first message. From message `corrupt_after` on (if given), the
/// child flips the first byte of what it echoes.
fn echo(
    mode: Coordination,
    messages: u64,
    size: usize,
    [parent_cpu, child_cpu]: [usize; 2],
    corrupt_after: Option<u64>,
    on_child: impl FnOnce(Pid),
) -> Result<Echo> {
    let pair = duplex(mode, size).map_err(|e| format!("ring: {e}"))?;
    let children_cpu = cpu_time(UsageWho::RUSAGE_CHILDREN)?;
    let _pinned = cpu::pin_for_now(parent_cpu)?;
    let (mut end, mut child) = fork_peer(pair, |mut end| {
        cpu::pin(Pid::from_raw(0), child_cpu)?;
        let (mut buf, mut scratch) = (vec![0; size], vec![0; size]);
        for seq in 0..messages {
            end.read_exact(&mut buf)
                .map_err(|e| peer_error("read", "parent", e))?;
            check(&buf, seq, &mut scratch)?;
            if corrupt_after.is_some_and(|n| seq >= n) {
                buf[0] ^= 0xff;
            }
            end.write_all(&buf)
                .map_err(|e| peer_error("write", "parent", e))?;
        }
        Ok(())
    })?;
    on_child(child.pid());
    let own_cpu = cpu_time(UsageWho::RUSAGE_SELF)?;
    let start = Instant::now();
    let (mut buf, mut scratch) = (vec![0; size], vec![0; size]);
    for seq in 0..messages {
        fill(&mut buf, seq);
        end.write_all(&buf)
            .map_err(|e| peer_error("ring write", "echo", e))?;
        end.read_exact(&mut buf)
            .map_err(|e| peer_error("ring read", "echo", e))?;
        check(&buf, seq, &mut scratch).map_err(|e| format!("the echo came back corrupted: {e}"))?;
        stop::check()?;
    }
    let wall = start.elapsed();
    let parent_cpu = cpu_time(UsageWho::RUSAGE_SELF)? - own_cpu;
    drop(end);
    child.wait_ok(Duration::from_secs(5))?;
    let child_cpu = cpu_time(UsageWho::RUSAGE_CHILDREN)? - children_cpu;
    Ok(Echo {
        wall,
        parent_cpu,
        child_cpu,
    })
}

/// What waiting for slow messages cost the reader.
struct Paced {
    wall: Duration,
    reader_cpu: Duration,
}

/// A slow sensor: the parent sends `messages` messages, one every `interval`; the child, on
/// `on_cpu`, waits for each and checks it. Returns the child's CPU time and the wall time.
fn paced(mode: Coordination, messages: u64, interval: Duration, on_cpu: usize) -> Result<Paced> {
    let pair = duplex(mode, 64).map_err(|e| format!("ring: {e}"))?;
    let children_cpu = cpu_time(UsageWho::RUSAGE_CHILDREN)?;
    let start = Instant::now();
    let (mut end, mut child) = fork_peer(pair, |mut end| {
        cpu::pin(Pid::from_raw(0), on_cpu)?;
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
        stop::pause(interval)?;
        fill(&mut buf, seq);
        end.write_all(&buf)
            .map_err(|e| peer_error("ring write", "reader", e))?;
    }
    child.wait_ok(Duration::from_secs(5))?;
    Ok(Paced {
        wall: start.elapsed(),
        reader_cpu: cpu_time(UsageWho::RUSAGE_CHILDREN)? - children_cpu,
    })
}
