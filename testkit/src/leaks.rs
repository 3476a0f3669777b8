//! What a run may leave behind, as /proc and the file system show it: its processes (by
//! process group, by command line) and its names in a directory such as /dev/shm.

use std::ffi::OsStr;
use std::fs;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

/// Every process /proc lists, zombies included (threads are not listed).
pub fn pids() -> Vec<i32> {
    fs::read_dir("/proc")
        .expect("read /proc")
        .flatten()
        .filter_map(|entry| entry.file_name().to_str()?.parse().ok())
        .collect()
}

/// The fields of /proc/PID/stat after "(comm)": state, ppid, pgrp, ... None if the process
/// is gone. A comm may hold spaces and parentheses, hence the split at the last ") ".
fn stat_fields(pid: i32) -> Option<Vec<String>> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let (_, after) = stat.rsplit_once(") ")?;
    Some(after.split_whitespace().map(str::to_string).collect())
}

/// Does `pid` exist and run (neither a zombie nor dead)?
pub fn alive(pid: i32) -> bool {
    stat_fields(pid).is_some_and(|fields| fields[0] != "Z" && fields[0] != "X")
}

/// Processes, zombies included, whose process group is `pgid`: the children of a program
/// started in a group of its own inherit it.
pub fn processes_in_group(pgid: i32) -> Vec<i32> {
    let in_group = |pid: &i32| {
        stat_fields(*pid).is_some_and(|f| f.get(2).and_then(|g| g.parse().ok()) == Some(pgid))
    };
    pids().into_iter().filter(in_group).collect()
}

/// Live processes whose command line (its arguments joined by NUL bytes) contains `needle`:
/// a path or a flag that a run passes to every child finds the children of that run, even
/// after they were re-parented. Zombies are left out (their command line is empty anyway),
/// and so is a child so new that exec has not yet set its command line up: poll for one.
pub fn processes_mentioning(needle: impl AsRef<OsStr>) -> Vec<i32> {
    let needle = needle.as_ref().as_bytes();
    let mentions = |pid: &i32| {
        let cmdline = fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
        let found = needle.is_empty() || cmdline.windows(needle.len()).any(|w| w == needle);
        found && alive(*pid)
    };
    pids().into_iter().filter(mentions).collect()
}

/// SIGKILLs every process in `left` (so that a failing test leaves nothing running), then
/// fails naming `what` if there was any.
pub fn assert_none_left(left: &[i32], what: &str) {
    for &pid in left {
        let _ = kill(Pid::from_raw(pid), Signal::SIGKILL);
    }
    assert!(left.is_empty(), "{what} left running: {left:?}");
}

/// The names in `dir` that contain `fragment`, sorted: what runs left in /dev/shm or
/// /dev/mqueue, say. Err if the directory cannot be read (the caller decides whether that
/// means nothing was left or that the test cannot see).
pub fn names_containing(dir: impl AsRef<Path>, fragment: &str) -> io::Result<Vec<String>> {
    let mut names: Vec<String> = fs::read_dir(dir)?
        .flatten()
        .map(|entry| entry.file_name().to_string_lossy().into_owned())
        .filter(|name| name.contains(fragment))
        .collect();
    names.sort();
    Ok(names)
}
