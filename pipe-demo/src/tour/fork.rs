//! Step 2 of the pipe tour: pipe() before fork(), so both processes hold both ends; each
//! closes the end it does not use. Each end goes one way only: the kernel refuses a write on
//! the read end. The parent writes three readings, the child reads until end-of-file, which
//! comes only when the last write end closes: a dup() left open keeps the child waiting.

use std::io::{self, PipeReader, PipeWriter, Read, Write};
use std::os::fd::{AsFd, AsRawFd};
use std::time::Duration;

use nix::errno::Errno;
use nix::sys::wait::WaitStatus;
use nix::unistd::getpid;
use plumbing::Result;
use plumbing::child::{self, Child, describe};
use plumbing::tour::heading;
use plumbing::verdict::{self, Verdict, judge};

use super::asleep::{Sleep, wait_until_asleep};

/// The child is done as soon as the parent closes the write end; far longer means it is stuck.
const CHILD_LIMIT: Duration = Duration::from_secs(10);

/// Step 2: pipe() before fork(), so both processes hold both ends; each closes the end it
/// does not use.
pub fn run() -> Result {
    heading(2, "pipe() + fork(): the parent writes, the child reads");
    let (mut reader, mut writer) = io::pipe().map_err(|e| format!("pipe: {e}"))?;
    // Each end was opened for one direction only: try the other one on both.
    let (wrong_write, wrong_read) = each_end_the_wrong_way(&reader, &writer);
    println!(
        "   write() on the read end: {}; read() on the write end: {}",
        outcome(wrong_write),
        outcome(wrong_read)
    );
    let (v, because) = one_way_claim(wrong_write, wrong_read);
    verdict::record("a pipe is one-way", v, because);
    // The child closes its copy of the write end first, as TLPI's close(pfd[1]): the child
    // only reads, and a write end left open would keep the pipe "alive", so the child would
    // wait for itself forever instead of seeing EOF.
    let mut child = child::fork_closing(&[writer.as_fd()], || read_until_eof(&mut reader))?;
    drop(reader); // The parent only writes.
    println!("   parent {}: forked child {}", getpid(), child.pid());
    let readings = [
        "temperature: 42\n",
        "temperature: 43\n",
        "temperature: 41\n",
    ];
    let mut written = 0;
    for sensor_reading in readings {
        if let Err(e) = writer.write_all(sensor_reading.as_bytes()) {
            return child_gone(&mut child, &e); // the child died early: say how
        }
        written += sensor_reading.len();
    }
    println!(
        "   parent: wrote {} readings ({written} bytes), closing the write end",
        readings.len()
    );
    // A second write end, as a process that forgot to close its copy would hold: the child
    // reads all there is, then waits for more instead of seeing end-of-file.
    let spare = writer.try_clone().map_err(|e| format!("dup: {e}"))?;
    drop(writer);
    let sleep = wait_until_asleep(&mut child, || Ok(unread(&spare)? == 0))?;
    println!("   parent: a dup() of the write end is still open: with all {written} bytes read,");
    println!("       the child is asleep ({sleep})");
    println!("   parent: closing the dup, the last write end");
    drop(spare); // The last write end: the child's next read() returns 0.
    let status = child.wait(CHILD_LIMIT)?;
    println!(
        "   parent: reaped child {}: it {}",
        child.pid(),
        describe(status)
    );
    match status {
        WaitStatus::Exited(_, 0) => {
            let (v, because) = eof_claim(written, Some(&sleep), true);
            verdict::record("end-of-file once the last write end closes", v, because);
            Ok(())
        }
        _ => Err(format!("child {} failed: it {}", child.pid(), describe(status)).into()),
    }
}

/// A write() on the read end and a read() on the write end, as the kernel answers them.
fn each_end_the_wrong_way(
    reader: &PipeReader,
    writer: &PipeWriter,
) -> (
    std::result::Result<usize, Errno>,
    std::result::Result<usize, Errno>,
) {
    let wrong_write = nix::unistd::write(reader, b"x");
    let wrong_read = nix::unistd::read(writer, &mut [0u8; 1]);
    (wrong_write, wrong_read)
}

/// "EBADF", or how many bytes the call moved.
fn outcome(result: std::result::Result<usize, Errno>) -> String {
    match result {
        Err(errno) => format!("{errno:?}"),
        Ok(n) => format!("{n} bytes"),
    }
}

