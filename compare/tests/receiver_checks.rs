//! The checks the receiving process makes, each made to fire once through the `compare`
//! binary: the echo child's check of every round-trip message, the throughput child's check
//! of every streamed message (a byte row's sink, the zero-copy row's slot echo), on a byte
//! stream, a System V queue and a zero-copy slot; and, traced, the system calls the System V
//! row and the memfd setup are said to make. (The parent's check of the echo: `compare.rs`,
//! `--corrupt-after`.)
//!
//! The hidden, test-only flag `--corrupt-to-child N` makes every sender flip one byte of
//! message N after filling it (in its buffer, in the System V msgbuf, in the zero-copy slot)
//! and before the child receives it. The child's check must catch it: the child says
//! "message N arrived changed", the row fails, compare exits 1 and leaves nothing behind.
//!
//! The traced tests need strace (`apt-get install -y strace`); without it, or where it may
//! not trace (no ptrace in a container), they say why and pass.
#![allow(clippy::unwrap_used)]

mod common;

use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use common::{BIN, json_rows};
use testkit::{names_containing, processes_in_group, stderr};

/// The row's options: one size, one core, JSON on stdout.
const QUICK_ROW: [&str; 7] = [
    "--quick",
    "--placement",
    "same",
    "--sizes",
    "64",
    "--format",
    "json",
];

/// Runs compare on row `key` with `extra` options in a process group of its own; returns its
/// output once it has exited, after checking that it left no process, no name in /dev/shm or
/// /dev/mqueue, no directory in the temp dir and no System V queue behind.
fn run_row(key: &str, extra: &[&str]) -> Output {
    let child = Command::new(BIN)
        .args(["--only", key])
        .args(QUICK_ROW)
        .args(extra)
        .process_group(0)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id();
    let out = testkit::output_within(child, Duration::from_secs(60), "compare");
    let pgid = i32::try_from(pid).unwrap();
    testkit::assert_none_left(&processes_in_group(pgid), &format!("{key}: processes"));
    // Every name a run makes carries its pid: "ipc-tour-<what>-<pid>-<random>".
    let ours = format!("-{pid}-");
    for dir in [
        PathBuf::from("/dev/shm"),
        "/dev/mqueue".into(),
        std::env::temp_dir(),
    ] {
        let left = names_containing(&dir, &ours).unwrap_or_default();
        assert!(
            left.is_empty(),
            "{key}: left in {}: {left:?}",
            dir.display()
        );
    }
    let queues = sysv_queues_touched_by(pid);
    assert!(queues.is_empty(), "{key}: System V queues left: {queues:?}");
    out
}

/// Lines of /proc/sysvipc/msg whose last sender or receiver is `pid`.
fn sysv_queues_touched_by(pid: u32) -> Vec<String> {
    let table = std::fs::read_to_string("/proc/sysvipc/msg").unwrap_or_default();
    table
        .lines()
        .skip(1)
        .filter(|l| {
            // key msqid perms cbytes qnum lspid lrpid ...
            let f: Vec<&str> = l.split_whitespace().collect();
            f.len() > 6 && (f[5] == pid.to_string() || f[6] == pid.to_string())
        })
        .map(str::to_string)
        .collect()
}

#[test]
fn a_message_changed_on_its_way_to_the_child_fails_the_row_from_the_receiving_side() {
    // A byte stream (the message leaves the parent's buffer by write), a System V queue (it is
    // filled and altered in the parent's msgbuf), a zero-copy slot (altered where it lies).
    for (key, label) in [
        ("pipe", "pipe"),
        ("sysv-mq", "SysV mq"),
        ("shm-zero-copy", "shm (zero-copy)"),
    ] {
        let out = run_row(key, &["--corrupt-to-child", "5"]);
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(1), "{key}: stderr:\n{err}");
        // Both receiving children say it, each in its one line: the echo of the round trips
        // and the receiver of the throughput stream.
        for measurement in [
            format!("{label}, 64 B, same core"),
            format!("{label} throughput, same core"),
        ] {
            let said = format!(
                "compare: child ({measurement}): message 5 arrived changed: payload mismatch"
            );
            assert!(
                err.lines().any(|l| l.starts_with(&said)),
                "{key}: no line {said:?} in:\n{err}"
            );
        }
        let last = err.lines().last().unwrap_or_default();
        assert!(
            last.starts_with("compare: 2 measurement(s) failed, the first: ")
                && last.contains("the child received a corrupted message"),
            "{key}: last line: {last}"
        );
        assert!(!err.contains("panicked"), "{key}:\n{err}");
        let rows = json_rows(&out);
        assert_eq!(rows.len(), 1, "{key}");
        assert_eq!(rows[0]["status"], "failed", "{key}: {}", rows[0]);
        assert!(
            rows[0]["rtt_p50_ns"].is_null(),
            "{key}: a number from a failed row"
        );

        // The same run without the flag passes: the failure was the flag's doing.
        let out = run_row(key, &[]);
        assert!(out.status.success(), "{key}: {}", stderr(&out));
        assert_eq!(json_rows(&out)[0]["status"], "ok", "{key}");
    }
}

