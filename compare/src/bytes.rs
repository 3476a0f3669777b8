//! Measuring a mechanism that carries bytes: its demo crate gives a connected pair of
//! `Read + Write` ends, and one message is one `write_all` on one end and one `read_exact` on
//! the other. Round trips (the child echoes), one-way throughput (the child checks and
//! acknowledges the last message). Setup is measured in `setups.rs`.

use std::io::{self, Read, Write};
use std::time::Instant;

use plumbing::stop;

use crate::harness::{
    CHILD_IO, CHILD_MISMATCH, CHILD_PEER_GONE, Latency, Placement, Plan, Skip, Throughput,
    child_says, io_failed, pair_failed, session, time_round_trips,
};
use crate::pattern;

/// One endpoint of a mechanism, as its demo crate exports it.
pub trait End: Read + Write {}
impl<T: Read + Write> End for T {}

/// The two ends `duplex(msg_size)` returns: the parent keeps `.0`, the child `.1`.
pub type Pair = (Box<dyn End>, Box<dyn End>);

/// Creates the pair for `size`, sorting "cannot carry this size" from real failures.
fn create(duplex: fn(usize) -> io::Result<Pair>, size: usize) -> Result<Pair, Skip> {
    duplex(size).map_err(|e| pair_failed(size, e))
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
    let messages = 2 * timed.round_trips + 1; // and the end message
    Ok(Latency::new(timed, child_cpu, messages))
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
