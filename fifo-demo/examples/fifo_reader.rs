//! The reader of the lecture's "FIFOs: Named Pipes" ("Using a FIFO"): makes
//! the FIFO, prints every line writers send, and removes the FIFO when the
//! last writer leaves, or at once on Ctrl-C or SIGTERM (`kill PID`).
//!
//! Usage: `fifo_reader [PATH]` (default `$TMPDIR/sensor_pipe`, i.e. the
//! lecture's `/tmp/sensor_pipe` when TMPDIR is unset). Run it, then writers:
//! ```text
//! terminal 1:  cargo run -p fifo-demo --example fifo_reader
//! terminal 2:  cargo run -p fifo-demo --example fifo_writer
//! terminal 3:  cargo run -p fifo-demo --example fifo_writer   # within 4 s
//! ```
//!
//! You will see (process ids differ) every writer's lines, whole:
//! ```text
//! reader: waiting for a writer on /tmp/sensor_pipe
//! reader: a writer opened the FIFO
//! reader: temperature: 42 (writer 5120, line 1 of 5)
//! reader: temperature: 42 (writer 5127, line 1 of 5)   ...
//! reader: end-of-file after 10 lines: the last writer closed the FIFO
//! reader: removed /tmp/sensor_pipe
//! ```
//!
//! To use it alone: `cargo new fifo_reader`, put this file in src/main.rs, add
//! these lines under [dependencies] in Cargo.toml, `cargo run` in terminal 1,
//! then `cargo run` in fifo_writer's own project in terminals 2 and 3:
//! ```toml
//! [dependencies]
//! libc = "0.2"
//! nix = { version = "0.32", features = ["fs"] }
//! signal-hook = "0.4"
//! ```

use std::error::Error;
use std::ffi::CString;
use std::fs::{self, File};
use std::io::{BufRead, BufReader};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use nix::sys::stat::Mode;
use nix::unistd::mkfifo;
use signal_hook::consts::{SIGINT, SIGTERM};
use signal_hook::low_level;

fn main() -> Result<(), Box<dyn Error>> {
    let path = std::env::args_os()
        .nth(1)
        .map_or_else(|| std::env::temp_dir().join("sensor_pipe"), PathBuf::from);
    // Mode 0600: only our user may open it (the umask can only clear bits).
    // EEXIST if the name is taken: we never adopt a FIFO someone else made.
    mkfifo(&path, Mode::S_IRUSR | Mode::S_IWUSR)
        .map_err(|e| format!("mkfifo {}: {e}", path.display()))?;
    let result = remove_on_signal(&path).and_then(|()| print_lines(&path));
    fs::remove_file(&path).map_err(|e| format!("unlink {}: {e}", path.display()))?;
    result?;
    println!("reader: removed {}", path.display());
    Ok(())
}

/// Why not a stop flag: with SA_RESTART (signal-hook's) and std's EINTR
/// retries, a blocked open() or read() sees a flag only when it returns by
/// itself. So the handler cleans up itself (unlink(2) is async-signal-safe)
/// and ends the process by the signal's default action wherever main is
/// blocked: the shell sees "killed by SIGINT", as after any Ctrl-C.
fn remove_on_signal(path: &Path) -> Result<(), Box<dyn Error>> {
    for sig in [SIGINT, SIGTERM] {
        // Built now: a signal handler must not allocate.
        let c_path = CString::new(path.as_os_str().as_bytes())?;
        let handler = move || {
            // SAFETY: c_path is a valid C string owned by the handler.
            unsafe { libc::unlink(c_path.as_ptr()) };
            let _ = low_level::emulate_default_handler(sig);
        };
        // SAFETY: the handler calls only async-signal-safe functions (unlink
        // and emulate_default_handler, documented as such), allocates
        // nothing and cannot panic.
        unsafe { low_level::register(sig, handler) }
            .map_err(|e| format!("sigaction {sig}: {e}"))?;
    }
    Ok(())
}

/// Prints every line until the last writer closes the FIFO.
fn print_lines(path: &Path) -> Result<(), Box<dyn Error>> {
    println!("reader: waiting for a writer on {}", path.display());
    // open(O_RDONLY) on a FIFO blocks until some process opens it to write.
    let fifo = File::open(path).map_err(|e| format!("open {}: {e}", path.display()))?;
    println!("reader: a writer opened the FIFO");
    // read() returns 0 (end-of-file) only once no process holds the FIFO
    // open for writing: a writer leaving while another stays ends nothing.
    let mut count = 0;
    for line in BufReader::new(fifo).split(b'\n') {
        let line = line.map_err(|e| format!("read {}: {e}", path.display()))?;
        println!("reader: {}", String::from_utf8_lossy(&line));
        count += 1;
    }
    println!("reader: end-of-file after {count} lines: the last writer closed the FIFO");
    Ok(())
}
