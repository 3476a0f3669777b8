//! iceoryx2 (zero-copy shared memory, its own service discovery) as a byte mechanism of the
//! harness: two publish-subscribe services, "ping" (parent to child) and "pong" (back), each
//! with one publisher and one subscriber of `[u8]` samples of the message's length. Two rows
//! share this code and differ in how a receiver waits: `iceoryx2` spins (`spin.rs`),
//! `iceoryx2-event` blocks on an event service's listener (`event.rs`).
//!
//! - **Zero copy, and where we copy.** A sender loans a sample in its publisher's segment and
//!   writes the message's pattern there (`send_message`); the subscriber gets that very memory,
//!   read-only, and checks it in place (`received`). An echo cannot send a received sample
//!   back (it lies in the other side's segment, read-only), so the echo is a new loan on the
//!   child's own publisher with the message copied into it: one memcpy per round trip, in the
//!   echo (a pipe makes four: in and out of the kernel, each way). A one-way stream copies
//!   nothing.
//! - **Waiting.** The spin row's receiver polls `receive` (`spin.rs`), the event row's
//!   sleeps in a listener until notified (`event.rs`). A sender whose subscriber's buffer is
//!   full, in either row, waits by iceoryx2's rule (10,000 `sched_yield`s, then sleeps of
//!   100 µs, then of 10 ms), and gives up once the reader's process is gone.
//! - **Peer death.** Each end holds the write end of a pipe its peer watches (shm-demo's
//!   liveness pipes): a receiver gives up with UnexpectedEof, a blocked sender with an error,
//!   once the peer process is gone, however it died.
//! - **Names and cleanup.** Each pair lives under its own root directory
//!   `<temp dir>/ipc-tour-iox-<pid>-<random>` (mode 0700, so a root run locks nobody out),
//!   and its shared memory under `/dev/shm/iox-<pid>-<random>_*` (iceoryx2's prefix, which
//!   also begins the event row's socket names: short, as a socket's path holds 107 bytes).
//!   A node is made after the fork, in its own process (`End::open`); the parent's node,
//!   dropped after the child is reaped, removes a killed child's node (iceoryx2's dead-node
//!   cleanup), then the pair removes its directory and anything left under its prefix
//!   (`resources.rs`). A run killed outright leaves both, tagged with a dead pid: swept next.

use std::io::{self, Read, Write};
use std::sync::{Arc, Once};
use std::time::{Duration, Instant};

use iceoryx2::port::update_connections::UpdateConnections;
use iceoryx2::port::{
    BackpressureAction, BackpressureInfo, publisher::Publisher, subscriber::Subscriber,
};
use iceoryx2::prelude::*;
use iceoryx2::sample::Sample;
use iceoryx2::sample_mut::SampleMut;
use iceoryx2::service::port_factory::PortFactory as _;
use iceoryx2::service::port_factory::publish_subscribe::PortFactory;
use plumbing::design::Row;
use plumbing::names::PrivateDir;

use crate::measure::bytes::{self, End, Pair};
use crate::measure::pattern;
use event::Events;
use resources::{
    Root, bad_name, failed, not_open, room_for, samples_only, sweep_stale, tighten_shm,
};
use shm_demo::{Liveness, liveness_pair};

/// The spin row's design-space row, in iceoryx2's words (the event row's: `event::DESIGN_ROW`).
pub const DESIGN_ROW: Row = Row {
    data: "shared memory, zero-copy",
    structure: "samples ([u8] here)",
    direction: "two-way (a service each way)",
    naming: "service name (iceoryx2)",
    coordination: "process spins on receive()",
    persistence: "until its last node leaves",
};

/// Root directories and shared-memory names of a pair: `<PREFIX><pid>-<random>`.
const PREFIX: &str = "ipc-tour-iox-";
/// Shared-memory names (and socket names) of a pair: `<SHM_PREFIX><pid>-<random>_`.
const SHM_PREFIX: &str = "iox-";
/// Samples a subscriber holds unread: room for a stream to run ahead of its reader.
const BUFFER: usize = 4;
/// Polls between two looks at the peer's liveness pipe (and a yield), as shm-demo's spin;
/// retries of a blocked sender between two looks.
const POLLS_PER_CHECK: u32 = 1024;
/// How long `open` waits for the peer's ports.
const OPEN_WAIT: Duration = Duration::from_secs(10);

