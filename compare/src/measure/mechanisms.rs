//! The mechanism table: every mechanism `compare` measures, each taken from its own demo
//! crate: what the report shows of it (`row::Mechanism`: key, label, design-space row) and how
//! the harness drives it ([`Transport`]). Nothing here moves a byte; it only names each crate's
//! endpoints and design-space row.

use std::io;

use plumbing::design;
use shm_demo::zero_copy;

use crate::measure::bytes::{End, Pair};
use crate::measure::doorbell::Doorbell;
#[cfg_attr(not(feature = "peers"), allow(unused_imports))]
use crate::row::{Mechanism, Wraps};

/// How the harness drives a mechanism.
#[derive(Clone, Copy)]
pub enum Transport {
    /// `duplex(msg_size)`: two `Read + Write` ends; `largest()` is the biggest message, when the
    /// mechanism has a limit it can tell us.
    /// `no_stream`: why a one-way stream cannot be timed (UDP, which drops what its reader
    /// has no room for), or None.
    Bytes {
        duplex: fn(usize) -> io::Result<Pair>,
        largest: Option<fn() -> io::Result<usize>>,
        no_stream: Option<&'static str>,
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

/// One entry of the mechanism table: what the report shows of it, and how to drive it.
#[derive(Clone, Copy)]
pub struct Entry {
    pub mechanism: Mechanism,
    pub transport: Transport,
}

impl Entry {
    pub fn new(
        key: &'static str,
        label: &'static str,
        design: design::Row,
        transport: Transport,
    ) -> Entry {
        let carries_bytes = transport.carries_bytes();
        Entry {
            mechanism: Mechanism {
                key,
                label,
                design,
                carries_bytes,
                wraps: None,
            },
            transport,
        }
    }

    /// A peer crate's entry, set against the lecture row `wraps.key` (`--features peers`).
    #[cfg_attr(not(feature = "peers"), allow(dead_code))]
    pub fn wrapping(mut self, wraps: Wraps) -> Entry {
        self.mechanism.wraps = Some(wraps);
        self
    }
}

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
        no_stream: None,
    }
}

/// Every mechanism built into this binary, in the lecture's order.
pub fn all() -> Vec<Entry> {
    let signal = Transport::Doorbell(Doorbell {
        block: signal_demo::block_doorbell,
        ring: signal_demo::ring,
        wait: signal_demo::wait_doorbell,
    });
    let mut rows = vec![
        Entry::new(
            "pipe",
            "pipe",
            pipe_demo::DESIGN_ROW,
            bytes(|n| boxed(pipe_demo::duplex(n))),
        ),
        Entry::new(
            "fifo",
            "FIFO",
            fifo_demo::DESIGN_ROW,
            bytes(|n| boxed(fifo_demo::duplex(n))),
        ),
        Entry::new("signal", "signal", signal_demo::DESIGN_ROW, signal),
    ];
    #[cfg(target_os = "linux")]
    rows.push(Entry::new(
        "mq",
        "POSIX mq",
        mq_demo::DESIGN_ROW,
        Transport::Bytes {
            duplex: |n| boxed(mq_demo::duplex(n)),
            largest: Some(mq_demo::msgsize_max),
            no_stream: None,
        },
    ));
    #[cfg(target_os = "linux")]
    rows.push(Entry::new(
        "sysv-mq",
        "SysV mq",
        mq_demo::SYSV_ROW,
        Transport::Bytes {
            duplex: |n| boxed(mq_demo::sysv_duplex(n)),
            largest: Some(mq_demo::sysv::largest_message),
            no_stream: None,
        },
    ));
    rows.extend([
        Entry::new(
            "shm-spin",
            "shm (spin)",
            shm_demo::SPIN_ROW,
            bytes(|n| boxed(shm_demo::spin_duplex(n))),
        ),
        Entry::new(
            "shm-blocking",
            "shm (blocking)",
            shm_demo::BLOCKING_ROW,
            bytes(|n| boxed(shm_demo::blocking_duplex(n))),
        ),
        Entry::new(
            "shm-zero-copy",
            "shm (zero-copy)",
            shm_demo::ZERO_COPY_ROW,
            Transport::InPlace(zero_copy::pair),
        ),
        Entry::new(
            "uds-stream",
            "UDS stream",
            uds_demo::STREAM_ROW,
            bytes(|n| boxed(uds_demo::stream_duplex(n))),
        ),
        Entry::new(
            "uds-datagram",
            "UDS datagram",
            uds_demo::DATAGRAM_ROW,
            bytes(|n| boxed(uds_demo::datagram_duplex(n))),
        ),
        Entry::new(
            "tcp",
            "TCP loopback",
            uds_demo::TCP_ROW,
            bytes(|n| boxed(uds_demo::tcp_duplex(n))),
        ),
        Entry::new(
            "udp",
            "UDP loopback",
            uds_demo::UDP_ROW,
            Transport::Bytes {
                duplex: |n| boxed(uds_demo::udp_duplex(n)),
                largest: Some(uds_demo::udp::largest_datagram),
                no_stream: Some(UDP_NO_STREAM),
            },
        ),
    ]);
    #[cfg(feature = "peers")]
    rows.extend(crate::measure::peers::all());
    rows
}

/// Why UDP has no one-way throughput (the round trips, one datagram in flight, lose none).
pub const UDP_NO_STREAM: &str = "UDP has no flow control: a one-way stream faster than its \
     reader loses datagrams (the kernel drops what the receive buffer has no room for), so \
     there is no lossless rate to time";

// One datagram per write and per read, as the UDS datagram end.
impl crate::measure::bytes::End for uds_demo::UdpEnd {}

/// Names `--only` accepts: every key, plus "shm" (every shm row), "uds" (both UDS rows) and,
/// built with `--features peers`, "peers" (every peer crate's row).
pub fn names() -> Vec<&'static str> {
    let mut names: Vec<&'static str> = all().iter().map(|e| e.mechanism.key).collect();
    names.extend(GROUPS);
    if cfg!(feature = "peers") {
        names.push(PEERS);
    }
    names
}

/// Names of a group of rows, each row's key the name and a dash: "shm" (every shm row), "uds".
/// A key that begins like another (`iceoryx2-event`) is no group: `--only iceoryx2` is that
/// row alone.
const GROUPS: [&str; 2] = ["shm", "uds"];

/// The group of every peer crate's row (`--only peers`).
pub const PEERS: &str = "peers";

/// The peer crates' rows and their group, which a build without `--features peers` lacks:
/// `--only` names them to say how to get them (see [`unbuilt`]).
pub const PEER_NAMES: [&str; 5] = [
    "iceoryx2",
    "iceoryx2-event",
    "ipc-channel",
    "interprocess",
    PEERS,
];

/// The names `--only` knows but this build does not have (the peer rows without
/// `--features peers`), so that asking for one says how to build it rather than that it does
/// not exist.
pub fn unbuilt() -> &'static [&'static str] {
    match cfg!(feature = "peers") {
        true => &[],
        false => &PEER_NAMES,
    }
}

/// Does `--only` name `m` (directly or through a group)?
pub fn selected(m: &Mechanism, only: &[String]) -> bool {
    only.is_empty()
        || only.iter().any(|name| {
            name == m.key
                || (name == PEERS && m.wraps.is_some())
                || (GROUPS.contains(&name.as_str())
                    && m.key
                        .strip_prefix(name.as_str())
                        .is_some_and(|rest| rest.starts_with('-')))
        })
}
