//! Step 5: a standard signal is a pending *bit*; a real-time signal is a *queue*.
//!
//! The child blocks SIGUSR1 and SIGRTMIN; the parent sends N of each (SIGRTMIN with `sigqueue`,
//! carrying the values 0..N) and reads, before the child unblocks them, what the kernel holds
//! for it in /proc/PID/status: ShdPnd, the pending set (one bit per signal), and SigQ, the count
//! of queued signals. Then the child unblocks them and its handler counts what arrives.

use std::io::BufRead;
use std::ptr;
use std::sync::atomic::{AtomicUsize, Ordering};

use nix::sys::signal::Signal;
use nix::unistd::Pid;
use plumbing::child::describe;
use plumbing::{Result, procfs};

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
pub fn sigqueue(pid: Pid, signal: libc::c_int, value: usize) -> Result {
    let data = libc::sigval {
        sival_ptr: ptr::without_provenance_mut(value),
    };
    // SAFETY: plain values in, no memory of ours is touched; the kernel copies the sigval.
    if unsafe { libc::sigqueue(pid.as_raw(), signal, data) } != 0 {
        let err = std::io::Error::last_os_error();
        let hint = if err.raw_os_error() == Some(libc::EAGAIN) {
            "; this user's queue of pending signals is full (RLIMIT_SIGPENDING, `ulimit -i`): \
             use a smaller --count"
        } else {
            ""
        };
        return Err(format!("sigqueue({pid}, SIGRTMIN, {value}): {err}{hint}").into());
    }
    Ok(())
}

/// "SIGUSR1", "SIGRTMIN", "SIGRTMIN+3", or "signal 33" (one glibc keeps for itself).
fn signal_name(number: i32) -> String {
    let rtmin = libc::SIGRTMIN();
    match number {
        n if n == rtmin => "SIGRTMIN".to_string(),
        n if n > rtmin => format!("SIGRTMIN+{}", n - rtmin),
        n => Signal::try_from(n).map_or_else(|_| format!("signal {n}"), |s| s.as_str().to_string()),
    }
}

/// A /proc signal mask (hex, bit 0 = signal 1) decoded into the signals it holds.
fn decode_mask(hex: &str) -> Result<Vec<String>> {
    let mask = u64::from_str_radix(hex, 16).map_err(|e| format!("mask {hex:?}: {e}"))?;
    Ok((0..64)
        .filter(|bit| mask & (1 << bit) != 0)
        .map(|bit| signal_name(bit + 1))
        .collect())
}

/// One row of what the kernel holds for `pid` now: its ShdPnd mask, SigQ, and the signals
/// the mask holds; returns how many bits are set.
fn show_pending(pid: Pid, label: &str) -> Result<usize> {
    let read = |field| {
        procfs::status_field(pid.as_raw(), field)
            .map_err(|e| format!("read /proc/{pid}/status: {e}"))
    };
    let (mask, queued) = (read("ShdPnd")?, read("SigQ")?);
    let names = decode_mask(&mask)?;
    let shown = if names.is_empty() {
        "(nothing pending)".to_string()
    } else {
        names.join(" ")
    };
    println!("  {label:<18}{mask:<18}{queued:<12}{shown}");
    Ok(names.len())
}

/// The values as runs: "0..=49" when they are 0 to 49 in order, "0..=9 11 10 12..=49" when not.
fn as_runs(values: &[usize]) -> Vec<String> {
    let mut runs: Vec<(usize, usize)> = Vec::new();
    for &v in values {
        match runs.last_mut() {
            Some((_, last)) if *last + 1 == v => *last = v,
            _ => runs.push((v, v)),
        }
    }
    runs.into_iter()
        .map(|(a, b)| {
            if a == b {
                a.to_string()
            } else {
                format!("{a}..={b}")
            }
        })
        .collect()
}