type Pub = Publisher<ipc::Service, [u8], ()>;
type Sub = Subscriber<ipc::Service, [u8], ()>;
type Arrived = Sample<ipc::Service, [u8], ()>;
type Topic = PortFactory<ipc::Service, [u8], ()>;

/// How a receiver waits for a sample: all that tells the two iceoryx2 rows apart.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Waiting {
    /// Polls `receive` (`spin.rs`), the `iceoryx2` row.
    Spin,
    /// Blocks on a listener the sender notifies (`event.rs`), the `iceoryx2-event` row.
    Event,
}

/// One end of a pair: before `open`, only names; after, a node and its two ports.
pub struct IoxEnd {
    config: Config,
    /// the pair's names in /dev/shm start with this (iceoryx2's prefix)
    shm_prefix: String,
    /// (the service we publish on, the one we subscribe to)
    services: (String, String),
    size: usize,
    waiting: Waiting,
    /// Fields drop in order: the arrived sample and the ports and node before the root
    /// directory goes.
    arrived: Option<Arrived>,
    /// Test only (`--corrupt-after`): the byte of the arrived message its echo flips.
    flip: Option<usize>,
    ports: Option<Ports>,
    /// shm-demo's liveness pipes: ours, which the peer watches, and the peer's (shared with
    /// the publisher's backpressure handler).
    live: Arc<Liveness>,
    _root: Option<Root>,
}

/// A node and its ports (dropped in this order: ports, services, node).
struct Ports {
    publisher: Pub,
    subscriber: Sub,
    /// The event row's notifier and listener (and their services).
    events: Option<Events>,
    _topics: (Topic, Topic),
    _node: Node<ipc::Service>,
}

/// Two ends for `size`-byte messages: the parent's (publishes on "ping") and the child's.
/// Only names and pipes are made here, before the fork: iceoryx2's nodes are made in `open`.
pub fn duplex(size: usize, waiting: Waiting) -> io::Result<Pair> {
    let (parent, child) = pair(size, waiting)?;
    Ok((Box::new(parent), Box::new(child)))
}

fn pair(size: usize, waiting: Waiting) -> io::Result<(IoxEnd, IoxEnd)> {
    static SWEEP: Once = Once::new();
    SWEEP.call_once(sweep_stale);
    room_for(size)?;
    let dir = PrivateDir::create(PREFIX)?;
    let tag = dir.path().file_name().unwrap_or_default().to_string_lossy();
    let tag = tag.into_owned();
    let mut config = Config::default();
    let root_path = dir.path().as_os_str().as_encoded_bytes();
    config
        .global
        .set_root_path(&Path::new(root_path).map_err(bad_name(root_path))?);
    let prefix = format!("{SHM_PREFIX}{}_", tag.strip_prefix(PREFIX).unwrap_or(&tag));
    config.global.prefix = FileName::new(prefix.as_bytes()).map_err(bad_name(&prefix))?;
    let root = Root {
        dir: Some(dir),
        owner: std::process::id(),
        shm_prefix: prefix.clone(),
    };
    let name = |dir: &str| format!("ipc-tour/{tag}/{dir}");
    let (ours, theirs) = liveness_pair()?;
    let end = |services, live, root| IoxEnd {
        config: config.clone(),
        shm_prefix: prefix.clone(),
        services,
        size,
        waiting,
        arrived: None,
        flip: None,
        ports: None,
        live: Arc::new(live),
        _root: root,
    };
    Ok((
        end((name("ping"), name("pong")), ours, Some(root)),
        end((name("pong"), name("ping")), theirs, None),
    ))
}

