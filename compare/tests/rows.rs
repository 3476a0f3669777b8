//! The rows' contract, through the `compare` binary: one system call per message on every
//! kernel row, a killed peer noticed within 2 s on the rows whose wait carries a timeout, and
//! every way of setting a row up measured under the most restrictive umask.
#![allow(clippy::unwrap_used)]

mod common;

use std::process::Command;

use testkit::{NobodyCopy, stderr, with_umask};

use common::{BIN, compare, kill_the_echo_mid_run};

/// Each kernel row and the system calls that carry its messages.
const MESSAGE_CALLS: [(&str, &[&str]); 7] = [
    ("pipe", &["read", "write"]),
    ("fifo", &["read", "write"]),
    ("signal", &["kill", "rt_sigtimedwait"]),
    ("mq", &["mq_timedsend", "mq_timedreceive"]),
    ("uds-stream", &["sendto", "recvfrom"]),
    ("uds-datagram", &["sendto", "recvfrom"]),
    ("tcp", &["sendto", "recvfrom"]),
];

/// `strace -c` summary lines: (calls, errors, name).
fn strace_counts(summary: &str) -> Vec<(u64, u64, String)> {
    let mut rows = Vec::new();
    for line in summary.lines() {
        let fields: Vec<&str> = line.split_whitespace().collect();
        // "% time  seconds  usecs/call  calls  [errors]  syscall"
        let numbers: Vec<u64> = fields.iter().filter_map(|f| f.parse().ok()).collect();
        let name = fields.last().copied().unwrap_or_default();
        if fields.len() < 5 || fields[0].parse::<f64>().is_err() || name == "total" {
            continue;
        }
        let (calls, errors) = match fields.len() {
            6 => (numbers[numbers.len() - 2], numbers[numbers.len() - 1]),
            _ => (numbers[numbers.len() - 1], 0),
        };
        rows.push((calls, errors, name.to_string()));
    }
    rows
}

#[test]
fn every_kernel_row_makes_one_system_call_per_message() {
    if Command::new("strace").arg("-V").output().is_err() {
        eprintln!("skipped: strace is not installed");
        return;
    }
    for (key, message_calls) in MESSAGE_CALLS {
        let summary = std::env::temp_dir().join(format!("compare-strace-{}", std::process::id()));
        let out = Command::new("strace")
            .args(["-f", "-c", "-o"])
            .arg(&summary)
            .args([BIN, "--only", key, "--quick", "--placement", "same"])
            .args(["--sizes", "64", "--iters", "4000", "--format", "json"])
            .output()
            .unwrap();
        let text = std::fs::read_to_string(&summary).unwrap_or_default();
        let _ = std::fs::remove_file(&summary);
        if !out.status.success() && text.is_empty() {
            eprintln!(
                "skipped: strace could not trace compare here: {}",
                stderr(&out)
            );
            return;
        }
        assert!(out.status.success(), "{key}: {out:?}");
        let counts = strace_counts(&text);
        let carried: u64 = counts
            .iter()
            .filter(|(_, _, name)| message_calls.contains(&name.as_str()))
            .map(|(calls, errors, _)| calls - errors)
            .sum();
        let total: u64 = counts.iter().map(|(calls, _, _)| calls).sum();
        // 4400 round trips (4000 timed, 400 warm-up) are 8800 messages, each sent and received
        // once; the throughput run adds more. Everything else (start-up, setup, reaping, failed
        // calls, a poll before each receive) must stay a fixed overhead of a few hundred.
        assert!(
            carried >= 2 * 8800,
            "{key}: {carried} message calls:\n{text}"
        );
        let other = total - carried;
        assert!(
            other * 10 < carried,
            "{key}: {other} calls besides the {carried} that carried messages:\n{text}"
        );
    }
}

#[test]
fn a_killed_echo_is_noticed_within_two_seconds_by_rows_that_wait_with_a_timeout() {
    for (key, label) in [("mq", "POSIX mq"), ("uds-datagram", "UDS datagram")] {
        kill_the_echo_mid_run(key).assert_row_failed(label);
    }
}

