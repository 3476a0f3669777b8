//! Message boundaries: three sends on a datagram socket arrive as three
//! messages; the same three writes on a stream socket can come out as one read.
//! Lecture: "Unix Domain Sockets" (stream and datagram modes) and the
//! stream-vs-message preview in "Message Queues".
//!
//! Run:
//!   cargo run -p uds-demo --example dgram_pair
//!
//! You will see three `datagram` lines, one reading each, then the stream's
//! reads: on Linux usually one read holding all three readings run together.
//!
//! To use it alone: `cargo new dgram_pair`, put this file in src/main.rs, add these
//! lines under [dependencies] in Cargo.toml, then `cargo run`:
//! ```toml
//! [dependencies]
//! nix = { version = "0.32", features = ["signal"] }
//! ```

use std::io::{Read, Write};
use std::os::unix::net::{UnixDatagram, UnixStream};

use nix::sys::signal::{SigHandler, Signal, signal};

const READINGS: [&str; 3] = ["temperature: 41", "temperature: 42", "temperature: 43"];

fn ctx<E: std::fmt::Display>(call: impl std::fmt::Display) -> impl FnOnce(E) -> String {
    move |e| format!("{call}: {e}")
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // SAFETY: before any thread exists. Rust ignores SIGPIPE; the default makes a closed
    // stdout (`| head -1`) end us quietly, as it would a C program.
    unsafe { signal(Signal::SIGPIPE, SigHandler::SigDfl) }?;
    let mut out = std::io::stdout().lock();
    let mut buf = [0u8; 1024];

    // socketpair(AF_UNIX, SOCK_DGRAM): each send queues one message, and
    // each recv takes exactly one, however much room the buffer has. (A
    // buffer smaller than the message would silently cut it short.)
    let (sender, receiver) = UnixDatagram::pair().map_err(ctx("socketpair SOCK_DGRAM"))?;
    for reading in READINGS {
        sender.send(reading.as_bytes()).map_err(ctx("send"))?;
    }
    for i in 1..=READINGS.len() {
        let n = receiver.recv(&mut buf).map_err(ctx("recv"))?;
        let text = String::from_utf8_lossy(&buf[..n]);
        writeln!(out, "datagram {i}: {text:?} ({n} bytes)")?;
    }

    // socketpair(AF_UNIX, SOCK_STREAM): bytes, no boundaries. A read takes
    // whatever is queued, so the reader must find where a reading ends
    // (a newline, a length prefix): the kernel keeps no record of it.
    let (mut writer, mut reader) = UnixStream::pair().map_err(ctx("socketpair SOCK_STREAM"))?;
    for reading in READINGS {
        writer.write_all(reading.as_bytes()).map_err(ctx("write"))?;
    }
    drop(writer); // closing the write end: EOF after the queued bytes
    let mut reads = 0;
    loop {
        let n = reader.read(&mut buf).map_err(ctx("read"))?;
        if n == 0 {
            break;
        }
        reads += 1;
        let text = String::from_utf8_lossy(&buf[..n]);
        writeln!(out, "stream read {reads}: {text:?} ({n} bytes)")?;
    }
    writeln!(out, "3 sends: 3 datagrams, but {reads} stream read(s)")?;
    Ok(())
}
