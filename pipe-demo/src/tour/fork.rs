//! Step 2 of the pipe tour: pipe() before fork(), so both processes hold both ends; each
//! closes the end it does not use. The parent writes three readings, the child reads until
//! end-of-file.

use std::io::{self, Read, Write};
use std::os::fd::AsFd;
use std::time::Duration;

use nix::sys::wait::WaitStatus;
use nix::unistd::getpid;
use plumbing::Result;
use plumbing::child::{self, Child, describe};

/// The child is done as soon as the parent closes the write end; far longer means it is stuck.
const CHILD_LIMIT: Duration = Duration::from_secs(10);

/// Step 2: pipe() before fork(), so both processes hold both ends; each closes the end it
/// does not use.
pub fn run() -> Result {
    println!("\nStep 2. pipe() + fork(): the parent writes, the child reads");
    let (mut reader, mut writer) = io::pipe().map_err(|e| format!("pipe: {e}"))?;
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
    drop(writer); // The last write end: the child's next read() returns 0.
    let status = child.wait(CHILD_LIMIT)?;
    println!(
        "   parent: reaped child {}: it {}",
        child.pid(),
        describe(status)
    );
    match status {
        WaitStatus::Exited(_, 0) => Ok(()),
        _ => Err(format!("child {} failed: it {}", child.pid(), describe(status)).into()),
    }
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
