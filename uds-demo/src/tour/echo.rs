//! Step 1: an echo server and client over a socket file. The tour starts `uds-demo serve --unix
//! PATH` (the lecture's server: `roles/serve.rs`), shows what stat(2) says of the socket file (a
//! socket, mode 0600, size 0: the data never touches it) and is the client: connect(2), then a
//! write(2) and a read(2) per sensor reading. Step 2 runs the same client code over TCP.

use std::fs;
use std::io::{Read, Write};
use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};

use plumbing::Result;
use plumbing::tour::heading;
use uds_demo::server_child::ServerChild;
use uds_demo::timeouts::{REPLY_TIMEOUT, set_timeouts};
use uds_demo::{read_echo, send_message, sensor_readings};

/// What step 1 leaves to step 2: the echo lines to compare, and its server, still running.
pub struct UnixEcho {
    /// One line per echoed reading.
    pub lines: Vec<String>,
    pub server: ServerChild,
    pub path: PathBuf,
    /// The type the echo went through, as the compiler names it (std's UnixStream).
    pub stream_type: &'static str,
}

pub fn run(dir: &Path) -> Result<UnixEcho> {
    let path = dir.join("echo.sock");
    let mut server = ServerChild::spawn(&["serve", "--unix", &path.to_string_lossy()])?;
    server.wait_for_line_starting("listening on unix:")?;
    let meta = fs::symlink_metadata(&path).map_err(|e| format!("stat socket file: {e}"))?;
    heading(
        1,
        "Stream echo over AF_UNIX: `uds-demo serve --unix DIR/echo.sock`",
    );
    println!(
        "   server pid {}; its socket file: a socket: {}, mode {:04o}, size {}",
        server.pid(),
        meta.file_type().is_socket(),
        meta.permissions().mode() & 0o777,
        meta.len()
    );
    println!("   (size 0: the bytes go through the kernel, never the file)");
    // socket(2) + connect(2): std's connect makes both calls.
    let mut stream =
        UnixStream::connect(&path).map_err(|e| format!("connect {}: {e}", path.display()))?;
    set_timeouts(&stream, REPLY_TIMEOUT, None)?; // a server that stops answering cannot hang us
    let lines = echo_readings(&mut stream)?;
    for line in &lines {
        println!("   {line}");
    }
    Ok(UnixEcho {
        lines,
        server,
        path,
        stream_type: std::any::type_name_of_val(&stream),
    })
}

/// Sends each sensor reading, returns one line per echo. Generic over the stream: steps 1
/// and 2 run this very function over a `UnixStream` and a `TcpStream`.
pub fn echo_readings<S: Read + Write>(stream: &mut S) -> Result<Vec<String>> {
    let mut lines = Vec::new();
    for reading in sensor_readings() {
        // write(2): the reading, as one frame (a stream keeps no boundaries: step 3)
        send_message(stream, reading.as_bytes(), REPLY_TIMEOUT)
            .map_err(|e| format!("echo: {e}"))?;
        // read(2): the frame the server wrote back
        let echo = read_echo(stream, REPLY_TIMEOUT).map_err(|e| format!("echo: {e}"))?;
        lines.push(format!(
            "sent {reading:?} ({} bytes) -> {:?} ({} bytes) back",
            reading.len(),
            String::from_utf8_lossy(&echo),
            echo.len()
        ));
    }
    Ok(lines)
}
