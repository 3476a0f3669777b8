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
// 6. one queue both ways, then two queues, and noticing a dead peer
pub mod duplex;
// 7. std::sync::mpsc, the in-process analog
pub mod mpsc;
// 8. a System V queue: a key from ftok, messages by type
pub mod by_type;
// Done: everything the run made, looked for again
pub mod left_behind;

use std::hash::{BuildHasher, RandomState};
use std::io::{Read, Write};
use std::os::fd::AsFd;
use std::time::Duration;

use nix::sched::{CloneFlags, unshare};
use nix::sys::wait::WaitStatus;
use nix::unistd::{Pid, geteuid};
use plumbing::child::{self, describe};

/// The tour's first lines: what it is, and the queue names of its steps 1 to 6 (a new one for
/// each), once the queues a killed run left behind are removed.
pub fn start() -> [String; 6] {
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

/// A number in `0..below` that no other run draws alike: a value a fake that prints fixed
/// lines cannot match (the tests compare two runs).
pub fn drawn(below: u64, salt: u64) -> u64 {
    RandomState::new().hash_one((std::process::id(), salt)) % below.max(1)
}

/// Forks a child that runs `body`, waits at most `limit` for it to exit 0, and returns its
/// pid and the text `body` returned. The text comes back through a pipe: after fork() the
/// child's memory is its own, so nothing it stores is seen here.
pub fn ask_child(
    who: &str,
    limit: Duration,
    body: impl FnOnce() -> plumbing::Result<String>,
) -> plumbing::Result<(Pid, String)> {
    let (mut answer, mut writer) = std::io::pipe().map_err(|e| format!("pipe: {e}"))?;
    let mut asked = child::fork_closing(&[answer.as_fd()], move || {
        let text = body()?;
        writer
            .write_all(text.as_bytes())
            .map_err(|e| format!("write to the parent: {e}"))?;
        Ok(())
    })?; // here `writer` went with the closure, and is closed: the read below ends at its exit
    check_ended(asked.wait(limit)?, who)?;
    let mut text = String::new();
    answer
        .read_to_string(&mut text)
        .map_err(|e| format!("read from the {who}: {e}"))?;
    Ok((asked.pid(), text))
}

/// What `probe` finds from a child in a new IPC namespace, where every queue name and key is
/// new: `Ok` with the child's pid and the probe's result, or `Err` with the reason the
/// namespace could not be made ("unshare: EPERM" where unprivileged user namespaces are off).
/// Root needs only CLONE_NEWIPC; another user gets it inside a new user namespace.
pub fn in_new_ipc_namespace(
    probe: impl FnOnce() -> String,
) -> plumbing::Result<std::result::Result<(Pid, String), String>> {
    let flags = match geteuid().is_root() {
        true => CloneFlags::CLONE_NEWIPC,
        false => CloneFlags::CLONE_NEWUSER | CloneFlags::CLONE_NEWIPC,
    };
    let (pid, text) = ask_child("namespace probe", Duration::from_secs(10), || {
        // The child is single-threaded, as unshare(CLONE_NEWUSER) requires.
        Ok(match unshare(flags) {
            Ok(()) => format!("ok {}", probe()),
            Err(e) => format!("unshare: {e:?}"),
        })
    })?;
    Ok(match text.strip_prefix("ok ") {
        Some(found) => Ok((pid, found.to_string())),
        None => Err(text),
    })
}

/// "ENOENT" for a call that failed with it, else "found": what a lookup by name or key gave.
pub fn found_or(result: nix::Result<()>) -> String {
    match result {
        Ok(()) => "found".into(),
        Err(e) => format!("{e:?}"),
    }
}
