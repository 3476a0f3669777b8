//! Framing: a stream has no message boundaries, so the echo protocol adds them. A frame is a
//! tag byte (b'M' message, b'E' error), a big-endian u32 payload length, then the payload.
//!
//! The codec, the echo server's conversation with one client ([`serve_echo`]) and the client's
//! side of one exchange ([`echo_once`]: [`send_message`], then [`read_echo`]), all generic
//! over the stream: the same code runs over `UnixStream` and `TcpStream`.

use std::io::{self, ErrorKind, Read, Write};
use std::os::fd::AsFd;
use std::time::{Duration, Instant};

use nix::sys::socket::{setsockopt, sockopt};
use nix::sys::time::{TimeVal, TimeValLike};

/// Largest payload a frame may carry. The decoder checks the length against it before
/// allocating, so a peer cannot make us allocate more.
pub const MAX_FRAME: usize = 64 * 1024;

/// What a frame carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FrameKind {
    /// An ordinary message; the server echoes it.
    Message,
    /// The server's one-line explanation before it closes a connection.
    Error,
}

impl FrameKind {
    fn tag(self) -> u8 {
        match self {
            FrameKind::Message => b'M',
            FrameKind::Error => b'E',
        }
    }
}

/// One decoded frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    pub kind: FrameKind,
    pub payload: Vec<u8>,
}

/// Writes one frame with a single `write_all`.
pub fn write_frame<W: Write>(w: &mut W, kind: FrameKind, payload: &[u8]) -> io::Result<()> {
    w.write_all(&encode(kind, payload)?)
}

/// The bytes of one frame: tag, big-endian length, payload.
fn encode(kind: FrameKind, payload: &[u8]) -> io::Result<Vec<u8>> {
    if payload.len() > MAX_FRAME {
        return Err(io::Error::new(
            ErrorKind::InvalidInput,
            format!(
                "message of {} bytes exceeds the frame limit of {MAX_FRAME} bytes",
                payload.len()
            ),
        ));
    }
    let mut frame = Vec::with_capacity(5 + payload.len());
    frame.push(kind.tag());
    frame.extend_from_slice(&(payload.len() as u32).to_be_bytes());
    frame.extend_from_slice(payload);
    Ok(frame)
}

/// Reads one frame. `Ok(None)` is a clean end of stream between frames.
///
/// Two bounds, each optional: `idle` is how long to wait for the first byte of a frame, `frame`
/// how long the rest may take once it started (a slowloris peer that trickles or stalls gets a
/// `TimedOut` error). They are checked after every `read`, so the caller must also give the
/// socket a read timeout (`set_read_timeout`) well below them for a silent peer to be noticed.
pub fn read_frame<R: Read>(
    r: &mut R,
    idle: Option<Duration>,
    frame: Option<Duration>,
) -> io::Result<Option<Frame>> {
    let mut header = [0u8; 5];
    let idle_deadline = idle.map(|t| (Instant::now() + t, t, "idle: no frame began"));
    if fill(r, &mut header[..1], idle_deadline)? == 0 {
        return Ok(None);
    }
    let deadline = frame.map(|t| (Instant::now() + t, t, "stalled: no complete frame"));
    let kind = match header[0] {
        b'M' => FrameKind::Message,
        b'E' => FrameKind::Error,
        other => {
            return Err(io::Error::new(
                ErrorKind::InvalidData,
                format!("not a frame: tag byte 0x{other:02x} is neither 'M' nor 'E'"),
            ));
        }
    };
    let got = fill(r, &mut header[1..], deadline)?;
    if got < 4 {
        return Err(truncated(1 + got, 5));
    }
    let len = u32::from_be_bytes([header[1], header[2], header[3], header[4]]) as usize;
    if len > MAX_FRAME {
        return Err(io::Error::new(
            ErrorKind::InvalidData,
            format!("length {len} exceeds the limit of {MAX_FRAME} bytes"),
        ));
    }
    let mut payload = vec![0u8; len];
    let got = fill(r, &mut payload, deadline)?;
    if got < len {
        return Err(truncated(5 + got, 5 + len));
    }
    Ok(Some(Frame { kind, payload }))
}

fn truncated(got: usize, want: usize) -> io::Error {
    io::Error::new(
        ErrorKind::UnexpectedEof,
        format!("truncated: the peer closed after {got} of {want} bytes"),
    )
}

/// Reads until `buf` is full or EOF; returns the bytes read. Enforces the frame deadline.
fn fill<R: Read>(
    r: &mut R,
    buf: &mut [u8],
    deadline: Option<(Instant, Duration, &str)>,
) -> io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match r.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                if deadline.is_none() {
                    return Err(e);
                }
            }
            Err(e) => return Err(e),
        }
        if let Some((at, limit, what)) = deadline
            && filled < buf.len()
            && Instant::now() >= at
        {
            return Err(io::Error::new(
                ErrorKind::TimedOut,
                format!("{what} within {} ms", limit.as_millis()),
            ));
        }
    }
    Ok(filled)
}

