//! The harness: fork, pin, exchange, verify, time. No transport code lives here: a mechanism is
//! a pair of `Read + Write` ends from its demo crate (or, for signals, a doorbell), and one
//! message is one `write_all` on one end and one `read_exact` on the other.

use std::io::{self, Read, Write};
use std::time::{Duration, Instant};

use nix::sched::{CpuSet, sched_setaffinity};
use nix::sys::resource::{UsageWho, getrusage};
use nix::sys::signal::{Signal, kill};
use nix::sys::wait::{WaitPidFlag, WaitStatus, waitpid};
use nix::unistd::{ForkResult, Pid, fork, getpid, getppid};

use crate::pattern;
use crate::stats::{self, Summary};
use crate::stop;

/// One endpoint of a mechanism, as its demo crate exports it.
pub trait End: Read + Write {}
impl<T: Read + Write> End for T {}

/// The two ends `duplex(msg_size)` returns: the parent keeps `.0`, the child `.1`.
pub type Pair = (Box<dyn End>, Box<dyn End>);

/// Why a measurement has no number.
#[derive(Clone, Debug)]
pub enum Skip {
    /// The mechanism cannot do this (a size above its limit, one CPU for "split"): the reason.
    NotApplicable(String),
    /// It should have worked and did not: what went wrong.
    Failed(String),
    /// SIGINT / SIGTERM arrived.
    Stopped,
}

/// Where the two processes run.
#[derive(Clone, Copy, Debug)]
pub struct Placement {
    /// "same" or "split", as on the command line
    pub name: &'static str,
    pub parent_cpu: usize,
    pub child_cpu: usize,
    /// false when the machine cannot honour it (one usable CPU for "split")
    pub possible: bool,
}

/// How much to measure.
#[derive(Clone, Debug)]
pub struct Plan {
    /// timed round trips per latency measurement
    pub iters: usize,
    /// untimed round trips before them
    pub warmup: usize,
    /// stop a measurement early after this long (reported as fewer samples); None = no cap
    pub cap: Option<Duration>,
    /// bytes to send one way in a throughput measurement (fewer if `cap` runs out first)
    pub stream_bytes: u64,
    /// repetitions of the setup measurement
    pub setup_reps: usize,
    /// test only: the echo child flips a byte of its reply to message N
    pub corrupt_after: Option<u64>,
}

/// Per-sample and batched round trips are only taken when a round trip is this fast.
const BATCH_BELOW_NS: u64 = 2_000;
const BATCH_LEN: usize = 100;
/// Even when the time cap runs out, p99 needs at least this many samples.
const MIN_SAMPLES: usize = 100;
/// How long a doorbell waits for its answer before the row fails.
const ANSWER_TIMEOUT: Duration = Duration::from_secs(2);

#[derive(Clone, Copy, Debug)]
pub struct Latency {
    pub summary: Summary,
    /// median over batches of `BATCH_LEN` round trips, per round trip (fast rows only)
    pub batch_ns: Option<f64>,
    /// user + system CPU of both processes per message (a round trip is two messages)
    pub cpu_us_per_msg: f64,
}

#[derive(Clone, Copy, Debug)]
pub struct Throughput {
    pub mib_s: f64,
    /// bytes per message
    pub chunk: usize,
    pub bytes: u64,
}

// Exit codes of a child; the child prints its own one-line reason to stderr first.
const CHILD_MISMATCH: i32 = 10;
const CHILD_IO: i32 = 11;
const CHILD_SETUP: i32 = 12;
/// The parent closed its end without the end message (it stopped on an error of its own).
const CHILD_PEER_GONE: i32 = 13;
/// A bug: the child panicked (the panic message is above).
const CHILD_PANIC: i32 = 14;

fn cpu_time(who: UsageWho) -> Duration {
    match getrusage(who) {
        Ok(u) => {
            let t = |tv: nix::sys::time::TimeVal| {
                Duration::new(tv.tv_sec().max(0) as u64, tv.tv_usec().max(0) as u32 * 1000)
            };
            t(u.user_time()) + t(u.system_time())
        }
        Err(_) => Duration::ZERO,
    }
}

