//! The other processes of the tour: this program started again in a role, by a step or by hand.
//! `write`, `read` and `unlink` are TLPI's pshm_* programs, one operation each: the object
//! waits in /dev/shm between them. They own nothing that must be removed (the object is meant
//! to stay), so they keep the default action of Ctrl-C: it ends them at once.

pub mod memfd_receive; // the compositor of step 7: takes sealed memfds over a Unix socket
pub mod memfd_send; // the client of step 7: draws frames in memfds and passes them
pub mod read; // steps 5, 6 and 12: print the reading in a named object
pub mod unlink; // by hand: shm_unlink a name
pub mod write; // step 4: store a reading in a named object

/// The receiver's socket directory: `<temp dir>/ipc-tour-shm-sock-<pid>-<random>`.
pub const SOCKET_DIR_PREFIX: &str = "ipc-tour-shm-sock-";

/// The bytes the receiver sends back: frame 1 mapped, frame 2 seen, frame 3 checked.
const MAPPED: u8 = b'M';
const SAW_WRITE: u8 = b'W';
const DONE: u8 = b'D';

/// A role's lines are indented inside the tour's output, not when run by hand.
pub fn indent(parent_pid: Option<u32>) -> &'static str {
    if parent_pid.is_some() { "   " } else { "" }
}
