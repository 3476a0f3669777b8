//! Connects to echo_server, sends the lecture's reading and prints the echo.
//! Lecture: "Unix Domain Sockets" and "The One-Line Difference".
//!
//! Run (echo_server first, in the same form):
//!   terminal 1: cargo run -p uds-demo --example echo_server   # [PATH]
//!   terminal 2: cargo run -p uds-demo --example echo_client   # [PATH]
//! or over TCP (ADDR defaults to 127.0.0.1:7878):
//!   terminal 1: cargo run -p uds-demo --example echo_server -- --tcp [ADDR]
//!   terminal 2: cargo run -p uds-demo --example echo_client -- --tcp [ADDR]
//!
//! You will see `echo: temperature: 42`. Only the connect line differs. A server silent
//! for 5 s, or an echo over 4 KiB with no newline, ends the client with an error.
//!
//! To use it alone: `cargo new echo_client`, put this file in src/main.rs,
//! then `cargo run` (or `cargo run -- --tcp`) in terminal 2, once the same runs
//! in echo_server's own project in terminal 1. It needs std only: [dependencies]
//! stays empty:
//! ```toml
//! [dependencies]
//! ```

use std::io::{BufRead, BufReader, ErrorKind, Read, Write};
use std::net::TcpStream;
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::time::Duration;

/// How long the server may take to answer: without a limit a silent one holds us for ever.
const PATIENCE: Option<Duration> = Some(Duration::from_secs(5));

fn ctx<E: std::fmt::Display>(call: impl std::fmt::Display) -> impl FnOnce(E) -> String {
    move |e| format!("{call}: {e}")
}

/// Sends one line and reads one line back, over any byte stream.
fn exchange<S: Read + Write>(mut stream: S, line: &str) -> Result<String, String> {
    stream.write_all(line.as_bytes()).map_err(ctx("write"))?;
    let mut echo = String::new();
    // take: a server that floods us without a newline cannot fill our memory.
    let mut reader = BufReader::new(stream).take(4097);
    reader.read_line(&mut echo).map_err(|e| match e.kind() {
        ErrorKind::WouldBlock | ErrorKind::TimedOut => "read: no echo within 5 s".to_string(),
        _ => format!("read: {e}"),
    })?;
    if echo.is_empty() {
        return Err("the server closed the connection without an echo".into());
    }
    if echo.len() > 4096 {
        return Err("an echo over 4 KiB with no newline: refused".into());
    }
    Ok(echo)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let reading = "temperature: 42\n";
    let echo = if args.first().is_some_and(|a| a == "--tcp") {
        let addr = args.get(1).map_or("127.0.0.1:7878", String::as_str);
        // The one line that differs from the Unix form below:
        let stream = TcpStream::connect(addr).map_err(ctx(format!("connect {addr}")))?;
        stream
            .set_read_timeout(PATIENCE)
            .map_err(ctx("SO_RCVTIMEO"))?;
        exchange(stream, reading)?
    } else {
        let default = std::env::temp_dir().join("echo.sock");
        let path = args.first().map_or(default, PathBuf::from);
        let shown = path.display();
        // The one line that differs from the TCP form above:
        let stream = UnixStream::connect(&path).map_err(ctx(format!("connect {shown}")))?;
        stream
            .set_read_timeout(PATIENCE)
            .map_err(ctx("SO_RCVTIMEO"))?;
        exchange(stream, reading)?
    };
    // SIGPIPE stays ignored (Rust's default), so a closed stdout, like a server that hung up
    // before our write, is an EPIPE error here, with a message, not a silent death.
    write!(std::io::stdout(), "echo: {echo}")?;
    Ok(())
}