fn pin(cpu: usize) -> nix::Result<()> {
    let mut set = CpuSet::new();
    set.set(cpu)?;
    sched_setaffinity(Pid::from_raw(0), &set)
}

/// What the child side of a session needs before it runs.
fn child_start(parent: Pid, cpu: usize, label: &str) -> Result<(), i32> {
    let ready = nix::sys::prctl::set_pdeathsig(Signal::SIGKILL)
        .map_err(|e| format!("prctl(PR_SET_PDEATHSIG): {e}"))
        .and_then(|()| match getppid() == parent {
            true => Ok(()),
            false => Err("the parent died before the child started".to_string()),
        })
        .and_then(|()| stop::reset_in_child().map_err(|e| format!("signal(SIG_DFL): {e}")))
        .and_then(|()| pin(cpu).map_err(|e| format!("sched_setaffinity(CPU {cpu}): {e}")));
    ready.map_err(|why| {
        child_says(label, &why);
        CHILD_SETUP
    })
}

fn child_says(label: &str, what: &str) {
    let _ = writeln!(io::stderr(), "compare: child ({label}): {what}");
}

/// Forks; the child runs `child_side` pinned to `placement.child_cpu` and leaves with its
/// return value as exit status; the parent runs `parent_side` pinned to `placement.parent_cpu`.
/// Each side owns (inside its closure) only its own end: the other is dropped right after fork.
/// `killed_at_end`: the child has no way to be told to stop (a doorbell), so it is SIGKILLed.
fn session<T>(
    label: &str,
    placement: Placement,
    watchdog: u32,
    killed_at_end: bool,
    child_side: impl FnOnce(Pid) -> i32,
    parent_side: impl FnOnce(Pid) -> Result<T, Skip>,
) -> Result<(T, Duration), Skip> {
    if stop::requested().is_some() {
        return Err(Skip::Stopped);
    }
    let _ = io::stdout().flush();
    let children_before = cpu_time(UsageWho::RUSAGE_CHILDREN);
    let parent = getpid();
    // SAFETY: compare is single-threaded (main never starts a thread), so the child is a
    // consistent copy of this process; it runs only `child_side`, then leaves with _exit.
    let child = match unsafe { fork() } {
        Err(e) => return Err(Skip::Failed(format!("fork: {e}"))),
        Ok(ForkResult::Child) => {
            drop(parent_side);
            // A panic must never unwind out of here: the child would go on running the
            // parent's loop. Catch it and leave with a status instead.
            let work = std::panic::AssertUnwindSafe(|| {
                match child_start(parent, placement.child_cpu, label) {
                    Ok(()) => child_side(parent),
                    Err(code) => code,
                }
            });
            let code = std::panic::catch_unwind(work).unwrap_or(CHILD_PANIC);
            // SAFETY: _exit ends the child at once, without running the parent's atexit
            // handlers or flushing stdio buffers copied from the parent.
            unsafe { libc::_exit(code) }
        }
        Ok(ForkResult::Parent { child }) => child,
    };
    drop(child_side);
    stop::set_child(child.as_raw());
    stop::arm_watchdog(watchdog);
    let result = pin(placement.parent_cpu)
        .map_err(|e| {
            Skip::Failed(format!(
                "sched_setaffinity(CPU {}): {e}",
                placement.parent_cpu
            ))
        })
        .and_then(|()| parent_side(child));
    stop::arm_watchdog(0);
    let timed_out = stop::timed_out();
    stop::set_child(0);
    let ending = match (&result, killed_at_end) {
        (Err(_), _) => Ending::AfterOurError,
        (Ok(_), true) => Ending::Killed,
        (Ok(_), false) => Ending::EndMessage,
    };
    let child_failure = reap(child, ending);
    let child_cpu = cpu_time(UsageWho::RUSAGE_CHILDREN).saturating_sub(children_before);
    if stop::requested().is_some() {
        return Err(Skip::Stopped);
    }
    if timed_out {
        return Err(Skip::Failed(format!(
            "no progress within the {watchdog} s watchdog; the child was killed"
        )));
    }
    match (result, child_failure) {
        (Ok(value), None) => Ok((value, child_cpu)),
        (Ok(_), Some(child_failure)) => Err(Skip::Failed(child_failure)),
        (Err(Skip::Failed(ours)), Some(child_failure)) => Err(Skip::Failed(format!(
            "{child_failure}; the parent then saw: {ours}"
        ))),
        (Err(e), _) => Err(e),
    }
}

