//! Step 5: a standard signal is a pending *bit*; a real-time signal is a *queue*.
//!
//! The child blocks SIGUSR1 and SIGRTMIN; the parent sends N of each (SIGRTMIN with `sigqueue`,
//! carrying the values 0..N) and reads, before the child unblocks them, what the kernel holds
//! for it in /proc/PID/status: ShdPnd, the pending set (one bit per signal), and SigQ, the count
//! of queued signals. Then the child unblocks them and its handler counts what arrives.

use nix::sys::signal::Signal;
use nix::unistd::Pid;
use plumbing::child::describe;
use plumbing::tour::heading;
use plumbing::verdict::{self, Verdict, judge};
use plumbing::{Result, procfs};

use super::sigqueue_rtmin;
use crate::roles::{REPLY_TIMEOUT, start_ready};

pub fn run(step: u32, count: u32) -> Result {
    heading(
        step,
        "pending bit vs queue — a child blocks SIGUSR1 and SIGRTMIN",
    );
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
    let (usr1_bits, queued_before) = show_pending(pid, &format!("{count} x SIGUSR1"))?;
    for value in 0..count as usize {
        sigqueue_rtmin(pid, value)?;
    }
    let (_, queued_after) = show_pending(pid, &format!("+ {count} x SIGRTMIN"))?;
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
    println!("  add one integer, its si_value (here the parent sent 0, 1, 2...).");
    print_wrapped("  si_value of each, in arrival order:", &as_runs(&values));
    println!("  child {pid} {}", describe(child.wait(REPLY_TIMEOUT)?));
    let seen = Seen {
        sent: count as usize,
        usr1_bits,
        usr1_seen,
        queued: [queued_before, queued_after],
        rt_values: values,
    };
    let (v, because) = buffer_claim(&seen);
    verdict::record("a signal has no buffer, only a pending bit", v, because);
    let (v, because) = payload_claim(&seen);
    verdict::record("a signal has no payload, only its number", v, because);
    Ok(())
}

/// What step 5 saw: `sent` of each kind, the pending bits SIGUSR1 left, how many SIGUSR1
/// arrived, SigQ before and after the SIGRTMIN were queued, and each SIGRTMIN's si_value.
pub struct Seen {
    pub sent: usize,
    pub usr1_bits: usize,
    pub usr1_seen: usize,
    pub queued: [u64; 2],
    pub rt_values: Vec<usize>,
}

/// The lecture: no buffer, the kernel sets a bit. Holds when the SIGUSR1 sent left one
/// pending bit and arrived at most once; qualified when SIGRTMIN queued instead (more than one
/// arrived): a queue in the kernel, counted by SigQ.
pub fn buffer_claim(seen: &Seen) -> (Verdict, String) {
    let [before, after] = seen.queued;
    let because = format!(
        "{sent} SIGUSR1: {bits} pending bit, {usr1} arrived; {sent} SIGRTMIN: SigQ \
         {before} -> {after}, {rt} arrived",
        sent = seen.sent,
        bits = seen.usr1_bits,
        usr1 = seen.usr1_seen,
        rt = seen.rt_values.len()
    );
    let merged = seen.usr1_bits == 1 && seen.usr1_seen <= 1;
    (judge(merged, seen.rt_values.len() > 1), because)
}

/// The lecture: no payload, the process receives a variant, not a message. Qualified when
/// SIGRTMIN brought the integers the parent sent with them (each of 0..sent that arrived):
/// one word each, chosen by the sender; confirmed when none did.
pub fn payload_claim(seen: &Seen) -> (Verdict, String) {
    let mut carried: Vec<usize> = seen
        .rt_values
        .iter()
        .copied()
        .filter(|&v| v < seen.sent)
        .collect();
    carried.sort_unstable();
    carried.dedup();
    let because = format!(
        "{} of {} SIGRTMIN brought the integer sent with it",
        carried.len(),
        seen.sent
    );
    (judge(true, !carried.is_empty()), because)
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
/// the mask holds; returns how many bits are set, and SigQ's count.
fn show_pending(pid: Pid, label: &str) -> Result<(usize, u64)> {
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
    // SigQ is "queued/limit".
    let count = queued.split('/').next().unwrap_or_default();
    let count = count.parse().map_err(|e| format!("SigQ {queued:?}: {e}"))?;
    Ok((names.len(), count))
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

    fn seen(usr1_bits: usize, usr1_seen: usize, rt_values: Vec<usize>) -> Seen {
        Seen {
            sent: 50,
            usr1_bits,
            usr1_seen,
            queued: [2, 52],
            rt_values,
        }
    }

    #[test]
    fn a_queue_beside_the_bit_qualifies_no_buffer() {
        let (v, because) = buffer_claim(&seen(1, 1, (0..50).collect()));
        assert_eq!(v, Verdict::Qualified);
        assert_eq!(
            because,
            "50 SIGUSR1: 1 pending bit, 1 arrived; 50 SIGRTMIN: SigQ 2 -> 52, 50 arrived"
        );
        assert_eq!(buffer_claim(&seen(1, 1, vec![0])).0, Verdict::Confirmed);
        assert_eq!(buffer_claim(&seen(1, 50, vec![0])).0, Verdict::Refuted);
    }

    #[test]
    fn integers_that_arrive_qualify_no_payload() {
        let (v, because) = payload_claim(&seen(1, 1, (0..50).rev().collect()));
        assert_eq!(v, Verdict::Qualified);
        assert_eq!(
            because,
            "50 of 50 SIGRTMIN brought the integer sent with it"
        );
        let (v, because) = payload_claim(&seen(1, 1, vec![7, 7, 99]));
        assert_eq!(v, Verdict::Qualified);
        assert!(because.starts_with("1 of 50 "), "{because}");
        assert_eq!(payload_claim(&seen(1, 1, vec![99])).0, Verdict::Confirmed);
    }
}
