//! Step 8: a FIFO is still a pipe, with a pipe's limits. Each end goes one way: the kernel
//! refuses a write on the read end and a read on the write end. And it is a byte stream: two
//! write()s that the reader reads late come out of one read(), with no boundary between them.

use std::io::{Read, Write};

use fifo_demo::{FifoDir, open_both_ends};
use nix::errno::Errno;
use plumbing::tour::heading;
use plumbing::verdict::{self, Verdict, judge};

pub fn run() -> plumbing::Result {
    heading(8, "Still a pipe: one way, and a byte stream");
    let dir = FifoDir::create()?; // removed, with its FIFO, when the step ends
    let fifo = dir.mkfifo("sensor_pipe")?;
    let (mut rx, mut tx) = open_both_ends(&fifo)?;
    println!("   both ends of a new FIFO, opened in this process (the read end first)");
    let wrong_write = nix::unistd::write(&rx, b"x");
    let wrong_read = nix::unistd::read(&tx, &mut [0u8; 1]);
    println!(
        "   write() on the read end: {}; read() on the write end: {}",
        outcome(wrong_write),
        outcome(wrong_read)
    );
    let readings = ["temperature: 42\n", "temperature: 43\n"];
    for sensor_reading in readings {
        tx.write_all(sensor_reading.as_bytes())
            .map_err(|e| format!("write {}: {e}", fifo.display()))?;
    }
    let each = readings[0].len();
    println!("   two write()s of {each} bytes, then one read() of up to 4096 bytes:");
    let mut buf = [0u8; 4096];
    let got = rx
        .read(&mut buf)
        .map_err(|e| format!("read {}: {e}", fifo.display()))?;
    println!(
        "   it returned {got} bytes: {:?}",
        String::from_utf8_lossy(&buf[..got])
    );
    let stream = Stream {
        writes: readings.len(),
        each,
        got,
    };
    let (v, because) = pipe_limits_claim(wrong_write, wrong_read, &stream);
    verdict::record(
        "a FIFO is one-way and a byte stream, as a pipe is",
        v,
        because,
    );
    Ok(())
}

/// "EBADF", or how many bytes the call moved.
fn outcome(result: Result<usize, Errno>) -> String {
    match result {
        Err(errno) => format!("{errno:?}"),
        Ok(n) => format!("{n} bytes"),
    }
}

/// `writes` write()s of `each` bytes, then one read() that returned `got` bytes.
pub struct Stream {
    pub writes: usize,
    pub each: usize,
    pub got: usize,
}

/// The lecture: a FIFO inherits a pipe's limits. One-way holds when the kernel refused both
/// wrong-way calls with EBADF; a byte stream when one late read() returned the bytes of every
/// write() together, with no boundary kept between them.
pub fn pipe_limits_claim(
    wrong_write: Result<usize, Errno>,
    wrong_read: Result<usize, Errno>,
    stream: &Stream,
) -> (Verdict, String) {
    let because = format!(
        "write() on the read end gave {}, read() on the write end {}; {} writes of {} bytes \
         came out as 1 read of {}",
        outcome(wrong_write),
        outcome(wrong_read),
        stream.writes,
        stream.each,
        stream.got
    );
    let one_way = wrong_write == Err(Errno::EBADF) && wrong_read == Err(Errno::EBADF);
    let byte_stream = stream.writes > 1 && stream.got == stream.writes * stream.each;
    (judge(one_way && byte_stream, false), because)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ebadf_both_ways_and_one_read_of_both_writes_confirm_it() {
        let both = Stream {
            writes: 2,
            each: 16,
            got: 32,
        };
        let (v, because) = pipe_limits_claim(Err(Errno::EBADF), Err(Errno::EBADF), &both);
        assert_eq!(v, Verdict::Confirmed);
        assert_eq!(
            because,
            "write() on the read end gave EBADF, read() on the write end EBADF; \
             2 writes of 16 bytes came out as 1 read of 32"
        );
        let one = Stream { got: 16, ..both };
        assert_eq!(
            pipe_limits_claim(Err(Errno::EBADF), Err(Errno::EBADF), &one).0,
            Verdict::Refuted
        );
        let both = Stream { got: 32, ..one };
        assert_eq!(
            pipe_limits_claim(Ok(1), Err(Errno::EBADF), &both).0,
            Verdict::Refuted
        );
    }
}
