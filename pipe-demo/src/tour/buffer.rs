//! Step 3 of the pipe tour: the pipe is a bounded buffer, and the kernel makes each side wait
//! for the other. Measures the capacity, catches a writer and a reader asleep in the kernel,
//! and resizes the buffer with F_SETPIPE_SZ.

use std::io::{self, ErrorKind, PipeWriter, Read, Write};
use std::os::fd::AsFd;
use std::thread;
use std::time::{Duration, Instant};

use nix::fcntl::{FcntlArg, OFlag, fcntl};
use plumbing::child;
use plumbing::verdict::{self, Verdict, judge};
use plumbing::{Result, procfs, tour};

use super::asleep::{Sleep, asleep_on_pipe, wait_until_asleep};

/// How long the deliberately slow side waits before it drains or feeds the pipe.
const HOLD: Duration = Duration::from_millis(200);
/// How long a child may take to finish once the other side has drained or fed the pipe.
const CHILD_LIMIT: Duration = Duration::from_secs(10);
/// The most bytes an unprivileged process may ask for with F_SETPIPE_SZ (a /proc/sys knob).
const PIPE_MAX_SIZE: &str = "fs/pipe-max-size";

/// Step 3: the pipe is a bounded buffer, and the kernel makes each side wait for the other.
pub fn run(pipe_size: Option<usize>) -> Result {
    tour::heading(3, "The bounded buffer");
    let (reported, capacity) = measure_capacity()?;
    let writer_slept = blocked_writer(capacity)?;
    let reader_slept = blocked_reader()?;
    let requested = match pipe_size {
        Some(size) => size,
        None => pipe_max_size()?,
    };
    let resized = resize(requested)?;
    let (v, because) = bounded_claim(reported, capacity, resized);
    verdict::record("a pipe is a bounded buffer of 64 KiB", v, because);
    let (v, because) = blocking_claim(writer_slept.as_ref(), reader_slept.as_ref());
    verdict::record(
        "a full pipe stops the writer, an empty one the reader",
        v,
        because,
    );
    Ok(())
}

/// The lecture: a pipe is a bounded kernel buffer, typically 64 KiB. Bounded when a new pipe
/// took exactly what F_GETPIPE_SZ said (`reported`) and refused more; qualified when that is
/// not 64 KiB, or when F_SETPIPE_SZ made it hold another amount (`resized`).
pub fn bounded_claim(reported: usize, filled: usize, resized: usize) -> (Verdict, String) {
    let holds = filled == reported && filled > 0;
    let but = filled != 65536 || resized != filled;
    let mut because = format!("{filled} bytes went in, then EAGAIN");
    if filled != reported {
        because += &format!(" (F_GETPIPE_SZ said {reported})");
    }
    if resized != filled {
        because += &format!("; after F_SETPIPE_SZ {resized}");
    }
    (judge(holds, but), because)
}

/// The lecture: a writer blocks on a full pipe and a reader on an empty one. `writer` and
/// `reader` are where each slept once the other side had waited [`HOLD`] (`None`: it had
/// woken up by then).
pub fn blocking_claim(writer: Option<&Sleep>, reader: Option<&Sleep>) -> (Verdict, String) {
    let hold = HOLD.as_millis();
    let side = |who: &str, slept: Option<&Sleep>| match slept {
        Some(sleep) => format!("{who} still asleep after {hold} ms ({})", sleep.place()),
        None => format!("{who} awake after {hold} ms"),
    };
    let because = format!("{}, {}", side("writer", writer), side("reader", reader));
    (judge(writer.is_some() && reader.is_some(), false), because)
}

