//! Step 4: writes larger than PIPE_BUF are not atomic. The kernel copies them into the pipe
//! in pieces as the reader makes room, so two writers' bytes may interleave inside a line.

use plumbing::tour::heading;

use super::mkfifo::MadeFifo;
use super::processes::writers_then_reader;

pub fn run(made: &MadeFifo) -> plumbing::Result {
    heading(
        4,
        "Writes larger than PIPE_BUF: the kernel may split and interleave them",
    );
    let (fifo, big) = (&made.fifo, 25 * made.pipe_buf);
    println!("   two writers each send 2 lines of {big} bytes (25 x PIPE_BUF),");
    println!("   one write() per line");
    writers_then_reader(fifo, "big", &["A", "B"], 2, big)
}
