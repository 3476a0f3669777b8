//! The tour's steps, in order, one file each; `main.rs` runs them.
#![cfg(target_os = "linux")]

// 1. a coordinator queues Tasks by priority; a forked worker takes them
pub mod dispatch;
// 2. the same three writes through a pipe and through a queue
pub mod boundaries;
// 3. create, send, attr, receive, unlink: separate processes
pub mod persistence;
// 4. a full queue blocks; O_NONBLOCK gives EAGAIN; timeouts
pub mod flow;
// 5. msgsize_max, msg_max, RLIMIT_MSGQUEUE: each limit met
pub mod limits;
// 6. both ways (two queues), and noticing a dead peer
pub mod duplex;
// 7. std::sync::mpsc, the in-process analog
pub mod mpsc;
// 8. a System V queue: a key from ftok, messages by type
pub mod by_type;
// Done: everything the run made, looked for again
pub mod left_behind;

use nix::sys::wait::WaitStatus;
use plumbing::child::describe;

/// The tour's first lines: what it is, and the queue names of its steps 1 to 5 (a new one for
/// each), once the queues a killed run left behind are removed.
pub fn start() -> [String; 5] {
    println!("mq-demo: POSIX message queues, observed on this machine");
    let pid = std::process::id();
    println!("queue names this run: /ipc-tour-mq-{pid}-<random>, a new one for each step");
    for stale in mq_demo::remove_stale_queues() {
        println!("removed {stale}: left by a run that was killed (its pid is gone)");
    }
    std::array::from_fn(|_| mq_demo::unique_name())
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