/// Prints `label` then `words`, wrapped so that no line passes 80 columns.
fn print_wrapped(label: &str, words: &[String]) {
    let mut line = label.to_string();
    for word in words {
        if line.chars().count() + 1 + word.chars().count() > 78 {
            println!("{line}");
            line = "     ".to_string();
        }
        line.push(' ');
        line.push_str(word);
    }
    println!("{line}");
}

/// The child's two replies: how many SIGUSR1 arrived, and the si_value of each SIGRTMIN.
fn replies(usr1: &str, rt: &str) -> Result<(usize, Vec<usize>)> {
    let usr1_seen = usr1
        .strip_prefix("usr1 ")
        .and_then(|n| n.parse().ok())
        .ok_or_else(|| format!("child's reply {usr1:?} is not \"usr1 <count>\""))?;
    let values = rt
        .strip_prefix("rt")
        .ok_or_else(|| format!("child's reply {rt:?} is not \"rt <values>\""))?
        .split_whitespace()
        .map(str::parse)
        .collect::<Result<_, _>>()
        .map_err(|e| format!("child's reply {rt:?}: {e}"))?;
    Ok((usr1_seen, values))
}

pub fn run(step: u32, count: u32) -> Result {
    println!("\nStep {step}: pending bit vs queue — a child blocks SIGUSR1 and SIGRTMIN");
    let mut child = start_ready("pending", &[])?;
    let pid = child.pid();
    println!("  /proc/{pid}/status before the child unblocks:");
    println!(
        "  {:<18}{:<18}{:<12}signals in ShdPnd",
        "", "ShdPnd", "SigQ"
    );
    show_pending(pid, "nothing sent yet")?;
    for _ in 0..count {
        child.signal(Signal::SIGUSR1)?;
    }
    let usr1_bits = show_pending(pid, &format!("{count} x SIGUSR1"))?;
    for value in 0..count as usize {
        sigqueue(pid, libc::SIGRTMIN(), value)?;
    }
    show_pending(pid, &format!("+ {count} x SIGRTMIN"))?;
    println!("  ShdPnd: the process's pending set, one bit per signal ({usr1_bits} bit after");
    println!("  {count} SIGUSR1). SigQ: signals pending for this user in all its processes,");
    println!("  of RLIMIT_SIGPENDING (`ulimit -i`): one for the SIGUSR1 bit, one per SIGRTMIN.");

    // kill/sigqueue have made them pending by the time they return; now let the child unblock.
    child.tell("sent")?;
    let usr1 = child.expect_line(REPLY_TIMEOUT)?;
    let rt = child.expect_line(REPLY_TIMEOUT)?;
    let (usr1_seen, values) = replies(&usr1, &rt)?;
    let in_order = values.iter().copied().eq(0..count as usize);
    println!("  unblocked: SIGUSR1 arrived {usr1_seen} time(s) of {count} sent: merged in one bit");
    println!(
        "             SIGRTMIN arrived {} times of {count}: queued; in order: {}",
        values.len(),
        if in_order { "yes" } else { "NO" }
    );
    println!("  A standard signal carries only its number. A queued real-time signal can");
    println!("  add one integer, its si_value (here the parent sent 0, 1, 2...). Neither");
    println!("  carries data: no buffer, no bytes.");
    print_wrapped("  si_value of each, in arrival order:", &as_runs(&values));
    println!("  child {pid} {}", describe(child.wait(REPLY_TIMEOUT)?));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runs_and_masks() {
        assert_eq!(as_runs(&[0, 1, 2, 3]), ["0..=3"]);
        assert_eq!(as_runs(&[0, 1, 3, 2, 4, 5]), ["0..=1", "3", "2", "4..=5"]);
        assert!(as_runs(&[]).is_empty());
        assert_eq!(decode_mask("0000000000000200").expect("hex"), ["SIGUSR1"]);
        let rtmin_bit = 1u64 << (libc::SIGRTMIN() - 1);
        let hex = format!("{:016x}", rtmin_bit | 0x200);
        assert_eq!(decode_mask(&hex).expect("hex"), ["SIGUSR1", "SIGRTMIN"]);
    }
}
