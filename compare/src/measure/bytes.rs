//! Measuring a mechanism that carries bytes: its demo crate gives a connected pair of
//! `Read + Write` ends, and one message is one `write_all` on one end and one `read_exact` on
//! the other (a System V queue's end fills, checks and echoes a message in its own msgbuf, as
//! C does: see [`End`]). Round trips (the child echoes), one-way throughput (the child checks
//! and acknowledges the last message): this file makes the two sides of each (`sides.rs`), the
//! harness runs and times them. Setup is measured in `setups.rs`.

use std::io::{self, Read, Write};
use std::sync::OnceLock;

use nix::unistd::Pid;
use plumbing::child::ExitReason;

use crate::measure::pattern;
use crate::measure::sides::{
    Child, OneWay, Ping, child_says, io_failed, pair_failed, warmup_messages,
};
use crate::row::Skip;

/// One endpoint of a mechanism, as its demo crate exports it: a byte stream, one message per
/// `write_all` and `read_exact`. An end whose transport keeps each message in a buffer of its
/// own (a System V queue: the msgbuf that msgsnd reads and msgrcv writes) overrides these to
/// fill, check and echo the message there, as a C program would, with no copy in or out.
pub trait End: Read + Write {
    /// Once in each process, after the fork and before the first message, outside the clock
    /// and the CPU count: an end that can only be made in its own process (a peer crate's node
    /// and ports) makes itself here and waits for its peer. Most ends are ready at creation.
    fn open(&mut self) -> io::Result<()> {
        Ok(())
    }

    /// Sends message `seq`: `buf.len()` bytes of its pattern.
    fn send_message(&mut self, buf: &mut [u8], seq: u64) -> io::Result<()> {
        fill(buf, seq);
        self.write_all(buf)
    }

    /// Receives one message of `buf.len()` bytes (into `buf`, or where the transport keeps it).
    fn receive_message(&mut self, buf: &mut [u8]) -> io::Result<()> {
        self.read_exact(buf)
    }

    /// The message just received, to check where it lies: in `buf`, or where the transport
    /// keeps it (read-only, so a transport that lends its own memory is checked in place).
    fn received<'a>(&'a mut self, buf: &'a [u8]) -> &'a [u8] {
        buf
    }

    /// Test only (`--corrupt-after`): flips byte `at` of the message just received, so that
    /// its echo goes back changed.
    fn alter_received(&mut self, buf: &mut [u8], at: usize) {
        buf[at] ^= 0x01;
    }

    /// Sends the message just received back, as it now is.
    fn echo_message(&mut self, buf: &[u8]) -> io::Result<()> {
        self.write_all(buf)
    }
}

impl End for pipe_demo::End {}
impl End for fifo_demo::End {}
impl End for mq_demo::End {}
impl End for shm_demo::End {}
impl End for std::os::unix::net::UnixStream {}
impl End for std::net::TcpStream {}
impl End for uds_demo::DatagramEnd {}

impl End for mq_demo::SysvEnd {
    fn send_message(&mut self, buf: &mut [u8], seq: u64) -> io::Result<()> {
        self.send_filled(buf.len(), |text| fill(text, seq))
    }

    fn receive_message(&mut self, buf: &mut [u8]) -> io::Result<()> {
        match self.receive_in_place()? {
            n if n == buf.len() => Ok(()),
            0 => Err(io::ErrorKind::UnexpectedEof.into()),
            n => Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("msgrcv: a message of {n} bytes, expected {}", buf.len()),
            )),
        }
    }

    fn received<'a>(&'a mut self, _: &'a [u8]) -> &'a [u8] {
        mq_demo::SysvEnd::received(self)
    }

    fn alter_received(&mut self, _: &mut [u8], at: usize) {
        mq_demo::SysvEnd::received(self)[at] ^= 0x01;
    }

    fn echo_message(&mut self, _: &[u8]) -> io::Result<()> {
        self.send_received()
    }
}

/// Test only (`--corrupt-to-child N`): the message every sender alters after filling it and
/// before it goes out, so that the receiving child's check must catch it. Set once, before
/// the first fork.
static CORRUPT_TO_CHILD: OnceLock<u64> = OnceLock::new();

/// Test only: from now on every sender flips one byte of message `seq` (see [`fill`]).
pub fn corrupt_to_child(seq: u64) {
    let _ = CORRUPT_TO_CHILD.set(seq);
}

