//! Step 3: three writers, one reader. A write of at most PIPE_BUF bytes is atomic: the kernel
//! never puts another writer's bytes inside it, so every line arrives whole, even when the
//! writers take turns between lines. And the bytes never reach the disk: the file's size
//! stays 0 while the kernel holds them.

use std::fs;

use plumbing::tour::heading;
use plumbing::verdict::{self, Verdict, judge};

use super::describe::describe_path;
use super::mkfifo::MadeFifo;
use super::processes::writers_then_reader;
use super::said::ReaderReport;

const WRITERS: [&str; 3] = ["A", "B", "C"];
const LINES_EACH: u64 = 50;

pub fn run(made: &MadeFifo) -> plumbing::Result {
    heading(
        3,
        "Three writers, one reader: writes of at most PIPE_BUF bytes arrive whole",
    );
    let (fifo, pipe_buf) = (&made.fifo, made.pipe_buf);
    println!("   each writer sends 50 lines of {pipe_buf} bytes (= PIPE_BUF),");
    println!("   one write() per line; they start 200 ms before the reader,");
    println!("   which then waits 100 ms before reading");
    let said = writers_then_reader(fifo, "sensor", &WRITERS, LINES_EACH, pipe_buf)?;
    let through = WRITERS.len() as u64 * LINES_EACH * pipe_buf as u64;
    println!(
        "   stat after {through} bytes went through: {}",
        describe_path(fifo)?
    );
    let read = ReaderReport::from(&said)?;
    let size_after = fs::metadata(fifo)
        .map_err(|e| format!("stat {}: {e}", fifo.display()))?
        .len();
    let (v, because) = in_kernel_claim(&read, size_after, through);
    verdict::record("the data stays in the kernel, not on disk", v, because);
    let lines = WRITERS.len() as u64 * LINES_EACH;
    let (v, because) = whole_claim(&read, lines, pipe_buf);
    verdict::record("writes of at most PIPE_BUF bytes arrive whole", v, because);
    Ok(())
}

/// The lecture: a FIFO's data goes through the kernel and never touches the disk. It holds
/// when the file's size was 0 while the reader saw bytes waiting (`read.size`,
/// `read.waiting`), and still 0 after `through` bytes had gone through (`size_after`).
pub fn in_kernel_claim(read: &ReaderReport, size_after: u64, through: u64) -> (Verdict, String) {
    let because = format!(
        "size {} while {} bytes waited in the pipe; {size_after} after {through} went through",
        read.size, read.waiting
    );
    let holds = read.size == 0 && read.waiting > 0 && size_after == 0;
    (judge(holds, false), because)
}

/// The lecture: a write of at most PIPE_BUF bytes is atomic. It holds when all `lines` lines
/// of `bytes` bytes (at most PIPE_BUF) arrived whole; it is qualified when the writers never
/// took turns between lines, so nothing could have torn them.
pub fn whole_claim(read: &ReaderReport, lines: u64, bytes: usize) -> (Verdict, String) {
    let mut because = format!(
        "{} of {lines} lines of {bytes} bytes arrived whole, {} torn, \
         with {} changes of writer between lines",
        read.whole, read.torn, read.turns
    );
    if read.turns == 0 {
        because += "; the writers never took turns, so none could tear";
    }
    let holds = read.whole == lines && read.torn == 0;
    (judge(holds, read.turns == 0), because)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(size: u64, waiting: u64, whole: u64, torn: u64, turns: u64) -> ReaderReport {
        ReaderReport {
            size,
            waiting,
            bytes: 0,
            whole,
            torn,
            turns,
            inside: 0,
        }
    }

    #[test]
    fn size_0_with_bytes_waiting_confirms_the_kernel_holds_them() {
        let (v, because) = in_kernel_claim(&report(0, 65536, 0, 0, 0), 0, 614400);
        assert_eq!(v, Verdict::Confirmed);
        assert_eq!(
            because,
            "size 0 while 65536 bytes waited in the pipe; 0 after 614400 went through"
        );
        let on_disk = in_kernel_claim(&report(4096, 65536, 0, 0, 0), 0, 614400);
        assert_eq!(on_disk.0, Verdict::Refuted);
        assert_eq!(
            in_kernel_claim(&report(0, 65536, 0, 0, 0), 12, 614400).0,
            Verdict::Refuted
        );
        assert_eq!(
            in_kernel_claim(&report(0, 0, 0, 0, 0), 0, 614400).0,
            Verdict::Refuted
        );
    }

    #[test]
    fn every_line_whole_confirms_atomic_writes_unless_nobody_took_turns() {
        let (v, because) = whole_claim(&report(0, 1, 150, 0, 17), 150, 4096);
        assert_eq!(v, Verdict::Confirmed);
        assert_eq!(
            because,
            "150 of 150 lines of 4096 bytes arrived whole, 0 torn, \
             with 17 changes of writer between lines"
        );
        let (v, because) = whole_claim(&report(0, 1, 150, 0, 0), 150, 4096);
        assert_eq!(v, Verdict::Qualified);
        assert!(because.ends_with("so none could tear"), "{because}");
        assert_eq!(
            whole_claim(&report(0, 1, 149, 1, 17), 150, 4096).0,
            Verdict::Refuted
        );
    }
}
