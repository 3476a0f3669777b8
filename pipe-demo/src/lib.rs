//! The pipe as a small library: the endpoints that `compare` measures and the pipe's row of
//! the lecture's design-space table. The narrated tour is `src/main.rs`.

use std::io::{self, PipeReader, PipeWriter};

use plumbing::design::Row;

/// The pipe's row of the lecture's design-space table.
pub const DESIGN_ROW: Row = Row {
    data: "copy through kernel",
    structure: "byte stream",
    direction: "one-way",
    naming: "anonymous (inherited fd)",
    coordination: "kernel blocks and wakes",
    persistence: "until last fd closes",
};

/// One side of a two-way channel made of two pipes: it reads from one and writes into the
/// other. A pipe is one-way, so a conversation needs a pair.
pub type End = plumbing::two_way::End<PipeReader, PipeWriter>;

/// Two connected ends, each able to send to and receive from the other.
///
/// Create the pair before `fork()`; afterwards the parent drops `.1` and the child drops `.0`.
/// Dropping matters: a reader only sees end-of-file once *every* copy of the write end is
/// closed, and that includes the copy it inherited itself.
///
/// A pipe carries bytes, not messages, so any `msg_size` fits: a message larger than the
/// kernel buffer is simply written in several pieces while the reader drains it.
/// If the peer process dies, `read` returns 0 (end-of-file) and `write` fails with `EPIPE`.
/// Nothing named is created, so nothing can be left behind.
pub fn duplex(_msg_size: usize) -> io::Result<(End, End)> {
    let (a_rx, b_tx) = io::pipe()?;
    let (b_rx, a_tx) = io::pipe()?;
    Ok((End { rx: a_rx, tx: a_tx }, End { rx: b_rx, tx: b_tx }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn design_row_fits_its_column() {
        assert!(DESIGN_ROW.fits());
    }
}
