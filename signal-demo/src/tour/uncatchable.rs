//! Step 3: SIGKILL and SIGSTOP — no process can catch, block or ignore them. The child is
//! `roles::worker`.

use std::time::{Duration, Instant};

use nix::sys::signal::Signal;
use nix::sys::wait::WaitPidFlag;
use signal_hook::consts::FORBIDDEN;
use signal_hook::low_level::signal_name;

use plumbing::Result;
use plumbing::child::{Child, Heard, describe};
use plumbing::tour::heading;
use plumbing::verdict::{self, Verdict, judge};
use signal_demo::try_install_handler;

use crate::roles::{REPLY_TIMEOUT, start_ready};

pub fn run(step: u32) -> Result {
    heading(step, "the uncatchables — SIGKILL and SIGSTOP");
    let mut refusals = Vec::new();
    for signal in [Signal::SIGKILL, Signal::SIGSTOP] {
        match try_install_handler(signal)? {
            Ok(()) => {
                println!("  handler for {signal}: the kernel accepted it (unexpected!)");
                refusals.push(None);
            }
            Err(e) => {
                println!("  handler for {signal}: refused, sigaction -> {e}");
                refusals.push(Some(e.to_string()));
            }
        }
    }
    // signal-hook checks first: registering a FORBIDDEN signal panics (a programming error).
    let names: Vec<&str> = FORBIDDEN.iter().filter_map(|&s| signal_name(s)).collect();
    println!("  signal-hook refuses before asking the kernel: consts::FORBIDDEN =");
    println!("    {}", names.join(" "));
    println!("  (KILL, STOP: the kernel refuses them; ILL, FPE, SEGV: the kernel allows a");
    println!("  handler, but one that simply returns re-runs the faulting instruction)");

    let mut child = start_ready("worker", &[])?;
    let pid = child.pid();
    let running = watch(&mut child, Duration::from_millis(200))?;
    println!(
        "  child {pid} (handles INT, TERM, USR1): progress {} -> {} in {} ms",
        show(running.first),
        show(running.last),
        running.ms
    );

    child.signal(Signal::SIGSTOP)?;
    let status = child.wait_for(WaitPidFlag::WUNTRACED, REPLY_TIMEOUT)?;
    let before = watch(&mut child, Duration::ZERO)?.last.or(running.last);
    let stopped = watch(&mut child, Duration::from_millis(300))?;
    println!("  kill SIGSTOP -> waitpid: child {}", describe(status));
    println!(
        "    then {} progress lines in {} ms; the counter stays at {}",
        stopped.lines,
        stopped.ms,
        show(before)
    );

    child.signal(Signal::SIGCONT)?;
    let status = child.wait_for(WaitPidFlag::WCONTINUED, REPLY_TIMEOUT)?;
    let resumed = watch(&mut child, Duration::from_millis(200))?;
    println!(
        "  kill SIGCONT -> waitpid: child {}; progress {} -> {} in {} ms",
        describe(status),
        show(resumed.first),
        show(resumed.last),
        resumed.ms
    );

    child.signal(Signal::SIGKILL)?;
    let status = child.wait(REPLY_TIMEOUT)?;
    println!("  kill SIGKILL -> waitpid: child {}", describe(status));
    println!("    its handlers never ran");
    let (v, because) = uncatchable_claim(&refusals, stopped.lines, stopped.ms);
    verdict::record("KILL and STOP cannot be caught", v, because);
    Ok(())
}

/// The lecture: SIGKILL and SIGSTOP cannot be caught. Holds when sigaction refused a handler
/// for both (`refusals`, the error of each, `None` if accepted) and the stopped child, which
/// handles other signals, printed nothing (`lines`) while it was watched for `ms`.
pub fn uncatchable_claim(refusals: &[Option<String>], lines: u32, ms: u128) -> (Verdict, String) {
    let said: Vec<String> = ["SIGKILL", "SIGSTOP"]
        .iter()
        .zip(refusals)
        .map(|(name, refused)| match refused {
            Some(e) => format!("{name} {}", e.split(':').next().unwrap_or(e)),
            None => format!("{name} accepted"),
        })
        .collect();
    let refused = refusals.len() == 2 && refusals.iter().all(Option::is_some);
    let because = format!(
        "sigaction -> {}; stopped, {lines} progress lines in {ms} ms",
        said.join(", ")
    );
    (judge(refused && lines == 0, false), because)
}

/// What the parent saw of the child's counter during a window.
struct Progress {
    lines: u32,
    first: Option<u64>,
    last: Option<u64>,
    /// How long the parent really watched, in milliseconds.
    ms: u128,
}

/// Reads the child's progress lines for `window` (zero: only what is already in the pipe).
fn watch(child: &mut Child, window: Duration) -> Result<Progress> {
    let mut seen = Progress {
        lines: 0,
        first: None,
        last: None,
        ms: 0,
    };
    let start = Instant::now();
    let end = start + window;
    loop {
        let left = end.saturating_duration_since(Instant::now());
        match child.hear(left)? {
            Heard::Line(line) => {
                if let Some(count) = line.strip_prefix("progress ").and_then(|n| n.parse().ok()) {
                    seen.lines += 1;
                    seen.first = seen.first.or(Some(count));
                    seen.last = Some(count);
                }
            }
            Heard::Timeout => {
                seen.ms = start.elapsed().as_millis();
                return Ok(seen);
            }
            Heard::Closed => return Err(format!("child {} died unexpectedly", child.pid()).into()),
        }
    }
}

fn show(value: Option<u64>) -> String {
    value.map_or_else(|| "-".to_string(), |v| v.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_refused_and_a_silent_stop_confirm_it() {
        let einval = Some("EINVAL: Invalid argument".to_string());
        let (v, because) = uncatchable_claim(&[einval.clone(), einval.clone()], 0, 300);
        assert_eq!(v, Verdict::Confirmed);
        assert_eq!(
            because,
            "sigaction -> SIGKILL EINVAL, SIGSTOP EINVAL; stopped, 0 progress lines in 300 ms"
        );
        let (v, because) = uncatchable_claim(&[einval.clone(), None], 0, 300);
        assert_eq!(v, Verdict::Refuted);
        assert!(because.contains("SIGSTOP accepted"), "{because}");
        assert_eq!(
            uncatchable_claim(&[einval.clone(), einval], 3, 300).0,
            Verdict::Refuted
        );
    }
}
