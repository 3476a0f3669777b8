//! `fifo-demo read PATH`: open(O_RDONLY) an existing FIFO, which blocks until a writer opens
//! it, then read, print and check lines until EOF: no process has it open for writing any more.
//!
//! By hand, start it again for the next writer; any program can write
//! (`echo "temperature: 17" > /tmp/sensor_pipe`). A FIFO left by a killed run is harmless: it
//! keeps no data once every end is closed, so reuse it or `rm` it.

use std::fs::File;
use std::io::{self, Read};
use std::os::fd::{AsFd, AsRawFd};
use std::path::Path;
use std::thread;
use std::time::{Duration, Instant};

use nix::fcntl::{FcntlArg, fcntl};
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use plumbing::Result;
use plumbing::tour::duration;

use super::lines::Tally;
use super::{check_is_fifo, opened};
use crate::tour::describe::file_type;

pub fn run(path: &Path, delay_ms: u64, show: u64, indent: &str) -> Result {
    let me = format!("{indent}reader {}", std::process::id());
    check_is_fifo(path)?; // a regular file would open and "work": refuse it first
    println!("{me}: open(O_RDONLY) blocks until a writer opens the FIFO");
    let start = Instant::now();
    // Blocks in the kernel until a writer arrives. Ctrl-C still ends it (default action).
    let mut fifo = opened(File::open(path), "open O_RDONLY", path)?;
    println!(
        "{me}: open returned after {}: a writer opened its end",
        duration(start.elapsed())
    );
    if delay_ms > 0 {
        // A slow reader (--delay-ms): the writers fill the pipe meanwhile.
        thread::sleep(Duration::from_millis(delay_ms));
    }
    report_buffer(&fifo, path, &me)?;

    let mut tally = Tally::new(show);
    let mut buf = vec![0; 4096]; // small reads let blocked writers take turns
    loop {
        let n = fifo
            .read(&mut buf)
            .map_err(|e| format!("read {}: {e}", path.display()))?;
        if n == 0 {
            break; // EOF: no process has the FIFO open for writing any more
        }
        tally.feed(&buf[..n], &me);
    }
    tally.finish(&me);
    Ok(())
}
/// Waits for data (or for the last writer to leave), then shows that the file stays 0 bytes
/// while the data sits in the kernel's pipe buffer.
fn report_buffer(fifo: &File, path: &Path, me: &str) -> Result {
    let mut fds = [PollFd::new(fifo.as_fd(), PollFlags::POLLIN)];
    poll(&mut fds, PollTimeout::NONE).map_err(|e| format!("poll {}: {e}", path.display()))?;
    let meta = fifo
        .metadata()
        .map_err(|e| format!("fstat {}: {e}", path.display()))?;
    let mut waiting: libc::c_int = 0;
    // SAFETY: FIONREAD stores one c_int through the pointer, which points to a live c_int;
    // the descriptor is open for as long as `fifo` lives. Other processes cannot affect this.
    let rc = unsafe { libc::ioctl(fifo.as_raw_fd(), libc::FIONREAD, &mut waiting) };
    if rc == -1 {
        return Err(format!(
            "ioctl FIONREAD {}: {}",
            path.display(),
            io::Error::last_os_error()
        )
        .into());
    }
    let capacity =
        fcntl(fifo, FcntlArg::F_GETPIPE_SZ).map_err(|e| format!("fcntl F_GETPIPE_SZ: {e}"))?;
    println!(
        "{me}: fstat says type {}, size {} bytes",
        file_type(&meta),
        meta.len()
    );
    println!("{me}: FIONREAD: {waiting} of {capacity} bytes wait in the kernel buffer");
    Ok(())
}