/// A new pipe's size as F_GETPIPE_SZ reports it, and the bytes that went in.
fn measure_capacity() -> Result<(usize, usize)> {
    let (_reader, writer) = io::pipe().map_err(|e| format!("pipe: {e}"))?;
    let reported = pipe_size(&writer)?;
    Ok((reported, capacity("   3a. a new pipe", &writer)?))
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
/// kernel, waits a little, then drains. The child reports how long its write() took. Returns
/// where the writer slept just before the drain (`None`: it had woken up).
fn blocked_writer(capacity: usize) -> Result<Option<Sleep>> {
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
    let sleep = wait_until_asleep(&mut child, || Ok(true))?;
    println!(
        "   3b. writer {} writes {to_write} bytes into the {capacity}-byte pipe:",
        child.pid()
    );
    println!("       asleep in the kernel ({sleep})");
    println!(
        "       the reader waits {} ms, then drains",
        HOLD.as_millis()
    );
    thread::sleep(HOLD); // The deliberately slow reader.
    let still = still_asleep("writer", child.pid().as_raw());
    let mut drained = Vec::new();
    reader
        .read_to_end(&mut drained)
        .map_err(|e| format!("read: {e}"))?;
    child.wait_ok(CHILD_LIMIT)?;
    println!("       reader drained {} bytes", drained.len());
    Ok(still)
}

/// Looks again, once the other side has waited [`HOLD`]: is `pid` still asleep on the pipe?
/// Prints what it saw.
fn still_asleep(who: &str, pid: i32) -> Option<Sleep> {
    let hold = HOLD.as_millis();
    let sleep = asleep_on_pipe(pid);
    match &sleep {
        Some(sleep) => println!(
            "       after {hold} ms the {who} is still asleep ({})",
            sleep.place()
        ),
        None => println!("       after {hold} ms the {who} is awake"),
    }
    sleep
}

/// The child reads from an empty pipe; the parent confirms it is asleep, waits, then writes.
/// Returns where the reader slept just before the write (`None`: it had woken up).
fn blocked_reader() -> Result<Option<Sleep>> {
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
    let sleep = wait_until_asleep(&mut child, || Ok(true))?;
    println!("   3c. reader {} reads from the empty pipe:", child.pid());
    println!("       asleep in the kernel ({sleep})");
    println!(
        "       the writer waits {} ms, then writes",
        HOLD.as_millis()
    );
    thread::sleep(HOLD); // The deliberately slow writer.
    let still = still_asleep("reader", child.pid().as_raw());
    writer
        .write_all(b"temperature: 42")
        .map_err(|e| format!("write to child {}: {e}", child.pid()))?;
    drop(writer); // closes our write end
    child.wait_ok(CHILD_LIMIT)?;
    Ok(still)
}

/// Resizes a new pipe to `requested` bytes and measures it; returns the bytes that went in.
fn resize(requested: usize) -> Result<usize> {
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
    capacity("       the resized pipe", &writer)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_64_kib_pipe_left_alone_confirms_the_lecture() {
        let (v, because) = bounded_claim(65536, 65536, 65536);
        assert_eq!(v, Verdict::Confirmed);
        assert_eq!(because, "65536 bytes went in, then EAGAIN");
    }

    #[test]
    fn another_default_or_a_resize_qualifies_it() {
        let (v, because) = bounded_claim(65536, 65536, 1048576);
        assert_eq!(v, Verdict::Qualified);
        assert!(
            because.ends_with("; after F_SETPIPE_SZ 1048576"),
            "{because}"
        );
        assert_eq!(bounded_claim(16384, 16384, 16384).0, Verdict::Qualified);
    }

    #[test]
    fn a_pipe_that_took_other_than_its_size_refutes_it() {
        let (v, because) = bounded_claim(65536, 4096, 4096);
        assert_eq!(v, Verdict::Refuted);
        assert!(because.contains("(F_GETPIPE_SZ said 65536)"), "{because}");
        assert_eq!(bounded_claim(65536, 0, 65536).0, Verdict::Refuted);
    }

    #[test]
    fn both_sides_must_still_sleep_after_the_hold() {
        let w = Sleep(Some("anon_pipe_write".into()));
        let r = Sleep(None);
        let (v, because) = blocking_claim(Some(&w), Some(&r));
        assert_eq!(v, Verdict::Confirmed);
        assert_eq!(
            because,
            "writer still asleep after 200 ms (anon_pipe_write), \
             reader still asleep after 200 ms (state S)"
        );
        let (v, because) = blocking_claim(Some(&w), None);
        assert_eq!(v, Verdict::Refuted);
        assert!(because.ends_with("reader awake after 200 ms"), "{because}");
        assert_eq!(blocking_claim(None, Some(&r)).0, Verdict::Refuted);
    }
}
