//! Rows for IPC crates a Rust engineer would pick instead of the system calls (`--features
//! peers`): each crate's own API, driven through the same harness as the kernel rows (both
//! placements, the same rounds and statistic, every message checked by both processes, CPU
//! per message, setup). Each file says what its crate does underneath, and its design-space
//! row says it in the table. The words avoid those the kernel rows' lessons and verdicts pick
//! rows by ("copy", "shared", "in place", "spin"), so a crate does not join a line meant for
//! the mechanism it wraps; the report sets each crate against that mechanism in a line of
//! its own.

use crate::measure::mechanisms::Entry;

pub mod iceoryx2;
pub mod interprocess;
pub mod ipc_channel;

/// Every peer crate's row, after the kernel rows.
pub fn all() -> Vec<Entry> {
    vec![
        iceoryx2::entry(),
        ipc_channel::entry(),
        interprocess::entry(),
    ]
}

/// Is `key` a peer crate's row (`--only peers`)?
pub fn is_peer(key: &str) -> bool {
    all().iter().any(|e| e.mechanism.key == key)
}
