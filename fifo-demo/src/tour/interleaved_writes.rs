//! Step 4: writes larger than PIPE_BUF are not atomic. The kernel copies them into the pipe
//! in pieces as the reader makes room, so two writers' bytes may interleave inside a line.

use plumbing::tour::heading;
use plumbing::verdict::{self, Verdict, judge};

use super::mkfifo::MadeFifo;
use super::processes::writers_then_reader;
use super::said::ReaderReport;

const WRITERS: [&str; 2] = ["A", "B"];
const LINES_EACH: u64 = 2;

pub fn run(made: &MadeFifo) -> plumbing::Result {
    heading(
        4,
        "Writes larger than PIPE_BUF: the kernel may split and interleave them",
    );
    let (fifo, big) = (&made.fifo, 25 * made.pipe_buf);
    println!("   two writers each send 2 lines of {big} bytes (25 x PIPE_BUF),");
    println!("   one write() per line");
    let said = writers_then_reader(fifo, "big", &WRITERS, LINES_EACH, big)?;
    let lines = WRITERS.len() as u64 * LINES_EACH;
    let (v, because) = interleave_claim(&ReaderReport::from(&said)?, lines, big as u64);
    verdict::record("writes above PIPE_BUF may interleave", v, because);
    Ok(())
}

/// The lecture: writes larger than PIPE_BUF may interleave. It holds when every byte of the
/// `lines` lines of `bytes` bytes arrived; confirmed when this run saw another writer's bytes
/// inside a line, qualified (and saying so) when it saw none: "may" is not "will".
pub fn interleave_claim(read: &ReaderReport, lines: u64, bytes: u64) -> (Verdict, String) {
    let mut because = format!(
        "{} of {lines} lines of {bytes} bytes torn, with {} changes of writer inside lines",
        read.torn, read.inside
    );
    if read.inside == 0 {
        because += "; none interleaved in this run";
    }
    let holds = read.bytes == lines * bytes && read.whole + read.torn == lines;
    (judge(holds, read.inside == 0), because)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(bytes: u64, whole: u64, torn: u64, inside: u64) -> ReaderReport {
        ReaderReport {
            size: 0,
            waiting: 1,
            bytes,
            whole,
            torn,
            turns: 0,
            inside,
        }
    }

    #[test]
    fn torn_lines_confirm_and_none_qualifies() {
        let (v, because) = interleave_claim(&report(409600, 1, 3, 10), 4, 102400);
        assert_eq!(v, Verdict::Confirmed);
        assert_eq!(
            because,
            "3 of 4 lines of 102400 bytes torn, with 10 changes of writer inside lines"
        );
        let (v, because) = interleave_claim(&report(409600, 4, 0, 0), 4, 102400);
        assert_eq!(v, Verdict::Qualified);
        assert!(
            because.ends_with("; none interleaved in this run"),
            "{because}"
        );
        assert_eq!(
            interleave_claim(&report(409599, 1, 3, 10), 4, 102400).0,
            Verdict::Refuted
        );
    }
}
