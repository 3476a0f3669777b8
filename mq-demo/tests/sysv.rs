//! Step 8, the System V queue, run as a user would, and its stale sweep.
#![cfg(target_os = "linux")]
#![allow(clippy::unwrap_used)]

mod common;

use std::os::unix::fs::PermissionsExt;
use std::sync::{Mutex, MutexGuard};

use common::*;
use mq_demo::sysv::{self, SysvQueue};
use testkit::text;

/// The tests of this file take turns: a tour run by one sweeps the private directories of dead
/// pids, which is exactly what the sweep test plants, before it has written the queue's record.
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

fn one_at_a_time() -> MutexGuard<'static, ()> {
    ONE_AT_A_TIME
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn line_with<'a>(out: &'a str, needle: &str) -> &'a str {
    out.lines()
        .find(|l| l.contains(needle))
        .unwrap_or_else(|| panic!("no line with {needle:?} in:\n{out}"))
}

/// The number after `word` in `line` ("qnum 3" -> 3).
fn after(line: &str, word: &str) -> String {
    let mut words = line.split_whitespace();
    words.find(|w| *w == word).unwrap();
    words
        .next()
        .unwrap()
        .trim_end_matches([':', ';'])
        .to_string()
}

/// Runs `by-type` with `umask` and checks what it printed against what it did.
fn by_type_with_umask(umask: libc::mode_t) {
    let _turn = one_at_a_time();
    let mut cmd = command(&["by-type"], &unique_tag());
    testkit::with_umask(&mut cmd, umask);
    let out = testkit::output(&mut cmd, "mq-demo by-type");
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{stdout}\n{}", text(&out.stderr));
    let id: i32 = after(line_with(&stdout, "IPC_EXCL | 0600) -> queue id"), "id")
        .parse()
        .unwrap();
    let listed = line_with(&stdout, "    key 0x");
    assert_eq!(after(listed, "msqid"), id.to_string(), "{listed}");
    assert_eq!(after(listed, "perms"), "600", "umask {umask:o}: {listed}");
    let sent: Vec<&str> = stdout
        .lines()
        .filter(|l| l.contains("msgsnd type"))
        .collect();
    assert_eq!(after(listed, "qnum"), sent.len().to_string(), "{listed}");
    let bytes: usize = sent
        .iter()
        .map(|l| l.split('"').nth(1).unwrap().len())
        .sum();
    assert_eq!(after(listed, "cbytes"), bytes.to_string(), "{listed}");

    // msgtyp 2 takes only the type-2 message; -3 takes the rest lowest type first.
    let taken: Vec<(String, String)> = stdout
        .lines()
        .filter(|l| l.contains("msgrcv(msgtyp") && l.contains(" type "))
        .map(|l| (after(l, "type"), l.split("):").next().unwrap().to_string()))
        .collect();
    let types: Vec<&str> = taken.iter().map(|(t, _)| t.as_str()).collect();
    assert_eq!(types, ["2", "1", "3"], "{stdout}");
    assert!(taken[0].1.ends_with(" 2"), "{stdout}");
    assert!(line_with(&stdout, "types taken:").contains("types taken: 2 1 3; sent: 3 1 2"));
    assert!(line_with(&stdout, "IPC_RMID").contains(&format!("no longer lists id {id}")));
    assert!(line_with(&stdout, "msgget(key, 0) -> ENOENT").ends_with("ENOENT"));
    assert!(sysv::listed_id(id).unwrap().is_none(), "queue {id} left");
    let dir = line_with(&stdout, "/ipc-tour-mq-sysv-").trim();
    assert!(!std::path::Path::new(dir).exists(), "{dir} left");
}

#[test]
fn by_type_selects_by_type_and_removes_the_queue() {
    by_type_with_umask(0o022);
}

/// System V IPC ignores the umask; the mode must be exactly 0600 however restrictive it is.
#[test]
fn by_type_under_restrictive_umasks() {
    for umask in [0o277, 0o377, 0o777] {
        by_type_with_umask(umask);
    }
}

/// A pid that no process has any more (a reaped child's).
fn dead_pid() -> u32 {
    let mut gone = std::process::Command::new("true").spawn().unwrap();
    gone.wait().unwrap();
    gone.id()
}

/// What a SIGKILLed run leaves: its private directory (named with its pid) recording the key
/// and id of a queue. Returns the directory and the queue's id; the queue is left in place.
fn stale_run(pid: u32, tag: &str) -> (std::path::PathBuf, i32) {
    let dir = std::env::temp_dir().join(format!("{}{pid}-{tag}", mq_demo::sysv_keyed::DIR_PREFIX));
    std::fs::create_dir(&dir).unwrap();
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700)).unwrap();
    let key = sysv::ftok(&dir, mq_demo::sysv_keyed::PROJ).unwrap();
    let id = SysvQueue::create(key).unwrap().into_id();
    std::fs::write(dir.join("queue"), format!("{key} {id}\n")).unwrap();
    (dir, id)
}

/// Sets the queue's owner uid (msgctl IPC_SET), as root can.
fn give_away(id: i32, uid: u32) {
    // SAFETY: msqid_ds is plain data, filled by IPC_STAT and read back by IPC_SET.
    unsafe {
        let mut ds: libc::msqid_ds = std::mem::zeroed();
        assert_eq!(libc::msgctl(id, libc::IPC_STAT, &mut ds), 0);
        ds.msg_perm.uid = uid;
        assert_eq!(libc::msgctl(id, libc::IPC_SET, &mut ds), 0);
    }
}

/// A queue a killed run of ours left is removed by the next run; one that another user owns
/// (though recorded by a directory of ours, with a dead pid) never is. Giving a queue away
/// needs root; skipped otherwise.
#[test]
fn the_sysv_sweep_removes_our_stale_queue_and_no_one_elses() {
    let _turn = one_at_a_time();
    if !nix::unistd::geteuid().is_root() {
        eprintln!("skipped: needs root to give a queue to another user (msgctl IPC_SET)");
        return;
    }
    let pid = dead_pid();
    let (our_dir, ours) = stale_run(pid, "0000f00d");
    let (their_dir, theirs) = stale_run(pid, "0badf00d");
    give_away(theirs, 65534);

    let out = run(&["by-type"]);
    let stdout = text(&out.stdout);
    let left_ours = sysv::listed_id(ours).unwrap().is_some();
    let left_theirs = sysv::listed_id(theirs).unwrap().is_some();
    for id in [ours, theirs] {
        // SAFETY: IPC_RMID reads no buffer.
        unsafe { libc::msgctl(id, libc::IPC_RMID, std::ptr::null_mut()) };
    }
    let _ = std::fs::remove_dir_all(&their_dir);
    assert!(out.status.success(), "{stdout}\n{}", text(&out.stderr));
    assert!(
        left_theirs,
        "the sweep removed nobody's queue {theirs}:\n{stdout}"
    );
    assert!(!stdout.contains(&format!("id {theirs} ")), "{stdout}");
    // Another test's run at the same time may be the one that removed ours.
    assert!(!left_ours, "queue {ours} is still there:\n{stdout}");
    assert!(!our_dir.exists(), "{}", our_dir.display());
}
