//! A writing end of a FIFO: opens the FIFO that `fifo_reader` made and sends
//! a few readings, one line each, one line per second. Several writers may
//! run at once; their lines never mix.
//!
//! Lecture section: "FIFOs: Named Pipes" ("Using a FIFO", the writer).
//!
//! Usage: `fifo_writer [PATH [LINES [PAUSE_MS]]]` (defaults: the reader's
//! `$TMPDIR/sensor_pipe`, 5 lines, 1000 ms between lines). Start the
//! reader first; start each writer in its own terminal:
//!
//! ```text
//! terminal 1:  cargo run -p fifo-demo --example fifo_reader
//! terminal 2:  cargo run -p fifo-demo --example fifo_writer
//! terminal 3:  cargo run -p fifo-demo --example fifo_writer   # within 4 s
//! ```
//!
//! You will see `writer 5120: connected to /tmp/sensor_pipe`, then
//! `writer 5120: wrote 5 lines, closing`; the lines show up in terminal 1.
//! Ctrl-C simply ends a writer: it created nothing, so nothing is left. If
//! the reader leaves first, the next write ends the writer quietly (SIGPIPE).
//!
//! To use it alone: `cargo new fifo_writer`, put this file in src/main.rs, add
//! these lines under [dependencies] in Cargo.toml, then `cargo run` in terminals
//! 2 and 3, once fifo_reader's own project runs `cargo run` in terminal 1:
//! ```toml
//! [dependencies]
//! libc = "0.2"
//! ```

use std::error::Error;
use std::ffi::OsString;
use std::fs::{self, OpenOptions};
use std::io::{Write, stdout};
use std::os::unix::fs::FileTypeExt;
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

fn main() -> Result<(), Box<dyn Error>> {
    // SAFETY: SIG_DFL installs no handler. Rust ignores SIGPIPE; by default a
    // write nobody reads (stdout after `| head -1`, the FIFO once the reader
    // left) ends the writer quietly, as it ends a C program.
    unsafe { libc::signal(libc::SIGPIPE, libc::SIG_DFL) };
    let mut args = std::env::args_os().skip(1);
    let path = args
        .next()
        .map_or_else(|| std::env::temp_dir().join("sensor_pipe"), PathBuf::from);
    let lines: u32 = number(args.next(), 5, "LINES")?;
    let pause = Duration::from_millis(number(args.next(), 1000, "PAUSE_MS")?);

    // Never create the name (the reader owns it), and refuse a regular file:
    // writing into one would "work" and nobody would read it.
    let meta = fs::metadata(&path)
        .map_err(|e| format!("stat {}: {e} (is fifo_reader running?)", path.display()))?;
    if !meta.file_type().is_fifo() {
        return Err(format!("{} is not a FIFO", path.display()).into());
    }
    // open(O_WRONLY) on a FIFO blocks until some process opens it to read.
    let mut fifo = OpenOptions::new()
        .write(true)
        .open(&path)
        .map_err(|e| format!("open {}: {e}", path.display()))?;
    let me = std::process::id();
    let mut out = stdout();
    writeln!(out, "writer {me}: connected to {}", path.display())
        .map_err(|e| format!("write stdout: {e}"))?;

    for i in 1..=lines {
        if i > 1 {
            std::thread::sleep(pause); // a sensor's sampling period
        }
        let line = format!("temperature: 42 (writer {me}, line {i} of {lines})\n");
        // One write() of at most PIPE_BUF bytes (4096 on Linux) to a pipe or
        // FIFO is atomic: its bytes land together, never mixed with another
        // writer's. So the line is formatted first and sent in one call;
        // `writeln!(fifo, ...)` would issue a write() per piece, and two
        // writers' lines could interleave mid-line.
        if line.len() > libc::PIPE_BUF {
            return Err(format!("line of {} bytes exceeds PIPE_BUF", line.len()).into());
        }
        fifo.write_all(line.as_bytes())
            .map_err(|e| format!("write {}: {e}", path.display()))?;
    }
    writeln!(out, "writer {me}: wrote {lines} lines, closing")
        .map_err(|e| format!("write stdout: {e}").into())
}

/// The optional argument `arg` as a number, or `default` when it is absent.
fn number<T: FromStr>(arg: Option<OsString>, default: T, name: &str) -> Result<T, Box<dyn Error>> {
    match arg {
        None => Ok(default),
        Some(a) => a
            .to_str()
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| format!("{name}: not a number: {a:?}").into()),
    }
}
