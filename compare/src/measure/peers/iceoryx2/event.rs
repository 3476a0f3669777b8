//! The iceoryx2 row's blocking counterpart, "iceoryx2 (event)": what a Rust engineer writes when
//! a receiver should sleep rather than spin. Beside each publish-subscribe service, an event
//! service of the same name (iceoryx2's event messaging pattern): the sending side holds its
//! Notifier, the receiving side its Listener. A sender publishes, then notifies; a receiver
//! that finds no sample blocks in its listener until notified, then takes the sample.
//!
//! - **Underneath.** iceoryx2's `ipc` event on Linux (`iceoryx2_cal::event::recommended::Ipc`,
//!   0.10) is a Unix datagram socket per listener, a file in the pair's 0700 root directory,
//!   made 0600 by iceoryx2, plus a bit set in a shared-memory object under the pair's prefix.
//!   `notify` sets the event's bit and sends one byte, unless a notification is still pending
//!   (then it sends nothing: notifications coalesce); a listener blocks in `recvfrom` on its
//!   socket, then empties the socket and the bit set. strace of a run shows, per message, the
//!   sender's one `sendto` of one byte and the receiver's wait: `fcntl` twice (blocking),
//!   `setsockopt(SO_RCVTIMEO)`, `recvfrom` (asleep here), `fcntl` twice (non-blocking) and a
//!   `recvfrom` that finds the socket empty; no futex. The lecture's "shm (blocking)" row
//!   sleeps on a futex in the mapping, one system call a side when the other waits.
//! - **Waiting, and peer death.** A receiver waits in slices of [`SLICE`]
//!   (`Listener::timed_wait`: the same system calls as its `blocking_wait`, which sets a long
//!   timeout each time) and looks at the peer's liveness pipe only when a slice ends with no
//!   notification: a dead peer is noticed within one slice, at no cost per message. One
//!   wait on both (iceoryx2's WaitSet with the liveness pipe's read end attached beside the
//!   listener) would need that pipe's descriptor, which shm-demo's `Liveness` does not lend
//!   out.
//! - **No lost wakeup, no stale one.** A sender notifies only after its sample is published,
//!   and a receiver looks for a sample before every wait: a notification that came before
//!   the wait, or for a sample already taken, wakes the next wait at once, which consumes every
//!   pending notification (iceoryx2 empties the socket and the bit set), and the receiver
//!   looks again. Coalesced notifications lose nothing: the receiver takes one sample per
//!   message, and looks before it waits.
//! - **A blocked sender** (the subscriber's buffer full, in a one-way stream) keeps the spin
//!   row's rule: iceoryx2 offers no wait for room in a subscriber's buffer short of a second
//!   event service the other way, so its publisher retries by its own rule (yields, then
//!   sleeps), watching the liveness pipe.

use std::io;
use std::time::Duration;

use iceoryx2::port::listener::{Listener, ListenerWaitError};
use iceoryx2::port::notifier::Notifier;
use iceoryx2::prelude::*;
use iceoryx2::service::port_factory::PortFactory as _;
use iceoryx2::service::port_factory::event::PortFactory;
use plumbing::design::Row;
use shm_demo::Liveness;

use super::resources::{bad_name, failed};
use super::{Arrived, Sub, gone};

/// The design-space row, in iceoryx2's words: what differs from the spin row is the wait.
pub const DESIGN_ROW: Row = Row {
    data: "shared memory, zero-copy",
    structure: "samples ([u8] here)",
    direction: "two-way (a service each way)",
    naming: "service name (iceoryx2)",
    coordination: "blocks on a listener (a Unix datagram socket)",
    persistence: "until its last node leaves",
};

/// How long one wait lasts before the receiver looks at its peer's liveness pipe.
const SLICE: Duration = Duration::from_millis(100);
/// Bytes of a Unix socket's path (`sun_path`, less its closing NUL).
const SUN_PATH_MAX: usize = 107;
/// The fewest digits of a listener's id in its socket's name (a u128, 30 or more seen).
const ID_DIGITS: usize = 30;

type Topic = PortFactory<ipc::Service>;

/// A side's event ports: it notifies on the service it publishes on, listens on the other.
pub(super) struct Events {
    notifier: Notifier<ipc::Service>,
    listener: Listener<ipc::Service>,
    /// (ours, the peer's): the services outlive their ports.
    topics: (Topic, Topic),
}

impl Events {
    /// The event services named as the publish-subscribe ones (`services`: ours, the peer's),
    /// and their ports.
    pub(super) fn open(node: &Node<ipc::Service>, services: &(String, String)) -> io::Result<Self> {
        let topic = |name: &str| -> io::Result<Topic> {
            node.service_builder(&ServiceName::new(name).map_err(bad_name(name))?)
                .event()
                .max_notifiers(1)
                .max_listeners(1)
                .max_nodes(2)
                .open_or_create()
                .map_err(failed("event open_or_create"))
        };
        let (out, inn) = (topic(&services.0)?, topic(&services.1)?);
        let notifier = out
            .notifier_builder()
            .create()
            .map_err(failed("notifier"))?;
        let listener = inn
            .listener_builder()
            .create()
            .map_err(|e| path_too_long(node.config()).unwrap_or_else(|| failed("listener")(e)))?;
        Ok(Self {
            notifier,
            listener,
            topics: (out, inn),
        })
    }

    /// Is the peer's listener on our event service yet (a notification before would reach
    /// nobody)?
    pub(super) fn peer_listens(&self) -> bool {
        self.topics.0.dynamic_config().number_of_listeners() > 0
    }

    /// Wakes the peer's listener: called after the sample is published.
    pub(super) fn notify(&self) -> io::Result<()> {
        match self.notifier.notify().map_err(failed("notify"))? {
            0 => Err(io::Error::new(
                io::ErrorKind::BrokenPipe,
                "iceoryx2 notify: no listener",
            )),
            _ => Ok(()),
        }
    }

    /// The next sample on `subscriber`: look, and if none is there, wait for a notification
    /// (module header); UnexpectedEof once the peer is gone and nothing is left to take.
    pub(super) fn next_sample(&self, subscriber: &Sub, live: &Liveness) -> io::Result<Arrived> {
        loop {
            if let Some(sample) = subscriber.receive().map_err(failed("receive"))? {
                return Ok(sample);
            }
            let woken = match self.listener.timed_wait(|_| (), SLICE) {
                Ok(events) => events > 0,
                // A signal (compare's handlers run, a child is reaped): look again.
                Err(ListenerWaitError::InterruptSignal) => false,
                Err(e) => return Err(failed("listener timed_wait")(e)),
            };
            if !woken && gone(live) {
                // A message sent just before the peer left still counts.
                let last = subscriber.receive().map_err(failed("receive"))?;
                return last.ok_or_else(|| io::ErrorKind::UnexpectedEof.into());
            }
        }
    }
}

/// Why a listener could not be made, when its socket's path (`<root>/<prefix><id><suffix>`)
/// cannot fit a Unix socket address: the root directory lies in the temporary directory, so
/// a long TMPDIR leaves no room (iceoryx2 says only ResourceCreationFailed).
fn path_too_long(config: &Config) -> Option<io::Error> {
    let global = &config.global;
    let suffix = global.service.event_connection_suffix.len();
    let root = global.root_path().len();
    let least = root + 1 + global.prefix.len() + ID_DIGITS + suffix;
    (least > SUN_PATH_MAX).then(|| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            format!(
                "iceoryx2 listener: its socket's path would take at least {least} bytes, \
                 over the {SUN_PATH_MAX} of a Unix socket address (a shorter TMPDIR fixes it)"
            ),
        )
    })
}
