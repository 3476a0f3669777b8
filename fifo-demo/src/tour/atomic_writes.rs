//! Step 3: three writers, one reader. A write of at most PIPE_BUF bytes is atomic: the kernel
//! never puts another writer's bytes inside it, so every line arrives whole, even when the
//! writers take turns between lines.

use plumbing::tour::heading;

use super::describe::describe_path;
use super::mkfifo::MadeFifo;
use super::processes::writers_then_reader;

pub fn run(made: &MadeFifo) -> plumbing::Result {
    heading(
        3,
        "Three writers, one reader: writes of at most PIPE_BUF bytes arrive whole",
    );
    let (fifo, pipe_buf) = (&made.fifo, made.pipe_buf);
    println!("   each writer sends 50 lines of {pipe_buf} bytes (= PIPE_BUF),");
    println!("   one write() per line; they start 200 ms before the reader,");
    println!("   which then waits 100 ms before reading");
    writers_then_reader(fifo, "sensor", &["A", "B", "C"], 50, pipe_buf)?;
    println!(
        "   stat after {} bytes went through: {}",
        3 * 50 * pipe_buf,
        describe_path(fifo)?
    );
    Ok(())
}
