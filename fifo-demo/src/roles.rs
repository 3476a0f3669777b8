//! The two roles, run by the tour or by hand: `write` sends numbered lines into an existing
//! FIFO, one write() per line; `read` prints and checks them until EOF.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::os::fd::{AsFd, AsRawFd};
use std::os::unix::fs::FileTypeExt;
use std::path::Path;
use std::thread;
use std::time::{Duration, Instant};

use nix::fcntl::{FcntlArg, fcntl};
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use nix::unistd::{PathconfVar, fpathconf};
use plumbing::Result;
use plumbing::child::die_with_parent;

use crate::describe::{file_type, millis_f64};
use crate::lines::{Line, Tally};

// ---------------------------------------------------------------------------------------------
// What both roles share.

/// A role the tour started (it passes its pid) dies with the tour, even when the tour is
/// killed by SIGKILL. A role run by hand (no `--parent-pid`) is left alone.
pub fn die_with_tour(parent_pid: Option<u32>) -> Result {
    match parent_pid {
        Some(parent) => die_with_parent(i32::try_from(parent)?),
        None => Ok(()),
    }
}

/// The indentation of a role's lines: three spaces inside the tour's output (the tour passes
/// its pid), none when run by hand.
pub fn indent(parent_pid: Option<u32>) -> &'static str {
    if parent_pid.is_some() { "   " } else { "" }
}

/// Refuses, before open(), a path that is missing or is not a FIFO (opening a regular file
/// would "work" and read the disk).
fn check_is_fifo(path: &Path) -> Result {
    let shown = path.display();
    let meta = match fs::metadata(path) {
        Ok(meta) => meta,
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            let dir = path.parent().filter(|dir| !dir.as_os_str().is_empty());
            return Err(match dir {
                Some(dir) if !dir.exists() => {
                    format!(
                        "stat {shown}: {e}; the directory {} does not exist",
                        dir.display()
                    )
                }
                _ => format!("stat {shown}: {e}; make the FIFO first: mkfifo -m 600 {shown}"),
            }
            .into());
        }
        Err(e) => return Err(format!("stat {shown}: {e}").into()),
    };
    if !meta.file_type().is_fifo() {
        let kind = file_type(&meta);
        return Err(
            format!("{shown} is a {kind}, not a FIFO; make one: mkfifo -m 600 PATH").into(),
        );
    }
    Ok(())
}

/// Checks the opened file again: the path may have been replaced between stat() and open().
fn opened(result: io::Result<File>, call: &str, path: &Path) -> Result<File> {
    let file = result.map_err(|e| {
        let hint = match e.kind() {
            io::ErrorKind::PermissionDenied => "; its mode does not let this user open it (ls -l)",
            _ => "",
        };
        format!("{call} {}: {e}{hint}", path.display())
    })?;
    let meta = file
        .metadata()
        .map_err(|e| format!("fstat {}: {e}", path.display()))?;
    if !meta.file_type().is_fifo() {
        return Err(format!("{} was replaced by a {}", path.display(), file_type(&meta)).into());
    }
    Ok(file)
}

// ---------------------------------------------------------------------------------------------
// `make`: mkfifo, then exit; the name stays.

pub fn make_role(path: &Path, indent: &str) -> Result {
    fifo_demo::make_fifo(path)?;
    println!(
        "{indent}maker {}: made the FIFO, mode 0600; exiting",
        std::process::id()
    );
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// `write`: one write() per line.

pub fn write_role(path: &Path, line: &Line, count: u64, interval_ms: u64, indent: &str) -> Result {
    let me = format!("{indent}writer {} '{}'", std::process::id(), line.msg);
    check_is_fifo(path)?;
    let start = Instant::now();
    // Blocks until some process opens the FIFO for reading. Ctrl-C still ends it (default action).
    let mut fifo = opened(
        OpenOptions::new().write(true).open(path),
        "open O_WRONLY",
        path,
    )?;
    let waited = start.elapsed();
    let pipe_buf = fpathconf(fifo.as_fd(), PathconfVar::PIPE_BUF)
        .map_err(|e| format!("fpathconf {}: {e}", path.display()))?
        .and_then(|n| usize::try_from(n).ok())
        .unwrap_or(usize::MAX);
    let (mut total, mut largest) = (0, 0);
    for seq in 1..=count {
        if seq > 1 && interval_ms > 0 {
            // Not sleep(): poll() also wakes on POLLERR, which the write end gets when the last
            // reader closes, so a slow writer notices at once (the write below then fails).
            let mut fds = [PollFd::new(fifo.as_fd(), PollFlags::empty())];
            let pause = Duration::from_millis(interval_ms);
            poll(
                &mut fds,
                PollTimeout::try_from(pause).unwrap_or(PollTimeout::MAX),
            )
            .map_err(|e| format!("poll {}: {e}", path.display()))?;
        }
        let bytes = line.build(seq);
        (total, largest) = (total + bytes.len(), largest.max(bytes.len()));
        // One write() call: a blocking pipe write returns only when every byte is in.
        fifo.write_all(&bytes).map_err(|e| {
            let hint = match e.kind() {
                io::ErrorKind::BrokenPipe => "; the reader has gone",
                _ => "",
            };
            format!("write {}: {e}{hint}", path.display())
        })?;
    }
    let pid = std::process::id();
    let calls = if count == 1 { "write()" } else { "write()s" };
    println!("{me}: open waited {:.1} ms", millis_f64(waited));
    println!("{indent}writer {pid}: {total} bytes in {count} {calls} of up to {largest} bytes");
    if largest <= pipe_buf {
        println!("{indent}writer {pid}: {largest} <= PIPE_BUF ({pipe_buf}): each write() atomic");
    } else {
        println!("{indent}writer {pid}: {largest} > PIPE_BUF ({pipe_buf}): writes may be split");
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// `read`: prints and checks lines until EOF.

pub fn read_role(path: &Path, delay_ms: u64, show: u64, indent: &str) -> Result {
    let me = format!("{indent}reader {}", std::process::id());
    check_is_fifo(path)?;
    println!("{me}: open(O_RDONLY) blocks until a writer opens the FIFO");
    let start = Instant::now();
    // Blocks in the kernel until a writer arrives. Ctrl-C still ends it (default action).
    let mut fifo = opened(File::open(path), "open O_RDONLY", path)?;
    println!(
        "{me}: open returned after {:.1} ms: a writer opened its end",
        millis_f64(start.elapsed())
    );
    if delay_ms > 0 {
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
