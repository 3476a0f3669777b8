//! Step 4: writes larger than PIPE_BUF are not atomic. The kernel copies them into the pipe
//! in pieces as the reader makes room, so two writers' bytes may interleave inside a line.

use std::path::Path;

use plumbing::tour::heading;

use super::processes::writers_then_reader;

pub fn run(fifo: &Path, pipe_buf: usize) -> plumbing::Result {
    let big = 25 * pipe_buf;
    heading(
        4,
        "Writes larger than PIPE_BUF: the kernel may split and interleave them",
    );
    println!("   two writers each send 2 lines of {big} bytes (25 x PIPE_BUF),");
    println!("   one write() per line");
    writers_then_reader(fifo, "big", &["A", "B"], 2, big)
}
