//! One side of a two-way channel made of two one-way ones (two pipes, two FIFOs): it reads from
//! one and writes into the other, as `std::io::Read + Write`.

use std::io::{self, Read, Write};

/// Reads from `rx`, writes into `tx`. A pipe or a FIFO is one-way, so a conversation needs a
/// pair: each side holds the read end of one and the write end of the other.
#[derive(Debug)]
pub struct End<R, W> {
    pub rx: R,
    pub tx: W,
}

impl<R: Read, W> Read for End<R, W> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.rx.read(buf)
    }
}

impl<R, W: Write> Write for End<R, W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.tx.write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.tx.flush()
    }
}
