//! Step 3 of the pipe tour: the pipe is a bounded buffer, and the kernel makes each side wait
//! for the other. Measures the capacity, catches a writer and a reader asleep in the kernel,
//! and resizes the buffer with F_SETPIPE_SZ.

use std::io::{self, ErrorKind, PipeWriter, Read, Write};
use std::os::fd::AsFd;
use std::thread;
use std::time::{Duration, Instant};

use nix::fcntl::{FcntlArg, OFlag, fcntl};
use nix::sys::wait::WaitPidFlag;
use plumbing::child::{self, Child, describe};
use plumbing::{Result, procfs, tour};

/// How long the deliberately slow side waits before it drains or feeds the pipe.
const HOLD: Duration = Duration::from_millis(200);
/// How long a child may take to block on the pipe.
const BLOCK_LIMIT: Duration = Duration::from_secs(2);
/// How long a child may take to finish once the other side has drained or fed the pipe.
const CHILD_LIMIT: Duration = Duration::from_secs(10);
/// The most bytes an unprivileged process may ask for with F_SETPIPE_SZ (a /proc/sys knob).
const PIPE_MAX_SIZE: &str = "fs/pipe-max-size";

/// Step 3: the pipe is a bounded buffer, and the kernel makes each side wait for the other.
pub fn run(pipe_size: Option<usize>) -> Result {
    println!("\nStep 3. The bounded buffer");
    let capacity = measure_capacity()?;
    blocked_writer(capacity)?;
    blocked_reader()?;
    let requested = match pipe_size {
        Some(size) => size,
        None => pipe_max_size()?,
    };
    resize(requested)
}

fn measure_capacity() -> Result<usize> {
    let (_reader, writer) = io::pipe().map_err(|e| format!("pipe: {e}"))?;
    capacity("   3a. a new pipe", &writer)
}

/// Fills the pipe behind `writer` until the kernel says EAGAIN, and prints what went in
/// beside what F_GETPIPE_SZ reports: the same measurement for a new pipe (3a) and a resized
/// one (3d). Returns the bytes that went in.
fn capacity(what: &str, writer: &PipeWriter) -> Result<usize> {
    let reported = pipe_size(writer)?;
    let filled = fill_until_full(writer)?;
    println!("{what}: F_GETPIPE_SZ says {reported} bytes;");
    println!("       {filled} bytes went in before write() failed with EAGAIN");
    println!("       (the write end is non-blocking: \"full\" is an error, not a wait)");
    Ok(filled)
}

/// Writes into a non-blocking pipe until the kernel refuses with EAGAIN; returns the bytes
/// written. Nobody reads, so this is exactly what the buffer holds.
fn fill_until_full(writer: &PipeWriter) -> Result<usize> {
    fcntl(writer, FcntlArg::F_SETFL(OFlag::O_NONBLOCK)).map_err(|e| format!("fcntl: {e}"))?;
    let mut filled = 0;
    // Page-sized writes first (quick), then single bytes to find the last free byte.
    for chunk in [&[0u8; 4096][..], &[0u8; 1][..]] {
        loop {
            match (&*writer).write(chunk) {
                Ok(n) => filled += n,
                Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                Err(e) => return Err(format!("write: {e}").into()),
            }
        }
    }
    Ok(filled)
}

fn pipe_size(fd: impl AsFd) -> Result<usize> {
    let size = fcntl(fd, FcntlArg::F_GETPIPE_SZ).map_err(|e| format!("F_GETPIPE_SZ: {e}"))?;
    Ok(usize::try_from(size)?)
}

/// The child writes more than the pipe holds; the parent confirms the child is asleep in the
/// kernel, waits a little, then drains. The child reports how long its write() took.
fn blocked_writer(capacity: usize) -> Result {
    // The read end is declared before the child, so that on an early return (a closed stdout)
    // the child is killed before our read end closes: otherwise it would report the broken
    // pipe that our leaving caused.
    let (mut reader, mut writer) = io::pipe().map_err(|e| format!("pipe: {e}"))?;
    let to_write = capacity + 4096;
    // The child only writes: it closes its copy of the read end first.
    let mut child = child::fork_closing(&[reader.as_fd()], || {
        let started = Instant::now();
        match writer.write_all(&vec![b'x'; to_write]) {
            // The tour keeps its read end open for as long as we live, so a broken pipe
            // means it has died (stopped by a signal): nothing to report, nobody to read it.
            Err(e) if e.kind() == ErrorKind::BrokenPipe => return Ok(()),
            result => result.map_err(|e| format!("write: {e}"))?,
        }
        println!(
            "       writer: write() of {to_write} bytes returned after {}",
            tour::duration(started.elapsed())
        );
        Ok(())
    })?;
    // The parent only reads. Left open, its copy of the write end would keep read_to_end
    // below waiting after the child's copy is closed.
    drop(writer);
    let wchan = wait_until_asleep(&mut child)?;
    println!(
        "   3b. writer {} writes {to_write} bytes into the {capacity}-byte pipe:",
        child.pid()
    );
    println!("       asleep in the kernel ({wchan})");
    println!(
        "       the reader waits {} ms, then drains",
        HOLD.as_millis()
    );
    thread::sleep(HOLD); // The deliberately slow reader.
    let mut drained = Vec::new();
    reader
        .read_to_end(&mut drained)
        .map_err(|e| format!("read: {e}"))?;
    child.wait_ok(CHILD_LIMIT)?;
    println!("       reader drained {} bytes", drained.len());
    Ok(())
}

