//! Setup cost, like for like. Each row lists the ways its channel can be made, each one timed
//! from nothing to a two-way channel that has carried one checked 64-byte message, and back to
//! nothing (every descriptor closed, every name removed). A mechanism with names is measured in
//! its named form (the names created exclusively, mode 0600, opened or connected, removed) and,
//! where it has one, in its anonymous form (the peer would inherit it through fork); shared
//! memory also as a sealed memfd handed over a Unix socket. Both halves run in this process and
//! nothing is forked: a fork costs the same for every row.
//!
//! The channels are made by each mechanism's own crate (its `duplex`, `setups` and the like);
//! this file holds the table (key -> labels and those calls), the timing, the one checked
//! message and the close. Rows are found by their key ([`of`]), so a row without entries just
//! reports that. The names of path-named objects live in a private directory (0700) made once
//! per measurement, outside the timing: every path-named mechanism needs one, and it costs the
//! same for each.

use std::io::{self, Read, Write};
use std::os::unix::net::UnixDatagram;
use std::path::Path;
use std::sync::Once;
use std::time::{Duration, Instant};

use nix::unistd::getpid;
use plumbing::names::PrivateDir;
use plumbing::{stats, stop};
use shm_demo::setups::{self as shm, View};

use crate::measure::pattern;
#[cfg(feature = "peers")]
use crate::measure::peers;
use crate::row::Skip;

/// One way to make a row's channel.
#[derive(Clone, Copy)]
pub struct Setup {
    /// what is timed, said in its system calls: "named: bind + listen + connect + accept"
    pub label: &'static str,
    /// One setup: from nothing to one checked message across, then everything closed and
    /// removed. `dir` is a private directory for path names, made once outside the timing.
    pub run: fn(dir: &Path) -> io::Result<()>,
}

/// What the shm rows map for 64-byte messages: two rings of 64 KiB, each with its 256-byte
/// control block.
const SHM_LEN: usize = 2 * 256 + 2 * (64 << 10);

/// Every way `key`'s channel can be made, the headline first: the named form where the
/// mechanism has names, else its only form. Empty for a row with no entries here.
pub fn of(key: &str) -> &'static [Setup] {
    match key {
        "pipe" => &[Setup {
            label: "anonymous: 2 x pipe",
            run: |_| stream(pipe_demo::duplex(MESSAGE)?),
        }],
        "fifo" => &[Setup {
            label: "named: 2 x mkfifo, open both ends",
            run: |dir| stream(fifo_demo::duplex_in(dir)?),
        }],
        "signal" => &[Setup {
            label: "no object: ring ourselves by pid",
            run: |_| ring_ourselves(),
        }],
        #[cfg(target_os = "linux")]
        "mq" => &[Setup {
            label: "named: 2 x mq_open + mq_unlink",
            run: |_| queue(mq_demo::setups::queues(MESSAGE)?),
        }],
        #[cfg(target_os = "linux")]
        "sysv-mq" => &[
            Setup {
                label: "named: 2 x msgget(key) + IPC_RMID",
                run: |_| sysv(mq_demo::setups::sysv_keyed()?),
            },
            Setup {
                label: "private: 2 x msgget(IPC_PRIVATE) + IPC_RMID",
                run: |_| sysv(mq_demo::setups::sysv_private()?),
            },
        ],
        "uds-stream" => &[
            Setup {
                label: "named: bind + listen + connect + accept",
                run: |dir| stream(uds_demo::setups::stream_named(dir)?),
            },
            Setup {
                label: "anonymous: socketpair",
                run: |_| stream(uds_demo::stream_duplex(MESSAGE)?),
            },
        ],
        "uds-datagram" => &[
            Setup {
                label: "named: 2 x bind + 2 x connect",
                run: |dir| datagram(uds_demo::setups::datagram_named(dir)?),
            },
            Setup {
                label: "anonymous: socketpair",
                run: |_| datagram(uds_demo::setups::datagram_pair()?),
            },
        ],
        "tcp" => &[Setup {
            label: "named: bind + listen + connect + accept",
            run: |_| stream(uds_demo::tcp_duplex(MESSAGE)?),
        }],
        "udp" => &[Setup {
            label: "named: 2 x bind 127.0.0.1 + 2 x connect",
            run: |_| udp(uds_demo::udp::udp_pair()?),
        }],
        shm if shm.starts_with("shm") => &[
            Setup {
                label: "named: shm_open + ftruncate + mmap",
                run: |_| views(shm::named(SHM_LEN)?),
            },
            Setup {
                label: "anonymous: mmap MAP_SHARED",
                run: |_| {
                    let mut view = shm::anonymous(SHM_LEN)?;
                    written_and_checked(&mut view, None)
                },
            },
            Setup {
                label: "memfd: seal, pass (SCM_RIGHTS), mmap",
                run: |_| views(shm::memfd_handoff(SHM_LEN)?),
            },
        ],
        #[cfg(feature = "peers")]
        "ipc-channel" => &[
            Setup {
                label: "named: one-shot server + connect + accept",
                run: |dir| one_shot(peers::ipc_channel::one_shot(dir)?),
            },
            Setup {
                label: "anonymous: 2 x ipc::channel (socketpair)",
                run: |_| typed(peers::ipc_channel::channels()?),
            },
        ],
        #[cfg(feature = "peers")]
        "interprocess" => &[
            Setup {
                label: "named: bind + listen + connect + accept",
                run: |dir| stream(peers::interprocess::duplex_in(dir)?),
            },
            Setup {
                label: "abstract: bind + listen + connect + accept",
                run: |_| stream(peers::interprocess::duplex_abstract()?),
            },
        ],
        #[cfg(feature = "peers")]
        "iceoryx2" => &[Setup {
            label: "named: 2 nodes, 2 services, 4 ports",
            run: |_| peers::iceoryx2::one_message(peers::iceoryx2::Waiting::Spin),
        }],
        #[cfg(feature = "peers")]
        "iceoryx2-event" => &[Setup {
            label: "named: 2 nodes, 4 services, 8 ports",
            run: |_| peers::iceoryx2::one_message(peers::iceoryx2::Waiting::Event),
        }],
        _ => &[],
    }
}

