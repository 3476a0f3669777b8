//! Setup cost, like for like. Each row lists the ways its channel can be made, each one timed
//! from nothing to a two-way channel that has carried one checked 64-byte message, and back to
//! nothing (every descriptor closed, every name removed). A mechanism with names is measured in
//! its named form (the names created exclusively, mode 0600, opened or connected, removed) and,
//! where it has one, in its anonymous form (the peer would inherit it through fork); shared
//! memory also as a sealed memfd handed over a Unix socket. Both halves run in this process and
//! nothing is forked: a fork costs the same for every row.
//!
//! Rows are found by their key ([`of`]), so a row without entries just reports that. The names
//! of path-named objects live in a private directory (0700) made once per measurement, outside
//! the timing: every path-named mechanism needs one, and it costs the same for each.
//!
//! The ways themselves: `setups/streams.rs` (pipes, FIFOs, the doorbell, Unix and TCP
//! sockets), `setups/queues.rs` (POSIX and System V queues), `setups/shm.rs` (shared memory:
//! named, anonymous, a memfd passed over a socket).

mod queues;
mod shm;
mod streams;

use std::fs::{self, Permissions};
use std::io::{self, Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::sync::Once;
use std::time::Instant;

use plumbing::names::PrivateDir;
use plumbing::{stats, stop};

use crate::measure::pattern;
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

/// Every way `key`'s channel can be made, the headline first: the named form where the
/// mechanism has names, else its only form. Empty for a row with no entries here.
pub fn of(key: &str) -> &'static [Setup] {
    match key {
        "pipe" => &[Setup {
            label: "anonymous: 2 x pipe",
            run: streams::pipes,
        }],
        "fifo" => &[Setup {
            label: "named: 2 x mkfifo, open both ends",
            run: streams::fifos,
        }],
        "signal" => &[Setup {
            label: "no object: ring ourselves by pid",
            run: streams::ring_ourselves,
        }],
        #[cfg(target_os = "linux")]
        "mq" => &[Setup {
            label: "named: 2 x mq_open + mq_unlink",
            run: queues::queues,
        }],
        "sysv-mq" => &[
            Setup {
                label: "named: 2 x msgget(key) + IPC_RMID",
                run: queues::sysv_named,
            },
            Setup {
                label: "private: 2 x msgget(IPC_PRIVATE) + IPC_RMID",
                run: queues::sysv_private,
            },
        ],
        "uds-stream" => &[
            Setup {
                label: "named: bind + listen + connect + accept",
                run: streams::unix_stream_named,
            },
            Setup {
                label: "anonymous: socketpair",
                run: streams::unix_stream_pair,
            },
        ],
        "uds-datagram" => &[
            Setup {
                label: "named: 2 x bind + 2 x connect",
                run: streams::unix_datagram_named,
            },
            Setup {
                label: "anonymous: socketpair",
                run: streams::unix_datagram_pair,
            },
        ],
        "tcp" => &[Setup {
            label: "named: bind + listen + connect + accept",
            run: streams::tcp_named,
        }],
        shm if shm.starts_with("shm") => &[
            Setup {
                label: "named: shm_open + ftruncate + mmap",
                run: shm::shm_named,
            },
            Setup {
                label: "anonymous: mmap MAP_SHARED",
                run: shm::shm_anonymous,
            },
            Setup {
                label: "memfd: seal, pass (SCM_RIGHTS), mmap",
                run: shm::memfd_handoff,
            },
        ],
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

/// Sends one 64-byte message from `from` to `to` and checks it.
fn one_message(from: &mut impl Write, to: &mut impl Read) -> io::Result<()> {
    let mut buf = [0u8; MESSAGE];
    pattern::fill(&mut buf, 0);
    from.write_all(&buf)?;
    buf.fill(0);
    to.read_exact(&mut buf)?;
    checked(&buf)
}

/// `buf` is message 0 of the payload pattern, or InvalidData.
fn checked(buf: &[u8]) -> io::Result<()> {
    pattern::check(buf, 0).map_err(|m| io::Error::new(io::ErrorKind::InvalidData, m.to_string()))
}

/// `call` with its error as io::Error, naming the call.
fn sys<T>(call: &str, result: nix::Result<T>) -> io::Result<T> {
    result.map_err(|e| io::Error::new(io::Error::from(e).kind(), format!("{call}: {e}")))
}

/// Mode exactly 0600 on a path, whatever the umask took away when it was created.
fn chmod_600(path: &Path) -> io::Result<()> {
    fs::set_permissions(path, Permissions::from_mode(0o600))
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
        ] {
            assert!(!of(key).is_empty(), "{key}");
            for entry in of(key) {
                let us = measure(entry, 3);
                assert!(matches!(us, Ok(us) if us > 0.0), "{key}, {}", entry.label);
            }
        }
        assert!(of("no-such-row").is_empty());
    }
}
