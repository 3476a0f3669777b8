//! The tour's steps, one file each, in the order `main.rs` runs them.

// 1. a pipe to a child's stdin
pub mod cat;
// 2. pipe() + fork(): parent writes, child reads
pub mod fork;
// 3. a bounded buffer: who waits, and how long
pub mod buffer;
// 4. no reader left: EPIPE, and SIGPIPE
pub mod broken;
// 5. `ls | grep .rs | wc -l` by hand
pub mod pipeline;
// 6. a copy in the kernel, and no name
pub mod copy;
// 7. what a pipe costs to set up
pub mod setup;

// catching a child asleep on a pipe (steps 2 and 3)
mod asleep;