/// Private directories of setup measurements: `<temp dir>/ipc-tour-compare-<pid>-<random>`.
const DIR_PREFIX: &str = "ipc-tour-compare-";

/// Times `setup` `reps` times; the median in microseconds.
pub fn measure(setup: &Setup, reps: usize) -> Result<f64, Skip> {
    static SWEEP: Once = Once::new();
    SWEEP.call_once(|| {
        // What a run killed in the middle of a setup can have left, ours by uid, pid dead.
        PrivateDir::sweep_stale(DIR_PREFIX);
        shm::remove_stale();
        #[cfg(target_os = "linux")]
        mq_demo::remove_stale_queues();
    });
    let failed = |e: io::Error| Skip::Failed(e.to_string());
    let dir = PrivateDir::create(DIR_PREFIX).map_err(failed)?;
    let mut times = Vec::with_capacity(reps);
    for _ in 0..reps {
        if stop::requested().is_some() {
            return Err(Skip::Stopped);
        }
        let t0 = Instant::now();
        (setup.run)(dir.path()).map_err(failed)?;
        times.push(t0.elapsed().as_nanos() as u64);
    }
    median_us(&mut times)
}

/// The size of the one message every setup carries.
const MESSAGE: usize = 64;

/// Message 0 of the payload pattern.
fn message() -> [u8; MESSAGE] {
    let mut buf = [0u8; MESSAGE];
    pattern::fill(&mut buf, 0);
    buf
}

/// `buf` is message 0 of the payload pattern, or InvalidData.
fn checked(buf: &[u8]) -> io::Result<()> {
    pattern::check(buf, 0).map_err(|m| io::Error::new(io::ErrorKind::InvalidData, m.to_string()))
}

/// One message from `.0` to `.1`, checked; then both ends close.
fn stream((mut from, mut to): (impl Write, impl Read)) -> io::Result<()> {
    from.write_all(&message())?;
    let mut buf = [0u8; MESSAGE];
    to.read_exact(&mut buf)?;
    checked(&buf)
}

/// One datagram from `.0` to `.1`, whole and checked.
fn datagram((from, to): (UnixDatagram, UnixDatagram)) -> io::Result<()> {
    from.send(&message())?;
    let mut buf = [0u8; MESSAGE];
    match to.recv(&mut buf)? {
        MESSAGE => checked(&buf),
        n => Err(io::Error::other(format!(
            "a {n}-byte datagram, sent {MESSAGE}"
        ))),
    }
}

/// One UDP datagram from `.0` to `.1`, whole and checked.
fn udp((from, to): (std::net::UdpSocket, std::net::UdpSocket)) -> io::Result<()> {
    from.send(&message())?;
    let mut buf = [0u8; MESSAGE];
    match to.recv(&mut buf)? {
        MESSAGE => checked(&buf),
        n => Err(io::Error::other(format!(
            "a {n}-byte datagram, sent {MESSAGE}"
        ))),
    }
}

/// ipc-channel's named form: message 0 sent through the one-shot server's name, taken and
/// checked as it accepts.
#[cfg(feature = "peers")]
fn one_shot((server, sender): peers::ipc_channel::OneShot) -> io::Result<()> {
    let sent = |e| io::Error::other(format!("send: {e}"));
    sender.send(message().to_vec()).map_err(sent)?;
    let (_receiver, value) = server
        .accept()
        .map_err(|e| io::Error::other(format!("accept: {e}")))?;
    typed_checked(&value)
}