/// How a session's child is expected to end.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Ending {
    /// It got the end message and exits 0 by itself.
    EndMessage,
    /// We stopped on an error and closed our end: it notices and exits (or we kill it).
    AfterOurError,
    /// It cannot be told to stop (a doorbell): we SIGKILL it.
    Killed,
}

/// Waits for the child to end as `ending` expects, SIGKILLs it if it will not go (after 2 s,
/// 200 ms after our own error, at once for a doorbell or when stopping), and says how it ended
/// if that was not as expected. Always reaps, so no zombie and no orphan is left.
fn reap(child: Pid, ending: Ending) -> Option<String> {
    let started = Instant::now();
    let patience = match ending {
        Ending::EndMessage => Duration::from_secs(2),
        Ending::AfterOurError => Duration::from_millis(200),
        Ending::Killed => Duration::ZERO,
    };
    let mut killed = false;
    let status = loop {
        let flags = if killed {
            None
        } else {
            Some(WaitPidFlag::WNOHANG)
        };
        match waitpid(child, flags) {
            Ok(WaitStatus::StillAlive) => {}
            Ok(status) => break Ok(status),
            Err(nix::errno::Errno::EINTR) => continue,
            Err(e) => break Err(e),
        }
        if started.elapsed() >= patience || stop::requested().is_some() {
            let _ = kill(child, Signal::SIGKILL);
            killed = true;
        } else {
            std::thread::sleep(Duration::from_micros(200));
        }
    };
    match status {
        Ok(WaitStatus::Exited(_, 0)) => None,
        Ok(WaitStatus::Exited(_, CHILD_PEER_GONE)) if ending == Ending::AfterOurError => None,
        Ok(WaitStatus::Exited(_, CHILD_MISMATCH)) => {
            Some("the child received a corrupted message (its message is above)".to_string())
        }
        Ok(WaitStatus::Exited(_, CHILD_IO)) => {
            Some("the child's read or write failed (its message is above)".to_string())
        }
        Ok(WaitStatus::Exited(_, CHILD_SETUP)) => {
            Some("the child could not start (its message is above)".to_string())
        }
        Ok(WaitStatus::Exited(_, CHILD_PANIC)) => {
            Some("the child panicked (its message is above)".to_string())
        }
        Ok(WaitStatus::Exited(_, code)) => Some(format!("the child exited with status {code}")),
        Ok(WaitStatus::Signaled(_, Signal::SIGKILL, _))
            if killed && ending != Ending::EndMessage =>
        {
            None
        }
        Ok(WaitStatus::Signaled(_, signal, _)) if killed => Some(format!(
            "the child did not end within {} s of the end message and was killed ({signal})",
            patience.as_secs()
        )),
        Ok(WaitStatus::Signaled(_, signal, _)) => Some(format!("the child died of {signal}")),
        Ok(other) => Some(format!("the child ended oddly: {other:?}")),
        Err(e) => Some(format!("waitpid: {e}")),
    }
}

/// Everything timed on the parent side of a latency measurement.
struct Timed {
    summary: Summary,
    batch_ns: Option<f64>,
    round_trips: u64,
    parent_cpu: Duration,
}

