//! The tour's steps, one file each, in the order the tour runs them.

pub mod atomic_writes; // 3. three writers: lines of PIPE_BUF bytes arrive whole
pub mod eof; // 5. EOF comes when the last writer closes
pub mod interleaved_writes; // 4. two writers: writes above PIPE_BUF may interleave
pub mod limits; // 8. still a pipe: one way, and a byte stream
pub mod mkfifo; // 1. mkfifo in a private directory; what stat says; PIPE_BUF
pub mod open_blocks; // 2. open() blocks until the other end is opened
pub mod outlives; // 6. the name outlives the process that made it
pub mod removal; // 7. the FIFO is removed with its directory
pub mod users; // 9. another user at the FIFO: its mode decides

pub mod describe; // what stat says, in words (steps and roles)
pub mod processes; // starts a step's readers and writers, reaps them
pub mod said; // what they print, relayed to our stdout and read back for the verdicts
