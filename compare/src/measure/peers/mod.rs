//! Rows for IPC crates a Rust engineer would pick instead of the system calls (`--features
//! peers`): each crate's own API, driven through the same harness as the kernel rows (both
//! placements, the same rounds and statistic, every message checked by both processes, CPU
//! per message, setup). Each file says what its crate does underneath, and its design-space
//! row says it in the table. Each is set against the lecture row it wraps (`Wraps`): the
//! report's lessons and verdicts about the lecture look at the lecture's rows only, and one
//! line of its own sets each crate against its row.

use std::io;

use plumbing::design::Row;

use crate::measure::bytes::Pair;
use crate::measure::mechanisms::{Entry, Transport};
use crate::row::Wraps;

/// How the harness makes a pair of ends for a message size.
type Duplex = fn(usize) -> io::Result<Pair>;

pub mod iceoryx2;
pub mod interprocess;
pub mod ipc_channel;

/// Every peer crate's row, after the kernel rows: its key, label, design-space row, pair of
/// ends, and the lecture row it is set against.
pub fn all() -> Vec<Entry> {
    use iceoryx2::Waiting;
    let rows: [(&str, &str, Row, Duplex, Wraps); 4] = [
        (
            "iceoryx2",
            "iceoryx2",
            iceoryx2::DESIGN_ROW,
            |n| iceoryx2::duplex(n, Waiting::Spin),
            Wraps {
                key: "shm-zero-copy",
                why: "slots lent in shared memory, as its samples are",
            },
        ),
        (
            "iceoryx2-event",
            "iceoryx2 (event)",
            iceoryx2::event::DESIGN_ROW,
            |n| iceoryx2::duplex(n, Waiting::Event),
            Wraps {
                key: "shm-blocking",
                why: "a receiver asleep in the kernel until woken, as its listener is",
            },
        ),
        (
            "ipc-channel",
            "ipc-channel",
            ipc_channel::DESIGN_ROW,
            ipc_channel::duplex,
            Wraps {
                key: "uds-datagram",
                why: "the nearest row that keeps boundaries",
            },
        ),
        (
            "interprocess",
            "interprocess",
            interprocess::DESIGN_ROW,
            |n| interprocess::duplex(n).map(|(a, b)| (Box::new(a) as _, Box::new(b) as _)),
            Wraps {
                key: "uds-stream",
                why: "the same socket",
            },
        ),
    ];
    rows.into_iter()
        .map(|(key, label, design, duplex, wraps)| {
            let transport = Transport::Bytes {
                duplex,
                largest: None,
                no_stream: None,
            };
            Entry::new(key, label, design, transport).wrapping(wraps)
        })
        .collect()
}