/// Message 0 as a value over the first of two channels, received and checked.
#[cfg(feature = "peers")]
fn typed(
    ((tx, rx), _back): (peers::ipc_channel::Channel, peers::ipc_channel::Channel),
) -> io::Result<()> {
    let sent = |e| io::Error::other(format!("send: {e}"));
    tx.send(message().to_vec()).map_err(sent)?;
    typed_checked(&peers::ipc_channel::received(rx.recv())?)
}

/// A received value: exactly message 0.
#[cfg(feature = "peers")]
fn typed_checked(value: &[u8]) -> io::Result<()> {
    match value.len() {
        MESSAGE => checked(value),
        n => Err(io::Error::other(format!(
            "a {n}-byte value, sent {MESSAGE}"
        ))),
    }
}

/// One POSIX queue used both ways: a message sent on it and taken back by its sender.
#[cfg(target_os = "linux")]
pub fn own_queue_message() -> io::Result<()> {
    queue(mq_demo::setups::queues(MESSAGE)?)
}

/// One System V queue used both ways, as [`own_queue_message`].
#[cfg(target_os = "linux")]
pub fn own_sysv_message() -> io::Result<()> {
    sysv(mq_demo::setups::sysv_private()?)
}

/// One message sent on the first queue and received from it (both ends share it).
#[cfg(target_os = "linux")]
fn queue((first, _second): (mq_demo::Queue, mq_demo::Queue)) -> io::Result<()> {
    first
        .send(&message(), 0)
        .map_err(|e| first.error("mq_send", e))?;
    let mut buf = [0u8; MESSAGE];
    first
        .receive(&mut buf)
        .map_err(|e| first.error("mq_receive", e))?;
    checked(&buf)
}

/// One message of type 1 sent on the first queue and received from it.
#[cfg(target_os = "linux")]
fn sysv((first, _second): (mq_demo::sysv::SysvQueue, mq_demo::sysv::SysvQueue)) -> io::Result<()> {
    let mut buf = mq_demo::sysv::MsgBuf::new(MESSAGE);
    buf.text_mut().copy_from_slice(&message());
    let failed = |call: &str, e: nix::Error| io::Error::other(format!("{call}: {e}"));
    first
        .send(1, &mut buf, MESSAGE, 0)
        .map_err(|e| failed("msgsnd", e))?;
    buf.text_mut().fill(0);
    match first
        .receive(0, &mut buf, 0)
        .map_err(|e| failed("msgrcv", e))?
    {
        MESSAGE => checked(buf.text()),
        n => Err(io::Error::other(format!(
            "msgrcv: {n} bytes, sent {MESSAGE}"
        ))),
    }
}

/// A message written through one view and checked through the other.
fn views((mut ours, theirs): (View, View)) -> io::Result<()> {
    written_and_checked(&mut ours, Some(&theirs))
}

/// The message written through `view` and read back through `other` (or `view` itself).
fn written_and_checked(view: &mut View, other: Option<&View>) -> io::Result<()> {
    view.write(&message())?;
    let mut buf = [0u8; MESSAGE];
    other.unwrap_or(view).read(&mut buf)?;
    checked(&buf)
}

/// The doorbell, which carries no bytes: rung to ourselves and taken.
fn ring_ourselves() -> io::Result<()> {
    signal_demo::block_doorbell()?;
    signal_demo::ring(getpid())?;
    match signal_demo::wait_doorbell(Duration::from_secs(2))? {
        true => Ok(()),
        false => Err(io::Error::other("no ring arrived within 2 s")),
    }
}

/// The median of `times` (nanoseconds), in microseconds: a setup measurement's result.
fn median_us(times: &mut [u64]) -> Result<f64, Skip> {
    let summary =
        stats::summarize(times).ok_or_else(|| Skip::Failed("no setup samples".to_string()))?;
    Ok(summary.p50 as f64 / 1000.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_entry_makes_its_channel_and_carries_the_message() {
        // Not "signal": ringing ourselves would reach any thread of the test harness.
        for key in [
            "pipe",
            "fifo",
            "mq",
            "sysv-mq",
            "shm-spin",
            "uds-stream",
            "uds-datagram",
            "tcp",
            "udp",
        ] {
            assert!(!of(key).is_empty(), "{key}");
            for entry in of(key) {
                let us = measure(entry, 3);
                assert!(matches!(us, Ok(us) if us > 0.0), "{key}, {}", entry.label);
            }
        }
        assert!(of("no-such-row").is_empty());
    }

    #[cfg(feature = "peers")]
    #[test]
    fn every_peer_entry_makes_its_channel_and_carries_the_message() {
        for key in ["ipc-channel", "interprocess"] {
            assert_eq!(of(key).len(), 2, "{key}");
            for entry in of(key) {
                let us = measure(entry, 3);
                assert!(matches!(us, Ok(us) if us > 0.0), "{key}, {}", entry.label);
            }
        }
    }
}
