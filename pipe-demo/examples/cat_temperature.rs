//! Sends "temperature: 42" through `cat` and reads it back: the lecture's
//! `Command::new("cat")` snippet, with cat's stdin and stdout both piped.
//!
//! Lecture section: "Pipes: The Simplest Conversation".
//!
//! Run it:
//!
//! ```text
//! cargo run -p pipe-demo --example cat_temperature
//! ```
//!
//! You will see:
//!
//! ```text
//! sent to cat:   temperature: 42
//! cat sent back: temperature: 42
//! cat ended with exit status: 0
//! ```
//!
//! See also: `pipe_fork` (the same kind of pipe made by hand) and `pipeline`.
//!
//! To use it alone: `cargo new cat_temperature`, put this file in src/main.rs,
//! add these lines under [dependencies] in Cargo.toml, then `cargo run`:
//! ```toml
//! [dependencies]
//! libc = "0.2"
//! ```

use std::error::Error;
use std::io::{Read, Write};
use std::process::{Command, Stdio};

fn main() -> Result<(), Box<dyn Error>> {
    // SAFETY: SIG_DFL installs no handler, so nothing runs asynchronously.
    // Rust starts with SIGPIPE ignored: a closed stdout (`| head -1`) would
    // be an error; by default it ends us quietly, like any C program.
    unsafe { libc::signal(libc::SIGPIPE, libc::SIG_DFL) };
    // Started with SIGCHLD ignored (as a careless parent may leave it), the
    // kernel reaps cat by itself and wait() fails with ECHILD: reset it.
    // SAFETY: as above.
    unsafe { libc::signal(libc::SIGCHLD, libc::SIG_DFL) };
    let mut out = std::io::stdout();
    // Stdio::piped() asks for two pipes: ours -> cat's stdin, and cat's
    // stdout -> ours. cat copies stdin to stdout until read() returns 0
    // (end-of-file), then exits.
    let mut cat = Command::new("cat")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .map_err(|e| format!("spawn cat: {e}"))?;

    let reading = "temperature: 42\n";
    let mut to_cat = cat.stdin.take().ok_or("spawn cat: stdin not piped")?;
    // 16 bytes fit in the pipe buffer (64 KiB on Linux), so writing all of it
    // before reading anything is safe. Send more than a buffer-full this way
    // and both sides block: cat on its full stdout, we on its full stdin.
    to_cat
        .write_all(reading.as_bytes())
        .map_err(|e| format!("write to cat's stdin: {e}"))?;
    write!(out, "sent to cat:   {reading}").map_err(|e| format!("write stdout: {e}"))?;
    // Fix to the lecture's snippet: it keeps cat's stdin open (`as_mut()`), so
    // cat never sees end-of-file, never exits, and whoever waits for it (our
    // read below, or wait()) waits forever. Dropping the write end closes it.
    drop(to_cat);

    let mut echoed = String::new();
    cat.stdout
        .take()
        .ok_or("spawn cat: stdout not piped")?
        .read_to_string(&mut echoed)
        .map_err(|e| format!("read from cat's stdout: {e}"))?;
    write!(out, "cat sent back: {echoed}").map_err(|e| format!("write stdout: {e}"))?;

    let status = cat.wait().map_err(|e| format!("wait for cat: {e}"))?;
    writeln!(out, "cat ended with {status}").map_err(|e| format!("write stdout: {e}"))?;
    Ok(())
}
