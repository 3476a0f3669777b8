//! Role `handler` (step 7): a work loop that appends to a log under a `Mutex` (which also
//! allocates) and reports its progress, while SIGRTMIN storms in. Without `--safe` its handler
//! appends to the log itself and deadlocks once a signal lands while the loop holds the lock;
//! with `--safe` the handler only records the signal (an atomic add, registered with
//! `signal_hook::low_level::register`) and the loop, ordinary code, does the logging.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use plumbing::Result;

/// The log both the main loop and (in the unsafe child) the handler append to.
static LOG: Mutex<Vec<String>> = Mutex::new(Vec::new());
/// Signals handled to the end (the unsafe handler's count; the safe main loop's).
static HANDLED: AtomicU64 = AtomicU64::new(0);
/// Signals the safe child's handler recorded, for its main loop to handle.
static RECORDED: AtomicU64 = AtomicU64::new(0);

/// How often the child reports its progress (the parent's "stuck" is many of these).
const REPORT_EVERY: Duration = Duration::from_millis(10);

fn log() -> MutexGuard<'static, Vec<String>> {
    LOG.lock().unwrap_or_else(PoisonError::into_inner)
}

/// One entry in the log: take the lock, allocate a line, and now and then free them all. The
/// allocations happen only under the lock, so the handler below can only ever hang on the lock:
/// one that allocated while the main loop was inside malloc could corrupt the heap instead.
fn append(what: &str, n: u64) {
    let mut log = log();
    log.push(format!("{what} {n}"));
    if log.len() >= 64 {
        log.clear();
    }
}

/// WRONG, on purpose: a handler that takes a lock and allocates. If the signal lands while the
/// main loop is inside `append`, this `lock()` waits for a lock its own thread holds: forever.
extern "C" fn log_from_handler(_: libc::c_int) {
    let n = HANDLED.load(Ordering::SeqCst) + 1;
    append("signal", n);
    HANDLED.store(n, Ordering::SeqCst);
}

/// The work loop, with the unsafe handler or (`safe`) the safe record.
pub fn run(safe: bool) -> Result {
    if safe {
        // SAFETY: the action only adds to an atomic: no lock, no allocation, async-signal-safe.
        let registered = unsafe {
            signal_hook::low_level::register(libc::SIGRTMIN(), || {
                RECORDED.fetch_add(1, Ordering::SeqCst);
            })
        };
        registered.map_err(|e| format!("register SIGRTMIN: {e}"))?;
    } else {
        // SAFETY: this is the point of the step: the handler is NOT async-signal-safe. It
        // runs in a child of ours that the parent kills when it deadlocks.
        let installed = unsafe {
            libc::signal(
                libc::SIGRTMIN(),
                log_from_handler as *const () as libc::sighandler_t,
            )
        };
        if installed == libc::SIG_ERR {
            return Err(format!("signal(SIGRTMIN): {}", std::io::Error::last_os_error()).into());
        }
    }
    println!("ready");
    let mut reported = Instant::now();
    for iteration in 1u64.. {
        append("work", iteration);
        if safe {
            handle_recorded();
        }
        if reported.elapsed() >= REPORT_EVERY {
            println!("progress {iteration} {}", HANDLED.load(Ordering::SeqCst));
            reported = Instant::now();
        }
    }
    Ok(())
}

/// The safe child's handling, in ordinary code: one log entry per signal recorded.
fn handle_recorded() {
    let recorded = RECORDED.load(Ordering::SeqCst);
    let mut handled = HANDLED.load(Ordering::SeqCst);
    while handled < recorded {
        handled += 1;
        append("signal", handled);
    }
    HANDLED.store(handled, Ordering::SeqCst);
}
