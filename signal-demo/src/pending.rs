//! Step 5: a standard signal is a pending *bit*; a real-time signal is a *queue*.
//!
//! The child blocks SIGUSR1 and SIGRTMIN; the parent sends N of each (SIGRTMIN with `sigqueue`,
//! carrying the values 0..N); then the child unblocks them and its handler counts what arrives.

use std::io::BufRead;
use std::ptr;
use std::sync::atomic::{AtomicUsize, Ordering};

use nix::sys::signal::Signal;
use plumbing::Result;
use plumbing::child::describe;

use crate::role::{REPLY_TIMEOUT, start_ready};

/// The most signals of each kind the demo sends (the CLI's `--count` limit).
const MAX_COUNT: usize = 1000;

static USR1_SEEN: AtomicUsize = AtomicUsize::new(0);
static RT_SEEN: AtomicUsize = AtomicUsize::new(0);
static RT_VALUES: [AtomicUsize; MAX_COUNT] = [const { AtomicUsize::new(0) }; MAX_COUNT];

/// The handler: only atomic stores, which are async-signal-safe. It records SIGRTMIN's value
/// (`si_value`), so it is a raw SA_SIGINFO handler: signal-hook's closures do not see it.
extern "C" fn count_signal(signal: libc::c_int, info: *mut libc::siginfo_t, _: *mut libc::c_void) {
    if signal == libc::SIGUSR1 {
        USR1_SEEN.fetch_add(1, Ordering::SeqCst);
        return;
    }
    let slot = RT_SEEN.fetch_add(1, Ordering::SeqCst);
    if let Some(cell) = RT_VALUES.get(slot) {
        // SAFETY: with SA_SIGINFO the kernel passes a valid siginfo_t for this delivery, and for a
        // sigqueue'd signal its si_value field is the sender's value.
        let value = unsafe { (*info).si_value().sival_ptr.addr() };
        cell.store(value, Ordering::SeqCst);
    }
}

/// A signal set with SIGUSR1 and SIGRTMIN (nix's SigSet cannot hold a real-time signal).
fn usr1_and_rtmin() -> Result<libc::sigset_t> {
    let mut set = std::mem::MaybeUninit::<libc::sigset_t>::uninit();
    // SAFETY: sigemptyset initialises the set before sigaddset touches it.
    unsafe {
        if libc::sigemptyset(set.as_mut_ptr()) != 0
            || libc::sigaddset(set.as_mut_ptr(), libc::SIGUSR1) != 0
            || libc::sigaddset(set.as_mut_ptr(), libc::SIGRTMIN()) != 0
        {
            return Err(format!("sigaddset: {}", std::io::Error::last_os_error()).into());
        }
        Ok(set.assume_init())
    }
}

fn set_mask(how: libc::c_int, set: &libc::sigset_t) -> Result {
    // SAFETY: `set` is initialised; a null old-set pointer is allowed.
    let rc = unsafe { libc::pthread_sigmask(how, set, ptr::null_mut()) };
    if rc != 0 {
        return Err(format!("pthread_sigmask: {}", std::io::Error::from_raw_os_error(rc)).into());
    }
    Ok(())
}

/// Child side (role `pending`): block, install the counting handler, wait for "sent", unblock,
/// report.
pub fn receiver() -> Result {
    let both = usr1_and_rtmin()?;
    set_mask(libc::SIG_BLOCK, &both)?;
    for signal in [libc::SIGUSR1, libc::SIGRTMIN()] {
        // SAFETY: an all-zero sigaction is a valid starting point (empty sa_mask, no flags).
        let mut action: libc::sigaction = unsafe { std::mem::zeroed() };
        action.sa_sigaction = count_signal as *const () as usize;
        action.sa_flags = libc::SA_SIGINFO;
        // SAFETY: the handler only does atomic operations (async-signal-safe) on statics.
        if unsafe { libc::sigaction(signal, &action, ptr::null_mut()) } != 0 {
            return Err(format!("sigaction({signal}): {}", std::io::Error::last_os_error()).into());
        }
    }
    println!("ready");
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .map_err(|e| format!("read stdin: {e}"))?;
    // Everything pending is delivered, handler after handler, before this call returns.
    set_mask(libc::SIG_UNBLOCK, &both)?;
    let seen = RT_SEEN.load(Ordering::SeqCst).min(MAX_COUNT);
    let values: Vec<String> = RT_VALUES[..seen]
        .iter()
        .map(|v| v.load(Ordering::SeqCst).to_string())
        .collect();
    println!("usr1 {}", USR1_SEEN.load(Ordering::SeqCst));
    println!("rt {}", values.join(" "));
    Ok(())
}

/// sigqueue(3): a signal plus one word of data (nix does not wrap it).
fn sigqueue(pid: nix::unistd::Pid, signal: libc::c_int, value: usize) -> Result {
    let data = libc::sigval {
        sival_ptr: ptr::without_provenance_mut(value),
    };
    // SAFETY: plain values in, no memory of ours is touched; the kernel copies the sigval.
    if unsafe { libc::sigqueue(pid.as_raw(), signal, data) } != 0 {
        let err = std::io::Error::last_os_error();
        let hint = if err.raw_os_error() == Some(libc::EAGAIN) {
            "; the receiver's queue is full (RLIMIT_SIGPENDING, see `ulimit -i`): use a smaller --count"
        } else {
            ""
        };
        return Err(format!("sigqueue({pid}, SIGRTMIN, {value}): {err}{hint}").into());
    }
    Ok(())
}

pub fn run(step: u32, count: u32) -> Result {
    println!(
        "\nStep {step}: pending bit vs queue — {count} signals sent to a child that blocks them"
    );
    let mut child = start_ready("pending", &[])?;
    let pid = child.pid();
    for _ in 0..count {
        child.signal(Signal::SIGUSR1)?;
    }
    for value in 0..count as usize {
        sigqueue(pid, libc::SIGRTMIN(), value)?;
    }
    // kill/sigqueue have made them pending by the time they return; now let the child unblock.
    child.tell("sent")?;
    let usr1 = child.expect_line(REPLY_TIMEOUT)?;
    let rt = child.expect_line(REPLY_TIMEOUT)?;
    let usr1_seen: usize = usr1
        .strip_prefix("usr1 ")
        .and_then(|n| n.parse().ok())
        .ok_or_else(|| format!("child's reply {usr1:?} is not \"usr1 <count>\""))?;
    let values: Vec<usize> = rt
        .strip_prefix("rt")
        .ok_or_else(|| format!("child's reply {rt:?} is not \"rt <values>\""))?
        .split_whitespace()
        .map(str::parse)
        .collect::<Result<_, _>>()
        .map_err(|e| format!("child's reply {rt:?}: {e}"))?;
    let in_order = values.iter().copied().eq(0..count as usize);
    println!(
        "  SIGUSR1 (standard):  sent {count}, received {usr1_seen} — one pending bit, the rest merged"
    );
    println!(
        "  SIGRTMIN (real-time): sent {count}, received {} — queued; in sending order: {}",
        values.len(),
        if in_order { "yes" } else { "NO" }
    );
    println!(
        "    si_value of each, in arrival order: {}",
        rt.trim_start_matches("rt ")
    );
    println!("  child {pid} {}", describe(child.wait(REPLY_TIMEOUT)?));
    Ok(())
}
