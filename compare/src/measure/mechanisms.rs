//! The rows: every mechanism `compare` measures, each taken from its own demo crate.
//! Nothing here moves a byte; it only names each crate's endpoints and design-space row.

use std::io;

use shm_demo::zero_copy;

use crate::measure::bytes::{End, Pair};
use crate::measure::doorbell::Doorbell;

/// How the harness drives a mechanism.
#[derive(Clone, Copy)]
pub enum Transport {
    /// `duplex(msg_size)`: two `Read + Write` ends; `largest()` is the biggest message, when the
    /// mechanism has a limit it can tell us.
    Bytes {
        duplex: fn(usize) -> io::Result<Pair>,
        largest: Option<fn() -> io::Result<usize>>,
    },
    /// Signals carry no bytes: ring and wait.
    Doorbell(Doorbell),
    /// Messages written and checked where they lie in shared memory: `pair(msg_size)` gives
    /// the sender (the parent) and the receiver (the child); the echo is the slot handed back.
    InPlace(fn(usize) -> io::Result<(zero_copy::Sender, zero_copy::Receiver)>),
}

impl Transport {
    /// Does every message carry bytes (a checked pattern)? A doorbell carries none.
    pub fn carries_bytes(&self) -> bool {
        !matches!(self, Transport::Doorbell(_))
    }
}

#[derive(Clone, Copy)]
pub struct Mechanism {
    /// the name on the command line (`--only pipe,shm-spin`)
    pub key: &'static str,
    /// the name in the table
    pub label: &'static str,
    /// the lecture's qualitative columns, from the demo crate
    pub design: [(&'static str, &'static str); 6],
    pub transport: Transport,
}

impl Mechanism {
    /// One qualitative column ("coordination", ...) of this row.
    pub fn design(&self, column: &str) -> &'static str {
        self.design
            .iter()
            .find(|(c, _)| *c == column)
            .map_or("?", |(_, v)| *v)
    }
}

/// The lecture's qualitative columns, in its order.
pub const COLUMNS: [&str; 6] = [
    "data",
    "structure",
    "direction",
    "naming",
    "coordination",
    "persistence",
];

fn boxed<A, B>(pair: io::Result<(A, B)>) -> io::Result<Pair>
where
    A: End + 'static,
    B: End + 'static,
{
    pair.map(|(a, b)| (Box::new(a) as _, Box::new(b) as _))
}

fn bytes(duplex: fn(usize) -> io::Result<Pair>) -> Transport {
    Transport::Bytes {
        duplex,
        largest: None,
    }
}

/// Every mechanism built into this binary, in the lecture's order.
pub fn all() -> Vec<Mechanism> {
    let mut rows = vec![
        Mechanism {
            key: "pipe",
            label: "pipe",
            design: pipe_demo::DESIGN_ROW,
            transport: bytes(|n| boxed(pipe_demo::duplex(n))),
        },
        Mechanism {
            key: "fifo",
            label: "FIFO",
            design: fifo_demo::DESIGN_ROW,
            transport: bytes(|n| boxed(fifo_demo::duplex(n))),
        },
        Mechanism {
            key: "signal",
            label: "signal",
            design: signal_demo::DESIGN_ROW,
            transport: Transport::Doorbell(Doorbell {
                block: signal_demo::block_doorbell,
                ring: signal_demo::ring,
                wait: signal_demo::wait_doorbell,
            }),
        },
    ];
    #[cfg(target_os = "linux")]
    rows.push(Mechanism {
        key: "mq",
        label: "POSIX mq",
        design: mq_demo::DESIGN_ROW,
        transport: Transport::Bytes {
            duplex: |n| boxed(mq_demo::duplex(n)),
            largest: Some(mq_demo::msgsize_max),
        },
    });
    #[cfg(target_os = "linux")]
    rows.push(Mechanism {
        key: "sysv-mq",
        label: "SysV mq",
        design: mq_demo::SYSV_ROW,
        transport: Transport::Bytes {
            duplex: |n| boxed(mq_demo::sysv_duplex(n)),
            largest: Some(mq_demo::sysv::largest_message),
        },
    });
    rows.extend([
        Mechanism {
            key: "shm-spin",
            label: "shm (spin)",
            design: shm_demo::SPIN_ROW,
            transport: bytes(|n| boxed(shm_demo::spin_duplex(n))),
        },
        Mechanism {
            key: "shm-blocking",
            label: "shm (blocking)",
            design: shm_demo::BLOCKING_ROW,
            transport: bytes(|n| boxed(shm_demo::blocking_duplex(n))),
        },
        Mechanism {
            key: "shm-zero-copy",
            label: "shm (zero-copy)",
            design: shm_demo::ZERO_COPY_ROW,
            transport: Transport::InPlace(zero_copy::pair),
        },
        Mechanism {
            key: "uds-stream",
            label: "UDS stream",
            design: uds_demo::STREAM_ROW,
            transport: bytes(|n| boxed(uds_demo::stream_duplex(n))),
        },
        Mechanism {
            key: "uds-datagram",
            label: "UDS datagram",
            design: uds_demo::DATAGRAM_ROW,
            transport: bytes(|n| boxed(uds_demo::datagram_duplex(n))),
        },
        Mechanism {
            key: "tcp",
            label: "TCP loopback",
            design: uds_demo::TCP_ROW,
            transport: bytes(|n| boxed(uds_demo::tcp_duplex(n))),
        },
    ]);
    rows
}

/// Names `--only` accepts: every key, plus "shm" (every shm row) and "uds" (both UDS rows).
pub fn names() -> Vec<&'static str> {
    let mut names: Vec<&'static str> = all().iter().map(|m| m.key).collect();
    names.extend(["shm", "uds"]);
    names
}

/// Does `--only` name `m` (directly or through a group)?
pub fn selected(m: &Mechanism, only: &[String]) -> bool {
    only.is_empty()
        || only.iter().any(|name| {
            name == m.key
                || m.key
                    .strip_prefix(name.as_str())
                    .is_some_and(|rest| rest.starts_with('-'))
        })
}
