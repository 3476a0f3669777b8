//! The tour's steps, one file each, in the tour's order; each `run` prints what it observed.
//! Below them, the few lines that more than one step uses.

use std::time::Duration;

use nix::unistd::Pid;
use plumbing::{Result, cpu};

/// 1. signals are an enum: numbers, default actions, catchable or not
pub mod table;

/// 2. catching with signal-hook's iterator; TERM graceful, INT re-raised
pub mod catch;

/// 3. SIGKILL and SIGSTOP: no handler; STOP, CONT, KILL
pub mod uncatchable;

/// 4. SIGCHLD: told when a child ends, then reap it
pub mod sigchld;

/// 5. blocked, N SIGUSR1 are one bit; N SIGRTMIN queue
pub mod pending;

/// 6. EINTR in read(2), without and with SA_RESTART
pub mod eintr;

/// 7. a handler that takes a lock hangs; one that only records cannot
pub mod handler_safety;

/// 8. a signal round trip, same core and across cores
pub mod cost;

/// 9. who pays: CPU time of sender and receiver
pub mod who_pays;

/// sigqueue(3) of SIGRTMIN carrying `value` (steps 5 and 7), its error naming the call and,
/// when the queue is full, the limit.
pub fn sigqueue_rtmin(pid: Pid, value: usize) -> Result {
    signal_demo::sigqueue(pid, libc::SIGRTMIN(), value).map_err(|err| {
        let hint = if err.raw_os_error() == Some(libc::EAGAIN) {
            "; this user's queue of pending signals is full (RLIMIT_SIGPENDING, `ulimit -i`): \
             use a smaller --count"
        } else {
            ""
        };
        format!("sigqueue({pid}, SIGRTMIN, {value}): {err}{hint}").into()
    })
}

/// Where to run parent and child (steps 8 and 9): the same core, and two different cores when
/// we may use two. (parent CPU, child CPU) for each.
pub fn placements() -> Result<Vec<(&'static str, [usize; 2])>> {
    let [first, second] = cpu::two_cpus()?;
    let mut placements = vec![("same core", [first, first])];
    if second == first {
        println!("  only CPU {first} is available: the different-cores case is skipped");
    } else {
        placements.push(("different cores", [first, second]));
    }
    Ok(placements)
}

/// Nanoseconds, in µs with one decimal (steps 8 and 9). Not `plumbing::tour::duration`: that
/// rounds to whole µs, and the sender's sub-µs CPU time of step 9 would print as "0 µs".
pub fn micros(nanos: u64) -> String {
    let tenths = tenths_of_micros(nanos);
    format!("{}.{} µs", tenths / 10, tenths % 10)
}

/// Nanoseconds rounded to tenths of a µs: what [`micros`] prints, so that a verdict compares
/// the very numbers its line quotes.
pub fn tenths_of_micros(nanos: u64) -> u64 {
    nanos.saturating_add(50) / 100
}

pub fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}