/// Runs warm-up, per-sample and (for fast rows) batched round trips. `round_trip(seq)` does one.
fn time_round_trips(
    plan: &Plan,
    mut round_trip: impl FnMut(u64) -> Result<(), Skip>,
) -> Result<Timed, Skip> {
    let cpu_before = cpu_time(UsageWho::RUSAGE_SELF);
    let started = Instant::now();
    let over = |now: Instant| plan.cap.is_some_and(|cap| now - started >= cap);
    let stopped = || match stop::requested() {
        Some(_) => Err(Skip::Stopped),
        None => Ok(()),
    };
    let mut seq = 0u64;
    while (seq as usize) < plan.warmup && !over(Instant::now()) {
        round_trip(seq)?;
        seq += 1;
    }
    let mut samples = Vec::with_capacity(plan.iters);
    let mut t0 = Instant::now();
    while samples.len() < plan.iters && !(samples.len() >= MIN_SAMPLES && over(t0)) {
        stopped()?;
        round_trip(seq)?;
        seq += 1;
        let t1 = Instant::now();
        samples.push((t1 - t0).as_nanos() as u64);
        t0 = t1;
    }
    let summary = stats::summarize(&mut samples)
        .ok_or_else(|| Skip::Failed("no samples were taken".to_string()))?;
    let mut batch_ns = None;
    if summary.p50 < BATCH_BELOW_NS {
        let mut batches = Vec::new();
        for _ in 0..(samples.len() / BATCH_LEN).max(10) {
            stopped()?;
            let t0 = Instant::now();
            for _ in 0..BATCH_LEN {
                round_trip(seq)?;
                seq += 1;
            }
            batches.push(t0.elapsed().as_nanos() as u64 / BATCH_LEN as u64);
        }
        batch_ns = stats::summarize(&mut batches).map(|s| s.p50 as f64);
    }
    Ok(Timed {
        summary,
        batch_ns,
        round_trips: seq,
        parent_cpu: cpu_time(UsageWho::RUSAGE_SELF).saturating_sub(cpu_before),
    })
}

fn io_failed(what: &str, seq: u64, e: io::Error) -> Skip {
    Skip::Failed(format!("message {seq}: {what}: {e}"))
}

/// Creates the pair for `size`, sorting "cannot carry this size" from real failures.
fn create(duplex: fn(usize) -> io::Result<Pair>, size: usize) -> Result<Pair, Skip> {
    duplex(size).map_err(|e| match e.kind() {
        io::ErrorKind::InvalidInput => Skip::NotApplicable(e.to_string()),
        _ => Skip::Failed(format!("creating the pair for {size} B messages: {e}")),
    })
}

/// Round-trip latency of `size`-byte messages: the parent sends message `seq`, the child checks
/// it and sends it back, the parent checks the echo.
pub fn latency(
    label: &str,
    duplex: fn(usize) -> io::Result<Pair>,
    size: usize,
    placement: Placement,
    plan: &Plan,
    watchdog: u32,
) -> Result<Latency, Skip> {
    let (mut ours, mut theirs) = create(duplex, size)?;
    let corrupt_after = plan.corrupt_after;
    let (timed, child_cpu) = session(
        label,
        placement,
        watchdog,
        false,
        move |_| echo(theirs.as_mut(), size, corrupt_after, label),
        move |_| {
            let mut buf = vec![0u8; size];
            let end = ours.as_mut();
            let timed = time_round_trips(plan, |seq| {
                pattern::fill(&mut buf, seq);
                end.write_all(&buf)
                    .map_err(|e| io_failed("write", seq, e))?;
                end.read_exact(&mut buf)
                    .map_err(|e| io_failed("read", seq, e))?;
                pattern::check(&buf, seq)
                    .map_err(|m| Skip::Failed(format!("message {seq} came back changed: {m}")))
            })?;
            pattern::fill(&mut buf, pattern::END);
            end.write_all(&buf)
                .map_err(|e| io_failed("write", pattern::END, e))?;
            Ok(timed)
        },
    )?;
    let messages = 2 * timed.round_trips + 1;
    Ok(Latency {
        summary: timed.summary,
        batch_ns: timed.batch_ns,
        cpu_us_per_msg: (timed.parent_cpu + child_cpu).as_secs_f64() * 1e6 / messages as f64,
    })
}

/// A child reads message `seq`; on failure, the exit status: the parent closed its end
/// (EOF), or the read failed (said on stderr).
fn child_read(end: &mut dyn End, buf: &mut [u8], seq: u64, label: &str) -> Result<(), i32> {
    end.read_exact(buf).map_err(|e| {
        if e.kind() == io::ErrorKind::UnexpectedEof {
            return CHILD_PEER_GONE;
        }
        child_says(label, &format!("message {seq}: read: {e}"));
        CHILD_IO
    })
}

