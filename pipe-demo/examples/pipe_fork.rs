//! A pipe made by hand: `pipe()`, then `fork()`. The parent writes three
//! readings into the pipe; the child reads lines until end-of-file.
//!
//! Lecture section: "Why Pipes Still Exist" ("Call pipe(), call fork(), and
//! you have a working channel").
//!
//! Run it:
//! ```text
//! cargo run -p pipe-demo --example pipe_fork
//! ```
//!
//! You will see (process ids differ):
//! ```text
//! child 4101 read: temperature: 42
//! child 4101 read: temperature: 43
//! child 4101 read: temperature: 41
//! child 4101: end-of-file after 3 lines
//! parent 4100: wrote 3 lines; child 4101 exited with status 0
//! ```
//!
//! To use it alone: `cargo new pipe_fork`, put this file in src/main.rs, add
//! these lines under [dependencies] in Cargo.toml, then `cargo run` (nix's
//! "signal" feature brings "process", for fork and waitpid, with it):
//! ```toml
//! [dependencies]
//! nix = { version = "0.32", features = ["signal"] }
//! ```

use std::error::Error;
use std::fs::File;
use std::io::{BufRead, BufReader, Write, stderr, stdout};
use std::os::fd::OwnedFd;

use nix::sys::signal::{SigHandler, Signal, signal};
use nix::sys::wait::{WaitStatus, waitpid};
use nix::unistd::{ForkResult, fork, getpid, pipe};

fn main() -> Result<(), Box<dyn Error>> {
    for sig in [Signal::SIGPIPE, Signal::SIGCHLD] {
        // SAFETY: SIG_DFL installs no handler. Rust ignores SIGPIPE; by default
        // a write to a pipe nobody reads (stdout after `| head -1`, the pipe
        // once the child died) ends us quietly, like C. SIGCHLD inherited as
        // ignored would let the kernel reap the child: waitpid fails (ECHILD).
        unsafe { signal(sig, SigHandler::SigDfl) }?;
    }
    let (read_end, write_end) = pipe().map_err(|e| format!("pipe: {e}"))?;

    // SAFETY: fork() copies only the calling thread. This program has one
    // thread, so the child inherits no lock (allocator, stdout) held by a
    // thread it lacks: it may allocate and print like any program.
    match unsafe { fork() }.map_err(|e| format!("fork: {e}"))? {
        ForkResult::Child => {
            // read() returns 0 (end-of-file) only once every write end is
            // closed, the child's inherited copy included.
            drop(write_end);
            if let Err(e) = child_reads(read_end) {
                let _ = writeln!(stderr(), "child {}: {e}", getpid());
                std::process::exit(1);
            }
            // Exit here: returning from main would run the parent's code.
            std::process::exit(0);
        }
        ForkResult::Parent { child } => {
            // The parent never reads: with its read end closed, a write once
            // the child died raises SIGPIPE instead of blocking forever.
            drop(read_end);
            let mut pipe = File::from(write_end);
            for t in [42, 43, 41] {
                let line = format!("temperature: {t}\n");
                pipe.write_all(line.as_bytes())
                    .map_err(|e| format!("write to pipe: {e}"))?;
            }
            drop(pipe); // the last write end: the child now sees end-of-file

            let how = match waitpid(child, None).map_err(|e| format!("waitpid {child}: {e}"))? {
                WaitStatus::Exited(_, code) => format!("exited with status {code}"),
                WaitStatus::Signaled(_, sig, _) => format!("was killed by {sig}"),
                other => format!("changed state: {other:?}"),
            };
            let me = getpid();
            writeln!(stdout(), "parent {me}: wrote 3 lines; child {child} {how}")
                .map_err(|e| format!("write stdout: {e}"))?;
        }
    }
    Ok(())
}

/// Prints every line that arrives, until end-of-file.
fn child_reads(read_end: OwnedFd) -> Result<(), Box<dyn Error>> {
    let (me, mut out, mut count) = (getpid(), stdout(), 0);
    for line in BufReader::new(File::from(read_end)).lines() {
        let line = line.map_err(|e| format!("read from pipe: {e}"))?;
        writeln!(out, "child {me} read: {line}").map_err(|e| format!("write stdout: {e}"))?;
        count += 1;
    }
    writeln!(out, "child {me}: end-of-file after {count} lines")
        .map_err(|e| format!("write stdout: {e}").into())
}
