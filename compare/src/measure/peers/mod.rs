//! Rows for the IPC crates a Rust engineer would pick instead of the lecture's system calls,
//! measured by the same harness (cargo feature `peers`).

pub mod iceoryx2;
