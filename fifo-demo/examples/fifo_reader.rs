//! The reader of the lecture's "FIFOs: Named Pipes" ("Using a FIFO"): makes
//! the FIFO, prints every line writers send, and removes the FIFO when the
//! last writer leaves, or at once on Ctrl-C, `kill PID`, SIGHUP or SIGQUIT.
//! Usage: `fifo_reader [PATH]`, default `$TMPDIR/sensor_pipe`. Then writers:
//! ```text
//! terminal 1:  cargo run -p fifo-demo --example fifo_reader
//! terminal 2:  cargo run -p fifo-demo --example fifo_writer
//! terminal 3:  cargo run -p fifo-demo --example fifo_writer   # within 4 s
//! ```
//! You will see every line whole (`reader: temperature: 42 (writer 5120, line
//! 1 of 5)`), then end-of-file and `reader: removed /tmp/sensor_pipe`.
//! To use it alone: `cargo new fifo_reader`, put this file in src/main.rs, add
//! these lines under [dependencies], `cargo run`; then fifo_writer's project:
//! ```toml
//! [dependencies]
//! libc = "0.2"
//! nix = { version = "0.32", features = ["fs", "signal"] }
//! signal-hook = "0.4"
//! ```

use std::error::Error;
use std::ffi::CString;
use std::fs::{self, File};
use std::io::{BufRead, BufReader, Read, Write, stdout};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use nix::errno::Errno;
use nix::sys::{signal::SigSet, stat::Mode};
use nix::unistd::mkfifo;
use signal_hook::consts::{SIGHUP, SIGINT, SIGPIPE, SIGQUIT, SIGTERM};
use signal_hook::low_level;

const MAX_LINE: u64 = 4096; // PIPE_BUF: a longer line is not one atomic write()

fn main() -> Result<(), Box<dyn Error>> {
    let path = std::env::args_os()
        .nth(1)
        .map_or_else(|| std::env::temp_dir().join("sensor_pipe"), PathBuf::from);
    SigSet::empty().thread_set_mask()?; // an inherited block would stop handlers
    // Mode 0600 (a umask only clears bits); EEXIST: we adopt no one's FIFO.
    mkfifo(&path, Mode::S_IRUSR | Mode::S_IWUSR).map_err(|e| match e {
        Errno::EEXIST => format!("mkfifo {}: {e} (if no reader runs: rm it)", path.display()),
        _ => format!("mkfifo {}: {e}", path.display()),
    })?;
    let result = remove_on_signal(&path).and_then(|()| print_lines(&path));
    fs::remove_file(&path).map_err(|e| format!("unlink {}: {e}", path.display()))?;
    result?;
    Ok(say(format_args!("removed {}", path.display()))?)
}

/// Unlinks, then dies by the default action: a blocked call never sees a flag.
fn remove_on_signal(path: &Path) -> Result<(), Box<dyn Error>> {
    for sig in [SIGHUP, SIGINT, SIGPIPE, SIGQUIT, SIGTERM] {
        let c_path = CString::new(path.as_os_str().as_bytes())?; // no allocating in a handler
        let handler = move || {
            // SAFETY: c_path is a valid C string owned by the handler.
            unsafe { libc::unlink(c_path.as_ptr()) };
            let _ = low_level::emulate_default_handler(sig);
        };
        // SAFETY: the handler calls only async-signal-safe functions (unlink,
        // emulate_default_handler), allocates nothing and cannot panic.
        unsafe { low_level::register(sig, handler) }
            .map_err(|e| format!("sigaction {sig}: {e}"))?;
    }
    Ok(())
}

/// Prints every line until the last writer closes the FIFO.
fn print_lines(path: &Path) -> Result<(), Box<dyn Error>> {
    say(format_args!("waiting for a writer on {}", path.display()))?;
    // open(O_RDONLY) on a FIFO blocks until some process opens it to write.
    let fifo = File::open(path).map_err(|e| format!("open {}: {e}", path.display()))?;
    say(format_args!("a writer opened the FIFO"))?;
    // read() returns 0 (end-of-file) only once no process holds the FIFO open
    // for writing. A writer picks a line's length: we store MAX_LINE at most.
    let (mut fifo, mut line, mut count) = (BufReader::new(fifo), Vec::new(), 0);
    while (&mut fifo)
        .take(MAX_LINE + 1)
        .read_until(b'\n', &mut line)?
        > 0
    {
        if line.pop_if(|b| *b == b'\n').is_none() && line.len() as u64 > MAX_LINE {
            fifo.skip_until(b'\n')?; // the rest of it, never stored
            say(format_args!("skipped a line over {MAX_LINE} bytes"))?;
        } else {
            say(format_args!("{}", String::from_utf8_lossy(&line)))?;
            count += 1;
        }
        line.clear();
    }
    let eof = "the last writer closed the FIFO";
    say(format_args!("end-of-file after {count} lines: {eof}"))?;
    Ok(())
}

/// One line on stdout: a failed write (`> /dev/full`) is an error, not a panic.
fn say(line: std::fmt::Arguments) -> Result<(), String> {
    writeln!(stdout(), "reader: {line}").map_err(|e| format!("write stdout: {e}"))
}