/// The echo child: check each message, send it back, stop at the end message.
fn echo(end: &mut dyn End, size: usize, corrupt_after: Option<u64>, label: &str) -> i32 {
    let mut buf = vec![0u8; size];
    for seq in 0u64.. {
        if let Err(code) = child_read(end, &mut buf, seq, label) {
            return code;
        }
        if pattern::is_end(&buf) {
            return 0;
        }
        if let Err(m) = pattern::check(&buf, seq) {
            child_says(label, &format!("message {seq} arrived changed: {m}"));
            return CHILD_MISMATCH;
        }
        if corrupt_after == Some(seq) {
            buf[size / 2] ^= 0x01; // test only (--corrupt-after): the parent must catch this
        }
        if let Err(e) = end.write_all(&buf) {
            child_says(label, &format!("message {seq}: write: {e}"));
            return CHILD_IO;
        }
    }
    0
}

/// One-way throughput: the parent streams `chunk`-byte messages, the child checks each one and
/// answers the end message with an acknowledgement; the clock runs from the first write to the
/// acknowledgement.
pub fn throughput(
    label: &str,
    duplex: fn(usize) -> io::Result<Pair>,
    chunk: usize,
    placement: Placement,
    plan: &Plan,
    watchdog: u32,
) -> Result<Throughput, Skip> {
    let (mut ours, mut theirs) = create(duplex, chunk)?;
    let chunks = (plan.stream_bytes / chunk as u64).max(16);
    let ((sent, elapsed), _) = session(
        label,
        placement,
        watchdog,
        false,
        move |_| sink(theirs.as_mut(), chunk, label),
        move |_| {
            let mut buf = vec![0u8; chunk];
            let end = ours.as_mut();
            let started = Instant::now();
            let mut seq = 0u64;
            while seq < chunks {
                pattern::fill(&mut buf, seq);
                end.write_all(&buf)
                    .map_err(|e| io_failed("write", seq, e))?;
                seq += 1;
                if seq.is_multiple_of(16) {
                    if stop::requested().is_some() {
                        return Err(Skip::Stopped);
                    }
                    if plan.cap.is_some_and(|cap| started.elapsed() >= cap) {
                        break;
                    }
                }
            }
            pattern::fill(&mut buf, pattern::END);
            end.write_all(&buf)
                .map_err(|e| io_failed("write", pattern::END, e))?;
            end.read_exact(&mut buf)
                .map_err(|e| io_failed("read of the ack", seq, e))?;
            pattern::check(&buf, pattern::END)
                .map_err(|m| Skip::Failed(format!("the acknowledgement came back changed: {m}")))?;
            Ok((seq * chunk as u64, started.elapsed()))
        },
    )?;
    Ok(Throughput {
        mib_s: sent as f64 / (1024.0 * 1024.0) / elapsed.as_secs_f64(),
        chunk,
        bytes: sent,
    })
}

/// The receiving child of a throughput run.
fn sink(end: &mut dyn End, chunk: usize, label: &str) -> i32 {
    let mut buf = vec![0u8; chunk];
    for seq in 0u64.. {
        if let Err(code) = child_read(end, &mut buf, seq, label) {
            return code;
        }
        if pattern::is_end(&buf) {
            if let Err(e) = end.write_all(&buf) {
                child_says(label, &format!("acknowledgement: write: {e}"));
                return CHILD_IO;
            }
            return 0;
        }
        if let Err(m) = pattern::check(&buf, seq) {
            child_says(label, &format!("message {seq} arrived changed: {m}"));
            return CHILD_MISMATCH;
        }
    }
    0
}

/// Setup cost, all in this process (no fork): `duplex(64)` (create and connect, names unlinked),
/// one 64-byte message written on one end and read and checked on the other, and dropping both
/// ends. Median of `reps`, in microseconds.
pub fn setup(duplex: fn(usize) -> io::Result<Pair>, reps: usize) -> Result<f64, Skip> {
    let mut sent = [0u8; 64];
    let mut got = [0u8; 64];
    pattern::fill(&mut sent, 0);
    let mut times = Vec::with_capacity(reps);
    for _ in 0..reps {
        let t0 = Instant::now();
        let (mut a, mut b) = create(duplex, sent.len())?;
        a.write_all(&sent).map_err(|e| io_failed("write", 0, e))?;
        b.read_exact(&mut got)
            .map_err(|e| io_failed("read", 0, e))?;
        drop(a);
        drop(b);
        times.push(t0.elapsed().as_nanos() as u64);
        pattern::check(&got, 0).map_err(|m| Skip::Failed(format!("setup message: {m}")))?;
    }
    let summary =
        stats::summarize(&mut times).ok_or_else(|| Skip::Failed("no setup samples".to_string()))?;
    Ok(summary.p50 as f64 / 1000.0)
}