impl IoxEnd {
    /// Makes this end's node and ports (in the process that will use them).
    fn make_ports(&mut self) -> io::Result<()> {
        let node = NodeBuilder::new()
            .config(&self.config)
            // compare's own handlers decide what SIGINT and SIGTERM do.
            .signal_handling_mode(SignalHandlingMode::Disabled)
            .create::<ipc::Service>()
            .map_err(failed("node"))?;
        let topic = |name: &str| -> io::Result<Topic> {
            node.service_builder(&ServiceName::new(name).map_err(bad_name(name))?)
                .publish_subscribe::<[u8]>()
                .max_publishers(1)
                .max_subscribers(1)
                .max_nodes(2)
                .history_size(0)
                .subscriber_max_buffer_size(BUFFER)
                .subscriber_max_borrowed_samples(1)
                // A full buffer makes the sender wait: no message is overwritten.
                .enable_safe_overflow(false)
                .open_or_create()
                .map_err(failed("publish_subscribe open_or_create"))
        };
        let (out, inn) = (topic(&self.services.0)?, topic(&self.services.1)?);
        let watch = Arc::clone(&self.live);
        let publisher = out
            .publisher_builder()
            .initial_max_slice_len(self.size)
            .allocation_strategy(AllocationStrategy::Static)
            .max_loaned_samples(1)
            .backpressure_strategy(BackpressureStrategy::RetryUntilDelivered)
            // A sender waiting on a full buffer gives up once the reader's process is gone.
            .set_backpressure_handler(move |info: &BackpressureInfo| {
                match info.retries.is_multiple_of(u64::from(POLLS_PER_CHECK)) && gone(&watch) {
                    true => BackpressureAction::DiscardDataAndFail,
                    false => BackpressureAction::Retry,
                }
            })
            .create()
            .map_err(failed("publisher"))?;
        let subscriber = inn
            .subscriber_builder()
            .create()
            .map_err(failed("subscriber"))?;
        let events = match self.waiting {
            Waiting::Event => Some(Events::open(&node, &self.services)?),
            Waiting::Spin => None,
        };
        self.ports = Some(Ports {
            publisher,
            subscriber,
            events,
            _topics: (out, inn),
            _node: node,
        });
        tighten_shm(&self.shm_prefix);
        Ok(())
    }

    /// Waits, bounded, until the peer's subscriber (and listener) is on our service (a sample
    /// or a notification sent before would reach nobody), then connects our publisher to it.
    fn wait_for_peer(&mut self) -> io::Result<()> {
        let ports = self.ports.as_ref().ok_or_else(not_open)?;
        let started = Instant::now();
        let listens = || ports.events.as_ref().is_none_or(Events::peer_listens);
        while ports._topics.0.dynamic_config().number_of_subscribers() == 0 || !listens() {
            if gone(&self.live) {
                return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "peer gone"));
            }
            if started.elapsed() > OPEN_WAIT {
                return Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    format!("no subscriber on {} within {OPEN_WAIT:?}", self.services.0),
                ));
            }
            std::thread::sleep(Duration::from_millis(1));
        }
        ports
            .publisher
            .update_connections()
            .map_err(failed("update_connections"))
    }

    /// Sends one message: `write` fills a fresh loan where it lies; the event row then
    /// notifies (after the sample is published, so that no wakeup comes before it).
    fn send_with(&self, write: impl FnOnce(&mut [u8])) -> io::Result<()> {
        let ports = self.ports.as_ref().ok_or_else(not_open)?;
        let uninit = ports.publisher.loan_slice_uninit(self.size);
        let uninit = uninit.map_err(failed("loan_slice_uninit"))?;
        // SAFETY: the slot lies in a shared mapping the kernel zero-filled when iceoryx2 sized
        // it, and every write it ever gets is of whole bytes (our patterns and copies): all
        // its bytes are initialized. The loan is ours alone until `send`; the subscriber
        // cannot write to it.
        let mut sample: SampleMut<ipc::Service, [u8], ()> = unsafe { uninit.assume_init() };
        write(sample.payload_mut());
        match sample.send().map_err(failed("send"))? {
            // iceoryx2 drops a sample, returning 0, when the reader has left or never
            // connected (see `open`): a message lost, said as one.
            0 => Err(io::Error::new(
                io::ErrorKind::BrokenPipe,
                "iceoryx2 send: delivered to no subscriber",
            )),
            _ => ports.events.as_ref().map_or(Ok(()), Events::notify),
        }
    }

    /// The next sample on our subscriber, waited for by the row's rule.
    fn next_sample(&self) -> io::Result<Arrived> {
        let ports = self.ports.as_ref().ok_or_else(not_open)?;
        match &ports.events {
            Some(events) => events.next_sample(&ports.subscriber, &self.live),
            None => spin::next_sample(&ports.subscriber, &self.live),
        }
    }
}