/// The child reads from an empty pipe; the parent confirms it is asleep, waits, then writes.
fn blocked_reader() -> Result {
    // The write end is declared before the child, so that the child is killed before our
    // write end closes (see `blocked_writer`).
    let (mut reader, mut writer) = io::pipe().map_err(|e| format!("pipe: {e}"))?;
    // The child only reads: it closes its copy of the write end first.
    let mut child = child::fork_closing(&[writer.as_fd()], || {
        let started = Instant::now();
        let mut buf = [0u8; 64];
        let n = reader.read(&mut buf).map_err(|e| format!("read: {e}"))?;
        println!(
            "       reader: read() returned after {} with {n} bytes: {:?}",
            tour::duration(started.elapsed()),
            String::from_utf8_lossy(&buf[..n])
        );
        Ok(())
    })?;
    drop(reader); // The parent only writes.
    let wchan = wait_until_asleep(&mut child)?;
    println!("   3c. reader {} reads from the empty pipe:", child.pid());
    println!("       asleep in the kernel ({wchan})");
    println!(
        "       the writer waits {} ms, then writes",
        HOLD.as_millis()
    );
    thread::sleep(HOLD); // The deliberately slow writer.
    writer
        .write_all(b"temperature: 42")
        .map_err(|e| format!("write to child {}: {e}", child.pid()))?;
    drop(writer); // closes our write end
    child.wait_ok(CHILD_LIMIT)
}

/// Polls /proc until `child` is sleeping in the kernel; returns where it sleeps (its wchan,
/// e.g. "anon_pipe_write"). Fails if the child exits instead, or after [`BLOCK_LIMIT`].
fn wait_until_asleep(child: &mut Child) -> Result<String> {
    let pid = child.pid().as_raw();
    let deadline = Instant::now() + BLOCK_LIMIT;
    while Instant::now() < deadline {
        if let Some(status) = child.try_wait(WaitPidFlag::empty())? {
            let how = describe(status);
            return Err(format!("child {pid} ended before it blocked: it {how}").into());
        }
        // Either file may vanish or read oddly while the child changes state: try again.
        let state = procfs::state(pid).ok();
        let wchan = procfs::wchan(pid).unwrap_or_default();
        if state == Some('S') && wchan.contains("pipe") {
            return Ok(format!("state S, in the kernel function {wchan}"));
        }
        // Some kernels hide wchan (it reads "0" or is missing): then state S must do.
        if state == Some('S') && (wchan.is_empty() || wchan == "0") {
            return Ok("state S; this kernel hides where (wchan)".to_string());
        }
        thread::sleep(Duration::from_millis(1));
    }
    Err(format!("child {pid} did not block on the pipe within {BLOCK_LIMIT:?}").into())
}

fn resize(requested: usize) -> Result {
    let (_reader, writer) = io::pipe().map_err(|e| format!("pipe: {e}"))?;
    let before = pipe_size(&writer)?;
    let asked = i32::try_from(requested)?;
    let after = fcntl(&writer, FcntlArg::F_SETPIPE_SZ(asked)).map_err(|e| {
        format!(
            "F_SETPIPE_SZ({requested}): {e}; an unprivileged user's pipes may hold at most \
             /proc/sys/fs/pipe-user-pages-soft pages in all"
        )
    })?;
    // The kernel rounds the request up to a power-of-two number of pages.
    println!("   3d. F_SETPIPE_SZ({requested}): the kernel resized it {before} -> {after}");
    capacity("       the resized pipe", &writer)?;
    Ok(())
}

fn pipe_max_size() -> Result<usize> {
    Ok(usize::try_from(procfs::sys_knob(PIPE_MAX_SIZE)?)?)
}

/// Accepts 1 ..= pipe-max-size. Root could go beyond it, but the demo behaves as it would for
/// an ordinary user.
pub fn parse_pipe_size(arg: &str) -> std::result::Result<usize, String> {
    let max = pipe_max_size().map_err(|e| e.to_string())?;
    let size: usize = arg.parse().unwrap_or(0);
    if size == 0 || size > max {
        return Err(format!(
            "must be 1 to {max} bytes (/proc/sys/{PIPE_MAX_SIZE}; \
             raise it with sysctl fs.pipe-max-size=N)"
        ));
    }
    Ok(size)
}
