//! Stopping on a signal. Every signal whose default action ends the process and that a
//! handler can catch ([`signals`]: SIGHUP, SIGINT, SIGQUIT, SIGTERM, SIGUSR1, SIGUSR2,
//! SIGALRM, the timers' and limits' signals, and the real-time ones) sets a flag instead of
//! killing the process at once, except those the program uses itself ([`catch_except`]).
//! Loops check the flag ([`check`], [`pause`]) and return [`Interrupted`], which unwinds
//! through every owner's `Drop`, so names are removed and children reaped.
//! [`crate::program::main`] then prints one line and exits with 128 + the signal's number, as
//! the signal itself would have.
//!
//! A process blocked in a read that only its peer can end is woken by the other half of the
//! handler: it SIGKILLs the child named with [`kill_on_stop`], whose death ends that read.

use std::fmt;
use std::io;
use std::sync::atomic::{AtomicBool, AtomicI32, AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};
use std::thread;
use std::time::{Duration, Instant};

/// The standard signals that end a run cleanly once [`catch`] has run: those whose default
/// action terminates the process (signal(7): "Term" or "Core") and that a handler can catch.
/// Left out: SIGKILL (no handler possible); SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGTRAP, SIGSYS
/// and SIGABRT, which report a fault in the program itself, where unwinding is no help; and
/// SIGPIPE, which Rust ignores so that a write returns EPIPE instead (see [`crate::program`]).
pub const STANDARD_SIGNALS: [i32; 14] = [
    libc::SIGHUP,
    libc::SIGINT,
    libc::SIGQUIT,
    libc::SIGTERM,
    libc::SIGUSR1,
    libc::SIGUSR2,
    libc::SIGALRM,
    libc::SIGVTALRM,
    libc::SIGPROF,
    libc::SIGXCPU,
    libc::SIGXFSZ,
    libc::SIGPWR,
    libc::SIGSTKFLT,
    libc::SIGIO, // also called SIGPOLL
];

/// Every signal [`catch`] turns into the stop flag: [`STANDARD_SIGNALS`], then the real-time
/// ones, SIGRTMIN..=SIGRTMAX (whose default action also terminates; the two below SIGRTMIN
/// belong to the C library's threads).
pub fn signals() -> impl Iterator<Item = i32> {
    STANDARD_SIGNALS
        .into_iter()
        .chain(libc::SIGRTMIN()..=libc::SIGRTMAX())
}

/// The signal that asked us to stop, or 0.
static SIGNAL: AtomicI32 = AtomicI32::new(0);
/// A child to SIGKILL when a stop signal arrives, or 0.
static CHILD: AtomicI32 = AtomicI32::new(0);
/// Whether this run creates named objects, for the closing line.
static OWNS_OBJECTS: AtomicBool = AtomicBool::new(false);
/// Set when an owner could not remove what it created (see [`left_behind`]).
static LEFT_BEHIND: AtomicBool = AtomicBool::new(false);
/// The signals that [`catch`] has turned into the stop flag: bit n - 1 for signal n.
static CAUGHT: AtomicU64 = AtomicU64::new(0);

/// What a run leaves to clean up when it is stopped, for the line [`crate::program::main`]
/// prints: "stopped by SIGINT; removed everything this run created", or just the first part.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Owns {
    /// Named objects (FIFOs, sockets, queues, shared memory) that its owners remove.
    Objects,
    /// Nothing with a name.
    Nothing,
}

/// Turns every one of [`signals`] into the stop flag. For a program that uses none of them
/// itself; one that does names them with [`catch_except`].
pub fn catch(owns: Owns) -> io::Result<()> {
    catch_except(owns, &[])
}

/// [`catch`], except the signals in `uses`: those the program handles itself (a timer's
/// SIGALRM, say), which keep their own disposition. Later calls only add signals not yet
/// caught and update `owns`; a signal once caught stays caught, so naming it in `uses` later
/// is an error.
pub fn catch_except(owns: Owns, uses: &[i32]) -> io::Result<()> {
    OWNS_OBJECTS.store(owns == Owns::Objects, Ordering::SeqCst);
    static REGISTERING: Mutex<()> = Mutex::new(());
    let _one_at_a_time = REGISTERING.lock().unwrap_or_else(PoisonError::into_inner);
    if let Some(&signal) = uses.iter().find(|&&signal| is_caught(signal)) {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!(
                "{} is already a stop signal: name it in the first catch",
                signal_name(signal)
            ),
        ));
    }
    for signal in signals().filter(|signal| !uses.contains(signal) && !is_caught(*signal)) {
        // SAFETY: the action only stores to atomics and calls kill(2), both
        // async-signal-safe; it allocates nothing and takes no lock.
        let registered =
            unsafe { signal_hook::low_level::register(signal, move || on_stop(signal)) };
        if let Err(e) = registered {
            return Err(io::Error::new(
                e.kind(),
                format!("sigaction {}: {e}", signal_name(signal)),
            ));
        }
        CAUGHT.fetch_or(bit(signal), Ordering::SeqCst);
    }
    Ok(())
}

/// Whether [`catch`] has turned `signal` into the stop flag in this process.
pub fn is_caught(signal: i32) -> bool {
    CAUGHT.load(Ordering::SeqCst) & bit(signal) != 0
}

/// Signal n's bit in [`CAUGHT`]; 0 for a number that is no signal.
fn bit(signal: i32) -> u64 {
    match signal {
        1..=64 => 1 << (signal - 1),
        _ => 0,
    }
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

/// For an owner that could not remove what it created: says `line` (what was left and how
/// to remove it by hand) on stderr, and the closing line after a stop signal no longer
/// claims that everything was removed.
pub fn left_behind(line: &str) {
    LEFT_BEHIND.store(true, Ordering::SeqCst);
    crate::program::say(line);
}

/// "; removed everything this run created" when the run owns named objects, else "" (or, if
/// an owner reported [`left_behind`], that not everything was removed).
pub(crate) fn note() -> &'static str {
    if LEFT_BEHIND.load(Ordering::SeqCst) {
        "; could not remove everything this run created (see above)"
    } else if OWNS_OBJECTS.load(Ordering::SeqCst) {
        "; removed everything this run created"
    } else {
        ""
    }
}

/// "SIGINT" for 2, "SIGRTMIN+3" for a real-time one, and so on; "signal N" for a number
/// without a name.
pub fn signal_name(signal: i32) -> String {
    let (min, max) = (libc::SIGRTMIN(), libc::SIGRTMAX());
    match signal {
        n if n == min => "SIGRTMIN".to_string(),
        n if n == max => "SIGRTMAX".to_string(),
        n if n > min && n < max => format!("SIGRTMIN+{}", n - min),
        n => nix::sys::signal::Signal::try_from(n)
            .map_or_else(|_| format!("signal {n}"), |s| s.as_str().to_string()),
    }
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

/// Back to the default action for every signal [`catch`] turned into the stop flag, in a
/// forked child that should die of Ctrl-C (or any of them) like any program rather than
/// inherit its parent's flag. Async-signal-safe: it only loads an atomic and calls signal(2).
pub fn restore_defaults() -> nix::Result<()> {
    for signal in (1..=64).filter(|&signal| is_caught(signal)) {
        // SAFETY: installs SIG_DFL, which runs no code in this process. nix's Signal has no
        // real-time numbers, so libc is called directly.
        if unsafe { libc::signal(signal, libc::SIG_DFL) } == libc::SIG_ERR {
            return Err(nix::errno::Errno::last());
        }
    }
    Ok(())
}
