//! compare at its edges (issue 26): a System V queue smaller than one message, a stopped
//! child with --iters, SIGALRM from outside, a limit on processes, chart paths that cannot be
//! replaced, and `--only all`. Each run is bounded; the limits are set for compare alone (its
//! own IPC namespace, or setrlimit and a plain user in the spawned child), and nothing is
//! left behind.
#![allow(clippy::unwrap_used)]

mod common;

use std::os::unix::net::UnixListener;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::sync::mpsc::Receiver;
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::sys::stat::Mode;
use nix::unistd::{Pid, mkfifo};
use testkit::{
    KillAfter, TempDir, exit_within, is_root, line_channel, output_within, processes_in_group,
    stderr, wait_for_line,
};

use common::{BIN, compare, json_rows};

/// The unprivileged user the limit tests run compare as: RLIMIT_NPROC does not bind root.
const NOBODY: u32 = 65534;

fn unshare_works() -> bool {
    is_root() && Command::new("unshare").arg("--version").output().is_ok()
}

/// A process group that is SIGKILLed when the test ends, however it ends: a failed assertion
/// must not leave compare (or a stopped child of it) running.
struct Group(i32);

impl Drop for Group {
    fn drop(&mut self) {
        let _ = kill(Pid::from_raw(-self.0), Signal::SIGKILL);
    }
}

/// compare started in a process group of its own, its stderr as lines.
fn started(args: &[&str]) -> (std::process::Child, Receiver<String>) {
    let mut run = Command::new(BIN)
        .args(args)
        .process_group(0)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let lines = line_channel(run.stderr.take().unwrap());
    (run, lines)
}