/// The lecture: a pipe is one-way. It holds when the kernel refused both wrong-way calls with
/// EBADF (each end was opened for one direction only).
pub fn one_way_claim(
    wrong_write: std::result::Result<usize, Errno>,
    wrong_read: std::result::Result<usize, Errno>,
) -> (Verdict, String) {
    let holds = wrong_write == Err(Errno::EBADF) && wrong_read == Err(Errno::EBADF);
    let because = format!(
        "write() on the read end gave {}, read() on the write end {}",
        outcome(wrong_write),
        outcome(wrong_read)
    );
    (judge(holds, false), because)
}

/// The lecture: the reader sees end-of-file when the last write end closes. It holds when the
/// child, with all `written` bytes read, slept while a dup() of the write end was open
/// (`slept`), and ended successfully, which it does only at end-of-file, once that closed.
pub fn eof_claim(written: usize, slept: Option<&Sleep>, ended_at_eof: bool) -> (Verdict, String) {
    let waited = match slept {
        Some(sleep) => format!("asleep ({}) while a dup() was open", sleep.place()),
        None => "end-of-file while a dup() was still open".to_string(),
    };
    let after = match ended_at_eof {
        true => "end-of-file after the last closed",
        false => "no end-of-file after the last closed",
    };
    let because = format!("{written} bytes read, then {waited}; {after}");
    (judge(slept.is_some() && ended_at_eof, false), because)
}

/// Bytes written into the pipe behind `end` that nobody has read yet (FIONREAD).
fn unread(end: &PipeWriter) -> Result<usize> {
    let mut n: libc::c_int = 0;
    // SAFETY: FIONREAD stores one int through the pointer, which points at `n`; the child
    // can only change what the number says, never our memory.
    let rc = unsafe { libc::ioctl(end.as_raw_fd(), libc::FIONREAD, &mut n) };
    if rc < 0 {
        return Err(format!("ioctl FIONREAD: {}", io::Error::last_os_error()).into());
    }
    Ok(usize::try_from(n)?)
}

/// The write to `child` failed with `e`: the child has gone. Reaping it says how; a child
/// that found our shared stdout closed (`| head`) ends the run quietly from inside `wait`.
fn child_gone(child: &mut Child, e: &io::Error) -> Result {
    let how = describe(child.wait(CHILD_LIMIT)?);
    Err(format!("write to child {}: {e}; the child {how}", child.pid()).into())
}

fn read_until_eof(reader: &mut impl Read) -> Result {
    let mut buf = [0u8; 128];
    let (mut total, mut reads) = (0, 0);
    loop {
        let n = reader.read(&mut buf).map_err(|e| format!("read: {e}"))?;
        if n == 0 {
            break;
        }
        total += n;
        reads += 1;
        println!("   child  {}: read() returned {n} bytes:", getpid());
        for line in buf[..n].split_inclusive(|&b| b == b'\n') {
            println!("       {:?}", String::from_utf8_lossy(line));
        }
    }
    // A pipe keeps no boundaries: three writes may arrive as one read, or as three.
    let calls = if reads == 1 { "call" } else { "calls" };
    println!(
        "   child: read() returned 0 (end-of-file) after {total} bytes in {reads} read() {calls}"
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ebadf_both_ways_confirms_one_way() {
        let (v, because) = one_way_claim(Err(Errno::EBADF), Err(Errno::EBADF));
        assert_eq!(v, Verdict::Confirmed);
        assert_eq!(
            because,
            "write() on the read end gave EBADF, read() on the write end EBADF"
        );
    }

    #[test]
    fn a_wrong_way_call_that_works_refutes_it() {
        let (v, because) = one_way_claim(Ok(1), Err(Errno::EBADF));
        assert_eq!(v, Verdict::Refuted);
        assert!(because.contains("read end gave 1 bytes"), "{because}");
        assert_eq!(
            one_way_claim(Err(Errno::EBADF), Err(Errno::EINVAL)).0,
            Verdict::Refuted
        );
    }

    #[test]
    fn end_of_file_needs_the_wait_and_the_end() {
        let sleep = Sleep(Some("pipe_read".into()));
        let (v, because) = eof_claim(48, Some(&sleep), true);
        assert_eq!(v, Verdict::Confirmed);
        assert_eq!(
            because,
            "48 bytes read, then asleep (pipe_read) while a dup() was open; \
             end-of-file after the last closed"
        );
        assert_eq!(eof_claim(48, None, true).0, Verdict::Refuted);
        assert_eq!(eof_claim(48, Some(&sleep), false).0, Verdict::Refuted);
    }
}
