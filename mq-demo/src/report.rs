//! How the steps put what they observed into words: durations, the outcome of a call, and how
//! a child process ended.
#![cfg(target_os = "linux")]

use std::time::Duration;

use nix::sys::wait::WaitStatus;
use plumbing::child::describe;

/// A measured duration, in µs below a millisecond: "3 µs", "300.1 ms".
pub fn format_duration(d: Duration) -> String {
    if d < Duration::from_millis(1) {
        format!("{} µs", d.as_micros())
    } else {
        format!("{:.1} ms", d.as_secs_f64() * 1000.0)
    }
}

/// What a send returned: "sent", or the errno and its meaning ("EAGAIN (Try again)").
pub fn format_outcome(result: nix::Result<()>) -> String {
    match result {
        Ok(()) => "sent".into(),
        Err(e) => format!("{e:?} ({})", e.desc()),
    }
}

/// Ok when the child called `who` exited with status 0; otherwise an error that says how it
/// ended: "worker (pid 4243) was killed by SIGKILL before it finished".
// plumbing-wanted: Child::wait_ok that names the child's role in its error, as here.
pub fn check_ended(status: WaitStatus, who: &str) -> plumbing::Result {
    match status {
        WaitStatus::Exited(_, 0) => Ok(()),
        WaitStatus::Exited(pid, code) => {
            Err(format!("{who} (pid {pid}) failed with status {code}").into())
        }
        WaitStatus::Signaled(pid, signal, _) => {
            Err(format!("{who} (pid {pid}) was killed by {signal} before it finished").into())
        }
        other => Err(format!("{who} {}", describe(other)).into()),
    }
}