/// A signal-based doorbell: no bytes, only "it rang".
#[derive(Clone, Copy)]
pub struct Doorbell {
    /// block the doorbell signal (before fork, so neither side can miss a ring)
    pub block: fn() -> io::Result<()>,
    pub ring: fn(Pid) -> io::Result<()>,
    /// Ok(false) on timeout
    pub wait: fn(Duration) -> io::Result<bool>,
}

/// Round trips of a doorbell: the parent rings the child, the child rings back. Nothing to
/// verify but that every ring is answered (a ring is never sent before the last one is).
pub fn doorbell_latency(
    label: &str,
    bell: Doorbell,
    placement: Placement,
    plan: &Plan,
    watchdog: u32,
) -> Result<Latency, Skip> {
    (bell.block)().map_err(|e| Skip::Failed(format!("blocking the doorbell signal: {e}")))?;
    // A late answer from an earlier, failed session may still be queued: take it now, or
    // every round trip of this one would be answered by the ring before.
    while (bell.wait)(Duration::ZERO)
        .map_err(|e| Skip::Failed(format!("draining old rings: {e}")))?
    {}
    let (timed, child_cpu) = session(
        label,
        placement,
        watchdog,
        true,
        |parent| answer_rings(bell, parent, label),
        |child| {
            time_round_trips(plan, |seq| {
                (bell.ring)(child).map_err(|e| io_failed("ring", seq, e))?;
                match (bell.wait)(ANSWER_TIMEOUT) {
                    Ok(true) => Ok(()),
                    Ok(false) => Err(Skip::Failed(format!(
                        "ring {seq}: no answer within {} s",
                        ANSWER_TIMEOUT.as_secs()
                    ))),
                    Err(e) => Err(io_failed("wait", seq, e)),
                }
            })
        },
    )?;
    let messages = 2 * timed.round_trips;
    Ok(Latency {
        summary: timed.summary,
        batch_ns: timed.batch_ns,
        cpu_us_per_msg: (timed.parent_cpu + child_cpu).as_secs_f64() * 1e6 / messages as f64,
    })
}

/// The doorbell child: answer every ring until the parent kills it (or dies).
fn answer_rings(bell: Doorbell, parent: Pid, label: &str) -> i32 {
    loop {
        match (bell.wait)(Duration::from_millis(250)) {
            Ok(true) => {
                if let Err(e) = (bell.ring)(parent) {
                    child_says(label, &format!("ring back: {e}"));
                    return CHILD_IO;
                }
            }
            Ok(false) if getppid() != parent => return CHILD_PEER_GONE,
            Ok(false) => {}
            Err(e) => {
                child_says(label, &format!("wait: {e}"));
                return CHILD_IO;
            }
        }
    }
}

/// Setup cost of a doorbell: there is no object; ring ourselves and take the ring.
pub fn doorbell_setup(bell: Doorbell, reps: usize) -> Result<f64, Skip> {
    (bell.block)().map_err(|e| Skip::Failed(format!("blocking the doorbell signal: {e}")))?;
    let mut times = Vec::with_capacity(reps);
    for _ in 0..reps {
        let t0 = Instant::now();
        (bell.ring)(getpid()).map_err(|e| io_failed("ring", 0, e))?;
        match (bell.wait)(ANSWER_TIMEOUT) {
            Ok(true) => {}
            Ok(false) => return Err(Skip::Failed("ringing ourselves: no ring arrived".into())),
            Err(e) => return Err(io_failed("wait", 0, e)),
        }
        times.push(t0.elapsed().as_nanos() as u64);
    }
    let summary =
        stats::summarize(&mut times).ok_or_else(|| Skip::Failed("no setup samples".to_string()))?;
    Ok(summary.p50 as f64 / 1000.0)
}
