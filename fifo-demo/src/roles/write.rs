//! `fifo-demo write PATH MSG`: open(O_WRONLY) an existing FIFO, which blocks until a reader
//! opens it, then write numbered lines, one write() per line.

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::os::fd::AsFd;
use std::path::Path;
use std::time::{Duration, Instant};

use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use nix::unistd::{PathconfVar, fpathconf};
use plumbing::Result;
use plumbing::tour::duration;

use super::lines::Line;
use super::{check_is_fifo, opened};

pub fn run(path: &Path, line: &Line, count: u64, interval_ms: u64, indent: &str) -> Result {
    check_is_fifo(path)?; // a regular file would open and "work": refuse it first
    let start = Instant::now();
    // Blocks until some process opens the FIFO for reading. Ctrl-C still ends it (default action).
    let mut fifo = opened(
        OpenOptions::new().write(true).open(path),
        "open O_WRONLY",
        path,
    )?;
    let waited = start.elapsed();
    let (mut total, mut largest) = (0, 0);
    for seq in 1..=count {
        if seq > 1 && interval_ms > 0 {
            // Not sleep(): this wakes at once when the reader leaves.
            pause(&fifo, Duration::from_millis(interval_ms), path)?;
        }
        let bytes = line.build(seq);
        // One write() call: a blocking pipe write returns only when every byte is in.
        fifo.write_all(&bytes).map_err(|e| write_failed(e, path))?;
        (total, largest) = (total + bytes.len(), largest.max(bytes.len()));
    }
    let pid = std::process::id();
    let calls = if count == 1 { "write()" } else { "write()s" };
    println!(
        "{indent}writer {pid} '{}': open waited {}",
        line.msg,
        duration(waited)
    );
    println!("{indent}writer {pid}: {total} bytes in {count} {calls} of up to {largest} bytes");
    report_atomic(&fifo, path, largest, indent)
}

/// Whether writes of `largest` bytes were atomic: at most PIPE_BUF (fpathconf) bytes are.
fn report_atomic(fifo: &File, path: &Path, largest: usize, indent: &str) -> Result {
    let pipe_buf = fpathconf(fifo.as_fd(), PathconfVar::PIPE_BUF)
        .map_err(|e| format!("fpathconf {}: {e}", path.display()))?
        .and_then(|n| usize::try_from(n).ok())
        .unwrap_or(usize::MAX);
    let pid = std::process::id();
    if largest <= pipe_buf {
        println!("{indent}writer {pid}: {largest} <= PIPE_BUF ({pipe_buf}): each write() atomic");
    } else {
        println!("{indent}writer {pid}: {largest} > PIPE_BUF ({pipe_buf}): writes may be split");
    }
    Ok(())
}

/// A failed write, with a hint when the reader has gone (EPIPE).
fn write_failed(e: io::Error, path: &Path) -> String {
    let hint = match e.kind() {
        io::ErrorKind::BrokenPipe => "; the reader has gone",
        _ => "",
    };
    format!("write {}: {e}{hint}", path.display())
}

/// The pause between lines. Not sleep(): poll() also wakes on POLLERR, which the write end
/// gets when the last reader closes, so a slow writer notices at once (the next write fails).
fn pause(fifo: &File, pause: Duration, path: &Path) -> Result {
    let mut fds = [PollFd::new(fifo.as_fd(), PollFlags::empty())];
    poll(
        &mut fds,
        PollTimeout::try_from(pause).unwrap_or(PollTimeout::MAX),
    )
    .map_err(|e| format!("poll {}: {e}", path.display()))?;
    Ok(())
}
