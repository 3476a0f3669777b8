//! Stopping on a signal. The terminating signals a terminal or a supervisor sends (SIGHUP,
//! SIGINT, SIGQUIT, SIGTERM) set a flag instead of killing the process at once; loops check
//! it ([`check`], [`pause`]) and return [`Interrupted`], which unwinds through every owner's
//! `Drop`, so names are removed and children reaped. [`crate::program::main`] then prints
//! one line and exits with 128 + the signal's number, as the signal itself would have.
//!
//! A process blocked in a read that only its peer can end is woken by the other half of the
//! handler: it SIGKILLs the child named with [`kill_on_stop`], whose death ends that read.

use std::fmt;
use std::io;
use std::sync::Once;
use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};
use std::thread;
use std::time::{Duration, Instant};

/// The signals that end a run cleanly once [`catch`] has run.
pub const SIGNALS: [i32; 4] = [libc::SIGHUP, libc::SIGINT, libc::SIGQUIT, libc::SIGTERM];

/// The signal that asked us to stop, or 0.
static SIGNAL: AtomicI32 = AtomicI32::new(0);
/// A child to SIGKILL when a stop signal arrives, or 0.
static CHILD: AtomicI32 = AtomicI32::new(0);
/// Whether this run creates named objects, for the closing line.
static OWNS_OBJECTS: AtomicBool = AtomicBool::new(false);

/// What a run leaves to clean up when it is stopped, for the line [`crate::program::main`]
/// prints: "stopped by SIGINT; removed everything this run created", or just the first part.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Owns {
    /// Named objects (FIFOs, sockets, queues, shared memory) that its owners remove.
    Objects,
    /// Nothing with a name.
    Nothing,
}

/// Turns [`SIGNALS`] into the stop flag (once per process; later calls only update `owns`).
pub fn catch(owns: Owns) -> io::Result<()> {
    OWNS_OBJECTS.store(owns == Owns::Objects, Ordering::SeqCst);
    static ONCE: Once = Once::new();
    let mut result = Ok(());
    ONCE.call_once(|| {
        for signal in SIGNALS {
            // SAFETY: the action only stores to atomics and calls kill(2), both
            // async-signal-safe; it allocates nothing and takes no lock.
            let registered =
                unsafe { signal_hook::low_level::register(signal, move || on_stop(signal)) };
            if let Err(e) = registered {
                result = Err(io::Error::new(
                    e.kind(),
                    format!("sigaction {}: {e}", signal_name(signal)),
                ));
                return;
            }
        }
    });
    result
}

/// The handler's work: remember the signal and end the child we may be blocked on.
fn on_stop(signal: i32) {
    SIGNAL.store(signal, Ordering::SeqCst);
    let child = CHILD.load(Ordering::SeqCst);
    if child > 0 {
        // SAFETY: kill(2) is async-signal-safe; `child` is our own unreaped child (see
        // kill_on_stop), so the pid cannot have been reused.
        unsafe { libc::kill(child, libc::SIGKILL) };
    }
}

/// Names the child that a stop signal SIGKILLs (`None` for no child). Clear it BEFORE reaping
/// that child, so a recycled pid can never be hit.
pub fn kill_on_stop(child: Option<i32>) {
    CHILD.store(child.unwrap_or(0), Ordering::SeqCst);
}

/// Sets the flag as a stop signal would (for a run that must stop for another reason, and
/// for tests).
pub fn request(signal: i32) {
    on_stop(signal);
}

/// The signal that asked us to stop, if one has.
pub fn requested() -> Option<i32> {
    match SIGNAL.load(Ordering::SeqCst) {
        0 => None,
        signal => Some(signal),
    }
}

/// `Err(Interrupted)` once a stop signal has arrived.
pub fn check() -> Result<(), Interrupted> {
    requested().map_or(Ok(()), |signal| Err(Interrupted(signal)))
}

/// Sleeps for `total`, in 10 ms slices, returning early with `Interrupted` on a stop signal.
pub fn pause(total: Duration) -> Result<(), Interrupted> {
    let until = Instant::now() + total;
    while let Some(left) = until.checked_duration_since(Instant::now()) {
        check()?;
        thread::sleep(left.min(Duration::from_millis(10)));
    }
    check()
}

/// "; removed everything this run created" when the run owns named objects, else "".
pub(crate) fn note() -> &'static str {
    if OWNS_OBJECTS.load(Ordering::SeqCst) {
        "; removed everything this run created"
    } else {
        ""
    }
}

/// "SIGINT" for 2, and so on; "signal N" for a number without a name.
pub fn signal_name(signal: i32) -> String {
    signal_hook::low_level::signal_name(signal)
        .map_or_else(|| format!("signal {signal}"), str::to_string)
}

/// The run was stopped by this signal; the owners on the way out remove what it created.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Interrupted(pub i32);

impl fmt::Display for Interrupted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "stopped by {}", signal_name(self.0))
    }
}

impl std::error::Error for Interrupted {}

/// Back to the default action for [`SIGNALS`], in a forked child that should die of Ctrl-C
/// like any program rather than inherit its parent's flag.
pub fn restore_defaults() -> nix::Result<()> {
    use nix::sys::signal::{SigHandler, Signal, signal};
    for sig in SIGNALS {
        let sig = Signal::try_from(sig)?;
        // SAFETY: installs SIG_DFL, which runs no code in this process.
        unsafe { signal(sig, SigHandler::SigDfl) }?;
    }
    Ok(())
}