/// Writes message `seq`'s pattern over `msg`, as every sender does (a byte end, a System V
/// msgbuf, a zero-copy slot). Under `--corrupt-to-child` (test only) it then flips one byte of
/// that message, which the receiving child must report as "message N arrived changed".
pub fn fill(msg: &mut [u8], seq: u64) {
    pattern::fill(msg, seq);
    if CORRUPT_TO_CHILD.get() == Some(&seq) {
        let middle = msg.len() / 2;
        msg[middle] ^= 0x01;
    }
}

/// The two ends `duplex(msg_size)` returns: the parent keeps `.0`, the child `.1`.
pub type Pair = (Box<dyn End>, Box<dyn End>);

/// Creates the pair for `size`, sorting "cannot carry this size" from real failures.
fn create(duplex: fn(usize) -> io::Result<Pair>, size: usize) -> Result<Pair, Skip> {
    duplex(size).map_err(|e| pair_failed(size, e))
}

/// The parent's end of a pair, with room for one message.
pub struct Parent {
    end: Box<dyn End>,
    buf: Vec<u8>,
}

/// The echo child of a round-trip measurement (see [`echo`]).
pub struct Echo {
    end: Box<dyn End>,
    size: usize,
    corrupt_after: Option<u64>,
}

/// The receiving child of a throughput measurement (see [`sink`]).
pub struct Sink {
    end: Box<dyn End>,
    chunk: usize,
}

/// The two sides of a round-trip measurement of `size`-byte messages: the parent sends message
/// `seq`, the child checks it and sends it back, the parent checks the echo. `corrupt_after`:
/// test only, the child alters its echo of that message.
pub fn round_trips(
    duplex: fn(usize) -> io::Result<Pair>,
    size: usize,
    corrupt_after: Option<u64>,
) -> Result<(Parent, Echo), Skip> {
    let (ours, theirs) = create(duplex, size)?;
    let parent = Parent {
        end: ours,
        buf: vec![0u8; size],
    };
    let echo = Echo {
        end: theirs,
        size,
        corrupt_after,
    };
    Ok((parent, echo))
}

impl Ping for Parent {
    fn open(&mut self, _: Pid) -> Result<(), Skip> {
        opened(self.end.as_mut())
    }

    fn round_trip(&mut self, _: Pid, seq: u64) -> Result<(), Skip> {
        let (end, buf) = (&mut self.end, &mut self.buf);
        end.send_message(buf, seq)
            .map_err(|e| io_failed("write", seq, e))?;
        end.receive_message(buf)
            .map_err(|e| io_failed("read", seq, e))?;
        pattern::check(end.received(&buf[..]), seq)
            .map_err(|m| Skip::Failed(format!("message {seq} came back changed: {m}")))
    }

    fn end(&mut self, _: Pid, _: u64) -> Result<(), Skip> {
        self.end
            .send_message(&mut self.buf, pattern::END)
            .map_err(|e| io_failed("write", pattern::END, e))
    }
}

/// A child reads message `seq`; on failure, the exit status: the parent closed its end
/// (EOF), or the read failed (said on stderr).
fn child_read(end: &mut dyn End, buf: &mut [u8], seq: u64, label: &str) -> Result<(), ExitReason> {
    end.receive_message(buf).map_err(|e| {
        if e.kind() == io::ErrorKind::UnexpectedEof {
            return ExitReason::PeerGone;
        }
        child_says(label, &format!("message {seq}: read: {e}"));
        ExitReason::Io
    })
}

/// The parent's end, opened (see [`End::open`]).
fn opened(end: &mut dyn End) -> Result<(), Skip> {
    end.open()
        .map_err(|e| Skip::Failed(format!("opening our end: {e}")))
}

/// A child's end, opened; on failure, its one line and the exit status.
fn child_opened(end: &mut dyn End, label: &str) -> Result<(), ExitReason> {
    end.open().map_err(|e| {
        child_says(label, &format!("opening its end: {e}"));
        ExitReason::Setup
    })
}

impl Child for Echo {
    fn open(&mut self, _: Pid, label: &str) -> Result<(), ExitReason> {
        child_opened(self.end.as_mut(), label)
    }

    fn run(mut self, _: Pid, label: &str) -> ExitReason {
        echo(self.end.as_mut(), self.size, self.corrupt_after, label)
    }
}

