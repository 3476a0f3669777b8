//! The `iceoryx2` row's waiting rule. A receiver polls `Subscriber::receive` as shm-demo's spin
//! ring polls its slot: `spin_loop` between polls, and every 1024 polls one `poll` of the peer's
//! liveness pipe and one `sched_yield`. iceoryx2's own benchmark spins without yielding, pinned
//! to two cores; on one core a spinner then holds the CPU its peer needs until the scheduler's
//! tick, and the yield is what lets the peer in. The rule counts polls, as shm's does, and a
//! `receive` (it also looks for new connections) costs far more than the ring's one load: on
//! one core each wait holds the CPU that much longer before yielding, and that budget, twice
//! per round trip, is most of what a same-core round trip costs.

use std::io;

use shm_demo::Liveness;

use super::resources::failed;
use super::{Arrived, POLLS_PER_CHECK, Sub, gone};

/// The next sample on `subscriber`, by the spin rule (module header); UnexpectedEof once the
/// peer is gone and nothing is left to take.
pub(super) fn next_sample(subscriber: &Sub, live: &Liveness) -> io::Result<Arrived> {
    let mut polls = 0;
    loop {
        if let Some(sample) = subscriber.receive().map_err(failed("receive"))? {
            return Ok(sample);
        }
        std::hint::spin_loop();
        polls += 1;
        if polls == POLLS_PER_CHECK {
            polls = 0;
            if gone(live) {
                // A message sent just before the peer left still counts.
                let last = subscriber.receive().map_err(failed("receive"))?;
                return last.ok_or_else(|| io::ErrorKind::UnexpectedEof.into());
            }
            // Two spinners on one core take turns instead of waiting for the tick.
            std::thread::yield_now();
        }
    }
}
