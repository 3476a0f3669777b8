//! Role `pending` (step 5): blocks SIGUSR1 and SIGRTMIN, waits for the parent's "sent",
//! unblocks them, and reports how many of each its handler counted, and SIGRTMIN's values.

use std::io::BufRead;
use std::ptr;
use std::sync::atomic::{AtomicUsize, Ordering};

use plumbing::Result;

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

/// Block, install the counting handler, wait for "sent", unblock, report.
pub fn run() -> Result {
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