/// The echo child: check each message, send it back, stop at the end message.
fn echo(end: &mut dyn End, size: usize, corrupt_after: Option<u64>, label: &str) -> ExitReason {
    let mut buf = vec![0u8; size];
    for seq in 0u64.. {
        if let Err(code) = child_read(end, &mut buf, seq, label) {
            return code;
        }
        let message = end.received(&buf);
        if pattern::is_end(message) {
            return ExitReason::Done;
        }
        if let Err(m) = pattern::check(message, seq) {
            child_says(label, &format!("message {seq} arrived changed: {m}"));
            return ExitReason::Mismatch;
        }
        if corrupt_after == Some(seq) {
            end.alter_received(&mut buf, size / 2); // test only: the parent must catch this
        }
        if let Err(e) = end.echo_message(&buf) {
            child_says(label, &format!("message {seq}: write: {e}"));
            return ExitReason::Io;
        }
    }
    ExitReason::Done
}

/// The two sides of a one-way throughput measurement: the parent streams `chunk`-byte
/// messages, the child checks each one and sends back the last warm-up message and the end
/// message as acknowledgements; the clock runs from the first acknowledgement (nothing in
/// flight, the child running) to the second.
pub fn stream(duplex: fn(usize) -> io::Result<Pair>, chunk: usize) -> Result<(Parent, Sink), Skip> {
    let (ours, theirs) = create(duplex, chunk)?;
    let parent = Parent {
        end: ours,
        buf: vec![0u8; chunk],
    };
    Ok((parent, Sink { end: theirs, chunk }))
}

impl OneWay for Parent {
    fn open(&mut self) -> Result<(), Skip> {
        opened(self.end.as_mut())
    }

    fn send(&mut self, seq: u64) -> Result<(), Skip> {
        self.end
            .send_message(&mut self.buf, seq)
            .map_err(|e| io_failed("write", seq, e))
    }

    /// The child sends the last warm-up message back once it has checked it.
    fn drain(&mut self, last: u64) -> Result<(), Skip> {
        acknowledged(self.end.as_mut(), &mut self.buf, last)
    }

    fn end(&mut self) -> Result<(), Skip> {
        self.send(pattern::END)?;
        acknowledged(self.end.as_mut(), &mut self.buf, pattern::END)
    }
}

/// Waits for the child's echo of message `seq` (the last warm-up message, or the end message)
/// and checks it.
fn acknowledged(end: &mut dyn End, buf: &mut [u8], seq: u64) -> Result<(), Skip> {
    end.receive_message(buf)
        .map_err(|e| io_failed("read of the acknowledgement", seq, e))?;
    pattern::check(end.received(&buf[..]), seq).map_err(|m| {
        Skip::Failed(format!(
            "the acknowledgement of message {seq} came back changed: {m}"
        ))
    })
}

impl Child for Sink {
    fn open(&mut self, _: Pid, label: &str) -> Result<(), ExitReason> {
        child_opened(self.end.as_mut(), label)
    }

    fn run(mut self, _: Pid, label: &str) -> ExitReason {
        sink(self.end.as_mut(), self.chunk, label)
    }
}

/// The receiving child of a throughput run.
fn sink(end: &mut dyn End, chunk: usize, label: &str) -> ExitReason {
    let mut buf = vec![0u8; chunk];
    let last_warm = warmup_messages(chunk) - 1;
    for seq in 0u64.. {
        if let Err(code) = child_read(end, &mut buf, seq, label) {
            return code;
        }
        let message = end.received(&buf);
        if pattern::is_end(message) {
            if let Err(e) = end.echo_message(&buf) {
                child_says(label, &format!("acknowledgement: write: {e}"));
                return ExitReason::Io;
            }
            return ExitReason::Done;
        }
        if let Err(m) = pattern::check(end.received(&buf), seq) {
            child_says(label, &format!("message {seq} arrived changed: {m}"));
            return ExitReason::Mismatch;
        }
        // The last warm-up message goes back: the parent starts its clock on it.
        if seq == last_warm
            && let Err(e) = end.echo_message(&buf)
        {
            child_says(
                label,
                &format!("acknowledgement of message {seq}: write: {e}"),
            );
            return ExitReason::Io;
        }
    }
    ExitReason::Done
}