#[test]
fn every_setup_is_measured_under_umask_0777_and_unprivileged() {
    // SAFETY: geteuid has no preconditions.
    let root = unsafe { libc::geteuid() } == 0;
    // As nobody, a copy of the binary: the checkout may sit where nobody cannot enter.
    let nobody = (root && testkit::have_setpriv()).then(|| NobodyCopy::of(BIN));
    let mut cmd = match &nobody {
        Some(copy) => copy.command(),
        None => {
            eprintln!("skipped as nobody (not root or no setpriv): running as this user");
            Command::new(BIN)
        }
    };
    // Every row: its ends and its setups alike must work under this umask.
    cmd.args(["--quick", "--placement", "same", "--sizes", "64"])
        .args([
            "--only",
            "pipe,fifo,signal,mq,sysv-mq,shm,uds,tcp",
            "--format",
            "json",
        ]);
    let out = testkit::output(with_umask(&mut cmd, 0o777), "compare");
    let err = stderr(&out);
    assert!(out.status.success(), "{err}");
    let setups: Vec<&str> = err.lines().filter(|l| l.contains(" setup, ")).collect();
    for wanted in [
        "pipe setup, anonymous: 2 x pipe: ",
        "FIFO setup, named: 2 x mkfifo, open both ends: ",
        "SysV mq setup, named: 2 x msgget(key) + IPC_RMID: ",
        "shm (zero-copy) setup, memfd: seal, pass (SCM_RIGHTS), mmap: ",
        "signal setup, no object: ring ourselves by pid: ",
        "POSIX mq setup, named: 2 x mq_open + mq_unlink: ",
        "shm (spin) setup, named: shm_open + ftruncate + mmap: ",
        "shm (spin) setup, anonymous: mmap MAP_SHARED: ",
        "shm (spin) setup, memfd: seal, pass (SCM_RIGHTS), mmap: ",
        "UDS stream setup, named: bind + listen + connect + accept: ",
        "UDS stream setup, anonymous: socketpair: ",
        "UDS datagram setup, named: 2 x bind + 2 x connect: ",
        "UDS datagram setup, anonymous: socketpair: ",
        "TCP loopback setup, named: bind + listen + connect + accept: ",
    ] {
        let line = setups.iter().find(|l| l.contains(wanted));
        let us = line.and_then(|l| l.split(wanted).nth(1)?.strip_suffix(" µs"));
        assert!(
            us.is_some_and(|n| n.parse::<f64>().is_ok_and(|n| n > 0.0)),
            "{wanted:?}: {line:?} in\n{err}"
        );
    }
}

#[test]
fn a_shm_name_a_killed_run_left_is_removed_and_no_other() {
    // A pid that is no longer running: a child that has been reaped.
    let mut gone = Command::new("true").spawn().unwrap();
    let dead = gone.id();
    gone.wait().unwrap();
    let path = |pid: u32, tag: &str| format!("/dev/shm/ipc-tour-cmp-{pid}-{tag}");
    let stale = path(dead, "5ea1e000");
    let live = path(std::process::id(), "a11e0000");
    std::fs::write(&stale, b"").unwrap();
    std::fs::write(&live, b"").unwrap();
    // Another user's object with a dead pid: never ours to remove.
    let others = path(dead, "07e50000");
    // SAFETY: geteuid has no preconditions.
    let root = unsafe { libc::geteuid() } == 0;
    let by_nobody = root
        && Command::new("setpriv")
            .args(["--reuid=65534", "--regid=65534", "--clear-groups", "touch"])
            .arg(&others)
            .status()
            .is_ok_and(|s| s.success());
    if !by_nobody {
        eprintln!("skipped the other user's object: not root, or no setpriv");
    }
    let out = compare(&["--only", "shm-spin", "--quick", "--placement", "same"]);
    let exists = |p: &str| std::path::Path::new(p).exists();
    let (stale_left, live_left, others_left) = (exists(&stale), exists(&live), exists(&others));
    for p in [&stale, &live, &others] {
        let _ = std::fs::remove_file(p);
    }
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(!stale_left, "{stale}: a killed run's object was left");
    assert!(live_left, "{live}: a running process's object was removed");
    assert!(
        !by_nobody || others_left,
        "{others}: another user's object was removed"
    );
}
