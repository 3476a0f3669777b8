//! POSIX message queues (mq_overview(7)) as a small library: the queue owner, the limits read
//! from /proc, the `Task` wire format, and the duplex endpoints that `compare` measures. System
//! V queues, their older sibling with message types and integer keys, come with their keyed
//! queues, stale sweep and duplex endpoints.
//!
//! Linux only: here a queue descriptor is a file descriptor, so it can be poll()ed, and the
//! limits live under /proc/sys/fs/mqueue. The tour's steps and roles use these same items.
#![cfg(target_os = "linux")]

mod endpoints;
mod queue;
mod queue_limits;
mod queue_names;
pub mod setups;
pub mod sysv;
mod sysv_endpoints;
pub mod sysv_keyed;
mod task;

use plumbing::design::Row;

pub use endpoints::{End, duplex};
pub use queue::Queue;
pub use queue_limits::{check_size, msg_max, msgsize_max, queues_max, rlimit_msgqueue};
pub use queue_names::{NAME_MAX, check_name, remove_stale_queues, unique_name};
pub use sysv_endpoints::{SysvEnd, sysv_duplex};
pub use task::{TASK_HEADER_LEN, TASK_VERSION, Task, TaskError};

/// The POSIX queue's row of the lecture's design-space table.
pub const DESIGN_ROW: Row = Row {
    data: "copy through kernel",
    structure: "messages, by priority",
    direction: "bidirectional",
    naming: "/name (mqueue fs)",
    coordination: "kernel blocks and wakes",
    persistence: "until mq_unlink or reboot",
};

/// The System V queue's row: the same kernel copy, but messages chosen by type, and a
/// system-wide integer key instead of a name.
pub const SYSV_ROW: Row = Row {
    data: "copy through kernel",
    structure: "messages, by type",
    direction: "bidirectional",
    naming: "integer key (ftok)",
    coordination: "kernel blocks and wakes",
    persistence: "until IPC_RMID or reboot",
};