fn assert_group_gone(pgid: i32) {
    let deadline = Instant::now() + Duration::from_secs(2);
    while !processes_in_group(pgid).is_empty() {
        let left = processes_in_group(pgid);
        assert!(Instant::now() < deadline, "left running: {left:?}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// With msgmnb below one 64-byte message, msgsnd in the System V setup would wait for ever:
/// the run must end, the setup failed with a reason naming the knob, and no queue left.
#[test]
fn a_system_v_queue_smaller_than_a_message_fails_the_setup_not_hangs() {
    if !unshare_works() {
        eprintln!("skipped: an IPC namespace of its own needs root and unshare(1)");
        return;
    }
    let script = "echo 32 > /proc/sys/kernel/msgmnb || exit 99
        timeout -s KILL 20 \"$0\" --only sysv-mq --quick --placement same > /dev/null
        echo \"status $?\" >&2
        tail -n +2 /proc/sysvipc/msg >&2";
    let mut cmd = Command::new("unshare");
    cmd.args(["--ipc", "--", "sh", "-c", script, BIN]);
    let child = cmd.stderr(Stdio::piped()).spawn().unwrap();
    let out = output_within(child, Duration::from_secs(30), "compare with msgmnb 32");
    let err = stderr(&out);
    let mut lines: Vec<&str> = err.lines().collect();
    assert!(lines.contains(&"status 1"), "{err}");
    let status_at = lines.iter().position(|l| *l == "status 1").unwrap();
    let queues = lines.split_off(status_at + 1);
    assert!(queues.is_empty(), "System V queues left: {queues:?}");
    let last = lines[status_at - 1];
    assert!(
        last.contains("SysV mq setup")
            && last.contains("/proc/sys/kernel/msgmnb = 32")
            && last.contains("sysctl kernel.msgmnb"),
        "{err}"
    );
}

/// With --iters there is no time cap, but a child stopped mid-measurement must still fail its
/// row (within the 10 s stillness bound, plus slack for a loaded machine), with a reason that
/// says it was stopped, and the run must end with nothing left.
#[test]
fn a_stopped_child_fails_its_row_with_iters_too() {
    let args = ["--only", "pipe", "--placement", "same", "--sizes", "64"];
    let (mut run, lines) = started(&[&args[..], &["--iters", "5000000"]].concat());
    let pgid = run.id() as i32;
    let _group = Group(pgid);
    let guard = KillAfter::new(&run, Duration::from_secs(60));
    let mut log = Vec::new();
    let note = |l: &str| log.push(l.to_string());
    let found = wait_for_line(
        &lines,
        Duration::from_secs(30),
        |l| l.contains("throughput"),
        note,
    );
    assert!(found.is_ok(), "no throughput line: {log:?}");
    // The long round-trip measurement follows: its child is the group's other process.
    let deadline = Instant::now() + Duration::from_secs(5);
    let echo = loop {
        if let Some(&p) = processes_in_group(pgid).iter().find(|&&p| p != pgid) {
            break p;
        }
        assert!(Instant::now() < deadline, "no echo child appeared: {log:?}");
        std::thread::sleep(Duration::from_millis(5));
    };
    std::thread::sleep(Duration::from_millis(200));
    kill(Pid::from_raw(echo), Signal::SIGSTOP).unwrap();
    let stopped_at = Instant::now();
    let mut rest = Vec::new();
    let failed = wait_for_line(
        &lines,
        Duration::from_secs(25),
        |l| l.contains("FAILED"),
        |l| rest.push(l.to_string()),
    );
    let took = stopped_at.elapsed();
    assert!(failed.is_ok(), "no FAILED line after the stop: {rest:?}");
    assert!(
        took >= Duration::from_secs(9),
        "fired after {took:?}: {rest:?}"
    );
    let status = exit_within(&mut run, Duration::from_secs(15), "compare");
    drop(guard);
    rest.extend(lines.try_iter());
    assert_eq!(status.code(), Some(1), "{rest:?}");
    let last = rest.last().map_or("", String::as_str);
    assert!(
        last.contains("no progress for 10 s") && last.contains("state T"),
        "{rest:?}"
    );
    assert_group_gone(pgid);
}

/// SIGALRM from outside is a stop signal like SIGTERM: exit 142 with the usual line, every
/// child reaped. (compare used to take it for its watchdog, and failed a row instead.)
#[test]
fn an_outside_sigalrm_stops_the_run_cleanly() {
    for (args, delay) in [
        (&["--quick"][..], 300),
        (&["--only", "sysv-mq,pipe", "--iters", "2000000"][..], 1500),
    ] {
        let (mut run, lines) = started(args);
        let pgid = run.id() as i32;
        let _group = Group(pgid);
        std::thread::sleep(Duration::from_millis(delay));
        kill(Pid::from_raw(pgid), Signal::SIGALRM).unwrap();
        let status = exit_within(&mut run, Duration::from_secs(10), "compare after SIGALRM");
        let err: Vec<String> = lines.iter().collect();
        assert_eq!(status.code(), Some(142), "{args:?}: {err:?}");
        assert_eq!(
            err.last().map(String::as_str),
            Some("compare: stopped by SIGALRM; removed everything this run created"),
            "{args:?}: {err:?}"
        );
        assert!(!err.iter().any(|l| l.contains("watchdog")), "{err:?}");
        assert_group_gone(pgid);
    }
}

/// compare as an unprivileged user, with RLIMIT_NPROC set to `limit` (if given) in the spawned
/// child only.
fn as_nobody(limit: Option<u64>, args: &[&str]) -> Output {
    let mut cmd = Command::new(BIN);
    cmd.args(args).current_dir(std::env::temp_dir());
    // SAFETY: runs in the forked child before exec: plain system calls on stack values, no
    // allocation or lock.
    unsafe {
        cmd.pre_exec(move || {
            let nproc = limit.map(|limit| libc::rlimit {
                rlim_cur: limit,
                rlim_max: limit,
            });
            let ok = nproc.is_none_or(|nproc| libc::setrlimit(libc::RLIMIT_NPROC, &nproc) == 0)
                && libc::setgroups(0, std::ptr::null()) == 0
                && libc::setgid(NOBODY) == 0
                && libc::setuid(NOBODY) == 0;
            match ok {
                true => Ok(()),
                false => Err(std::io::Error::last_os_error()),
            }
        });
    }
    let child = cmd
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    output_within(child, Duration::from_secs(60), "compare under RLIMIT_NPROC")
}

/// A fork or a thread refused at the process limit must name RLIMIT_NPROC and its value.
#[test]
fn a_process_limit_is_named_with_its_value() {
    if !is_root() {
        eprintln!("skipped: running compare as another user needs root");
        return;
    }
    // 1: no fork at all; 2: the child starts, a thread does not.
    for (limit, only) in [(1, "pipe"), (2, "sysv-mq")] {
        let args = ["--quick", "--only", only, "--placement", "same"];
        let out = as_nobody(Some(limit), &args);
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(1), "ulimit -u {limit}: {err}");
        let last = err.lines().last().unwrap_or_default();
        assert!(
            last.contains("RLIMIT_NPROC") && last.contains(&format!("ulimit -u {limit})")),
            "ulimit -u {limit}: {err}"
        );
    }
}

/// The usage error a chart path gets, at once and before anything is measured.
fn refused(args: &[&str], dir: &Path) -> String {
    let started = Instant::now();
    let child = Command::new(BIN)
        .args(args)
        .current_dir(dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let out = output_within(child, Duration::from_secs(20), "compare");
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
    assert_eq!(err.lines().count(), 1, "{args:?}: {err}");
    assert!(out.stdout.is_empty(), "{args:?}: measured first");
    assert!(started.elapsed() < Duration::from_secs(5), "{args:?}");
    err
}

#[test]
fn chart_paths_that_cannot_be_replaced_are_usage_errors() {
    let dir = TempDir::new("compare-edges");
    std::fs::create_dir(dir.join("dir.svg")).unwrap();
    std::fs::create_dir(dir.join("sub")).unwrap();
    std::fs::write(dir.join("file"), "").unwrap();
    mkfifo(&dir.join("fifo.svg"), Mode::from_bits_truncate(0o600)).unwrap();
    let _socket = UnixListener::bind(dir.join("socket.svg")).unwrap();
    std::os::unix::fs::symlink("/dev/null", dir.join("device.svg")).unwrap();
    std::os::unix::fs::symlink("sub", dir.join("link")).unwrap();
    for (flag, path, says) in [
        ("--plot", "dir.svg", "is a directory"),
        ("--plot-throughput", "fifo.svg", "is a FIFO"),
        ("--plot", "socket.svg", "is a socket"),
        ("--plot", "device.svg", "is a device"),
        ("--plot", "missing/a.svg", "No such file or directory"),
        ("--plot", "file/a.svg", "not a directory"),
    ] {
        let err = refused(&["--quick", flag, path], &dir.0);
        assert!(err.contains(flag) && err.contains(says), "{path}: {err}");
    }
    assert!(
        nix::sys::stat::stat(&dir.join("fifo.svg"))
            .is_ok_and(|s| { s.st_mode & libc::S_IFMT == libc::S_IFIFO })
    );
    for (plot, other) in [
        ("./a.svg", "a.svg"),
        ("sub/../a.svg", "a.svg"),
        ("link/../a.svg", "./a.svg"),
        ("link/a.svg", "sub/a.svg"),
    ] {
        let args = ["--quick", "--plot", plot, "--plot-throughput", other];
        let err = refused(&args, &dir.0);
        assert!(err.contains("name the same file"), "{plot} {other}: {err}");
    }
    if is_root() {
        // A directory root owns and others may not write in, for compare as nobody.
        let chart = dir.join("a.svg");
        let out = as_nobody(None, &["--quick", "--plot", &chart.to_string_lossy()]);
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(2), "{err}");
        assert!(err.contains("cannot write in"), "{err}");
    }
    assert_eq!(dir.entries().len(), 7, "compare wrote into the directory");
}

/// The help calls the default "all": --only takes it, and measures every row.
#[test]
fn only_all_is_every_row() {
    let args = ["--quick", "--placement", "same", "--format", "json"];
    let all = compare(&[&args[..], &["--only", "all"]].concat());
    assert!(all.status.success(), "{}", stderr(&all));
    let default = compare(&args);
    let keys = |out: &Output| -> Vec<String> {
        let mut keys: Vec<String> = json_rows(out)
            .iter()
            .map(|r| r["key"].to_string())
            .collect();
        keys.dedup();
        keys
    };
    assert_eq!(keys(&all), keys(&default));
    assert!(keys(&all).len() >= 11, "{:?}", keys(&all));
}