/// The echo server's whole conversation with one client, for any stream type: the same code
/// serves `UnixStream` and `TcpStream` (the lecture's one-line difference).
///
/// Echoes each message frame until the client closes; returns how many it echoed. A bad frame or
/// a stall ends this connection only: the client gets an error frame (best effort) and the
/// error is returned. `idle` and `frame` bound the waits as in [`read_frame`], so give the
/// socket a read timeout before calling; `frame` also bounds the sending of each echo as a
/// whole (a client that never reads is dropped after it).
pub fn serve_echo<S: Read + Write + AsFd>(
    stream: &mut S,
    idle: Duration,
    frame: Duration,
) -> io::Result<u64> {
    set_send_timeout(stream, frame)?;
    let mut echoed = 0;
    loop {
        let error = match read_frame(stream, Some(idle), Some(frame)) {
            Ok(None) => return Ok(echoed),
            Ok(Some(Frame {
                kind: FrameKind::Message,
                payload,
            })) => {
                // A client that does not read its echoes gets no error frame: it would not
                // read that either, and writing it would wait once more.
                write_within(stream, &encode(FrameKind::Message, &payload)?, frame)?;
                echoed += 1;
                continue;
            }
            Ok(Some(Frame {
                kind: FrameKind::Error,
                ..
            })) => io::Error::new(ErrorKind::InvalidData, "a client may not send error frames"),
            Err(e) => e,
        };
        // Tell the client why we hang up; it may already be gone, so ignore failure.
        let _ = write_frame(stream, FrameKind::Error, error.to_string().as_bytes());
        return Err(error);
    }
}

/// Writes all of `bytes` within `limit` in all. SO_SNDTIMEO bounds each write(2) alone, and
/// a write that sent part of the bytes before it timed out would start the wait again; so
/// after a partial write the timeout becomes the time left, and is put back at the end. (The
/// common case, one write that takes everything, costs no extra system call.)
fn write_within<S: Write + AsFd>(stream: &mut S, bytes: &[u8], limit: Duration) -> io::Result<()> {
    let deadline = Instant::now() + limit;
    let mut sent = 0;
    let mut shortened = false;
    while sent < bytes.len() {
        match stream.write(&bytes[sent..]) {
            Ok(0) => return Err(ErrorKind::WriteZero.into()),
            Ok(n) => sent += n,
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => break,
            Err(e) => return Err(e),
        }
        let left = deadline.saturating_duration_since(Instant::now());
        if sent < bytes.len() {
            if left.is_zero() {
                break;
            }
            set_send_timeout(stream, left)?;
            shortened = true;
        }
    }
    if sent < bytes.len() {
        return Err(io::Error::new(
            ErrorKind::TimedOut,
            format!(
                "slow reader: {sent} of the echo's {} bytes taken within {} ms",
                bytes.len(),
                limit.as_millis()
            ),
        ));
    }
    if shortened {
        set_send_timeout(stream, limit)?;
    }
    Ok(())
}

/// SO_SNDTIMEO: how long one write(2) may wait for room in the socket buffer.
fn set_send_timeout(stream: &impl AsFd, t: Duration) -> io::Result<()> {
    // A zero timeval would mean "wait for ever": never ask for less than a microsecond.
    let micros = i64::try_from(t.as_micros()).unwrap_or(i64::MAX).max(1);
    setsockopt(stream, sockopt::SendTimeout, &TimeVal::microseconds(micros))?;
    Ok(())
}

/// The client's side of one exchange: sends `message`, returns the echoed payload. An error
/// frame from the server, or the server closing, is an `Err` carrying what happened.
pub fn echo_once<S: Read + Write>(
    stream: &mut S,
    message: &[u8],
    timeout: Duration,
) -> io::Result<Vec<u8>> {
    send_message(stream, message, timeout)?;
    read_echo(stream, timeout)
}

/// The client's write: one message frame. If it fails, the server may have hung up before we
/// wrote (EPIPE) after refusing us; its reason, still queued for reading, is then the error.
pub fn send_message<S: Read + Write>(
    stream: &mut S,
    message: &[u8],
    timeout: Duration,
) -> io::Result<()> {
    if let Err(e) = write_frame(stream, FrameKind::Message, message) {
        return match read_frame(stream, Some(timeout), Some(timeout)) {
            Ok(Some(Frame {
                kind: FrameKind::Error,
                payload,
            })) => Err(server_said(&payload)),
            _ => Err(e),
        };
    }
    Ok(())
}

/// The client's read: the echoed payload. An error frame from the server, or the server
/// closing, is an `Err` carrying what happened.
pub fn read_echo<S: Read>(stream: &mut S, timeout: Duration) -> io::Result<Vec<u8>> {
    match read_frame(stream, Some(timeout), Some(timeout))? {
        Some(Frame {
            kind: FrameKind::Message,
            payload,
        }) => Ok(payload),
        Some(Frame {
            kind: FrameKind::Error,
            payload,
        }) => Err(server_said(&payload)),
        None => Err(io::Error::new(
            ErrorKind::UnexpectedEof,
            "the server closed the connection",
        )),
    }
}

fn server_said(payload: &[u8]) -> io::Error {
    io::Error::other(format!("server said: {}", String::from_utf8_lossy(payload)))
}