#[test]
fn corrupt_to_child_is_hidden_and_takes_a_message_number() {
    let help = testkit::run(BIN, &["--help"]);
    assert!(!testkit::stdout(&help).contains("corrupt"));
    for bad in ["x", "-1", "18446744073709551615"] {
        let out = testkit::run(BIN, &["--quick", "--corrupt-to-child", bad]);
        assert_eq!(out.status.code(), Some(2), "{bad}: {}", stderr(&out));
        assert_eq!(stderr(&out).lines().count(), 1, "{bad}: {}", stderr(&out));
    }
}

/// Runs compare under `strace -f -e trace=CALLS -o FILE` with `args`, returning the trace and
/// compare's output; None (after saying why) where strace is missing or cannot trace here.
fn traced(calls: &str, args: &[&str]) -> Option<(String, Output)> {
    if Command::new("strace").arg("-V").output().is_err() {
        eprintln!("skipped: strace is not installed (apt-get install -y strace)");
        return None;
    }
    let file = std::env::temp_dir().join(testkit::unique("compare-strace"));
    let out = Command::new("strace")
        .args(["-f", "-qq", "-e", &format!("trace={calls}"), "-o"])
        .arg(&file)
        .arg(BIN)
        .args(args)
        .output()
        .unwrap();
    let trace = std::fs::read_to_string(&file).unwrap_or_default();
    let _ = std::fs::remove_file(&file);
    if !out.status.success() && trace.is_empty() {
        eprintln!(
            "skipped: strace could not trace compare here: {}",
            stderr(&out)
        );
        return None;
    }
    assert!(
        out.status.success(),
        "compare under strace: {}",
        stderr(&out)
    );
    Some((trace, out))
}

/// The finished calls to `call` in a `strace -f` trace that succeeded (returned 0 or more):
/// (pid, what strace printed of it). A call that blocked while another process ran is split
/// in two lines, "PID call(args <unfinished ...>" and "PID <... call resumed>rest) = N"; the
/// second is the finished call.
fn succeeded(trace: &str, call: &str) -> Vec<(u32, String)> {
    let (started, resumed) = (format!("{call}("), format!("<... {call} resumed>"));
    trace
        .lines()
        .filter_map(|l| {
            let (pid, rest) = l.split_once(' ')?;
            let rest = rest.trim_start();
            let finished = (rest.starts_with(&started) && !rest.ends_with("<unfinished ...>"))
                || rest.starts_with(&resumed);
            let (_, result) = rest.rsplit_once(" = ")?;
            let ok = finished && !result.starts_with('-') && !result.starts_with('?');
            ok.then(|| Some((pid.parse().ok()?, rest.to_string())))?
        })
        .collect()
}

#[test]
fn the_system_v_row_carries_its_messages_by_msgsnd_and_msgrcv_in_both_processes() {
    let args = ["--only", "sysv-mq", "--iters", "100"];
    let Some((trace, _)) = traced("msgsnd,msgrcv", &[&args[..], &QUICK_ROW].concat()) else {
        return;
    };
    let pids = |calls: Vec<(u32, String)>| calls.into_iter().map(|(pid, _)| pid).collect();
    let (sends, receives): (Vec<u32>, Vec<u32>) = (
        pids(succeeded(&trace, "msgsnd")),
        pids(succeeded(&trace, "msgrcv")),
    );
    // 3 rounds of 100 round trips after a warm-up of 10: each message is sent and received once.
    assert!(sends.len() >= 2 * 330, "{} msgsnd:\n{trace}", sends.len());
    assert!(
        receives.len() >= 2 * 330,
        "{} msgrcv:\n{trace}",
        receives.len()
    );
    // The parent and every child both send and receive: more than one process does both.
    let mut both: Vec<u32> = sends
        .iter()
        .copied()
        .filter(|p| receives.contains(p))
        .collect();
    both.sort_unstable();
    both.dedup();
    assert!(
        both.len() >= 2,
        "only {both:?} both sent and received:\n{trace}"
    );
}

#[test]
fn the_memfd_setup_receives_its_descriptor_with_scm_rights() {
    let args = ["--only", "shm-spin"];
    let Some((trace, out)) = traced("sendmsg,recvmsg", &[&args[..], &QUICK_ROW].concat()) else {
        return;
    };
    let err = stderr(&out);
    assert!(
        err.contains("memfd: seal, pass (SCM_RIGHTS), mmap: "),
        "{err}"
    );
    // --quick times the setup 5 times: each passes one descriptor and receives it.
    let with_fd = |call: &str| {
        succeeded(&trace, call)
            .iter()
            .filter(|(_, c)| c.contains("cmsg_type=SCM_RIGHTS, cmsg_data=["))
            .count()
    };
    assert!(with_fd("sendmsg") >= 5, "{trace}");
    assert!(with_fd("recvmsg") >= 5, "{trace}");
}