impl End for IoxEnd {
    /// Ports, then a handshake: a sample each way proves our subscriber connected to the
    /// peer's publisher, a second one that the peer's did to ours. Without it, a stream that
    /// fills the buffer before the child's first `receive` finds "no connected receiver",
    /// and iceoryx2 drops the sample.
    fn open(&mut self) -> io::Result<()> {
        self.make_ports()?;
        self.wait_for_peer()?;
        for _ in ["hello", "heard you"] {
            self.send_with(|_| ())?;
            self.next_sample()?;
        }
        Ok(())
    }

    fn send_message(&mut self, _: &mut [u8], seq: u64) -> io::Result<()> {
        self.send_with(|msg| bytes::fill(msg, seq))
    }

    /// Takes the next sample and keeps it where it arrived, to be checked in place.
    fn receive_message(&mut self, buf: &mut [u8]) -> io::Result<()> {
        self.arrived = None; // the last one goes back to its publisher first
        let sample = self.next_sample()?;
        if sample.payload().len() != buf.len() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!(
                    "a sample of {} bytes, expected {}",
                    sample.payload().len(),
                    buf.len()
                ),
            ));
        }
        self.arrived = Some(sample);
        Ok(())
    }

    fn received<'a>(&'a mut self, buf: &'a [u8]) -> &'a [u8] {
        match self.arrived.as_ref() {
            Some(sample) => sample.payload(),
            None => buf,
        }
    }

    fn alter_received(&mut self, _: &mut [u8], at: usize) {
        self.flip = Some(at);
    }

    /// The echo: a new loan on our publisher with the arrived message copied into it (the
    /// one copy of a round trip, see the module's header).
    fn echo_message(&mut self, _: &[u8]) -> io::Result<()> {
        let arrived = self
            .arrived
            .take()
            .ok_or_else(|| io::Error::other("nothing received to echo"))?;
        let flip = self.flip.take();
        self.send_with(|out| {
            out.copy_from_slice(arrived.payload());
            if let Some(at) = flip {
                out[at] ^= 0x01;
            }
        })
    }
}

/// iceoryx2 carries samples, not a byte stream: every message goes through the `End`
/// methods above, after `open`.
impl Read for IoxEnd {
    fn read(&mut self, _: &mut [u8]) -> io::Result<usize> {
        Err(samples_only())
    }
}

impl Write for IoxEnd {
    fn write(&mut self, _: &[u8]) -> io::Result<usize> {
        Err(samples_only())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Setup, both halves in this process: from nothing to one checked 64-byte message across,
/// and back to nothing (ports, nodes, services, directory and shared memory removed).
pub fn one_message(waiting: Waiting) -> io::Result<()> {
    let (mut a, mut b) = pair(64, waiting)?;
    a.make_ports()?;
    b.make_ports()?;
    a.wait_for_peer()?;
    b.wait_for_peer()?;
    a.send_with(|msg| pattern::fill(msg, 0))?;
    let mut buf = [0u8; 64];
    b.receive_message(&mut buf)?;
    pattern::check(b.received(&buf), 0)
        .map_err(|m| io::Error::new(io::ErrorKind::InvalidData, m.to_string()))
}

/// Has the peer's process gone (closed its liveness pipe, exited, been killed)? A failed
/// `poll` counts as not yet: the next look tries again.
fn gone(live: &Liveness) -> bool {
    live.peer_gone().unwrap_or(false)
}

pub mod event;
mod resources;
mod spin;
#[cfg(test)]
mod tests;
