//! The stale sweep removes what a killed run of ours left, and nothing else.

use std::fs;
use std::process::Command;

use plumbing::names::{PrivateDir, sweep, unique};

/// A pid that surely belongs to no process now: a child we started and reaped.
fn dead_pid() -> u32 {
    let mut child = Command::new("true").spawn().expect("spawn true");
    let pid = child.id();
    child.wait().expect("wait");
    pid
}

#[test]
fn sweep_takes_dead_runs_of_ours_only() {
    let dir = PrivateDir::create("ipc-tour-sweeptest-").expect("mkdir");
    let prefix = "ipc-tour-x-";
    let dead = format!("{prefix}{}-abc123", dead_pid());
    let alive = unique(prefix, 6);
    let other_shape = format!("{prefix}{}-nothex", dead_pid());
    for name in [&dead, &alive, &other_shape] {
        fs::write(dir.path().join(name), b"").expect("create");
    }
    let mut foreign = None;
    if nix::unistd::geteuid().is_root() {
        // Another user's object with a dead pid: never ours to remove.
        let name = format!("{prefix}{}-def456", dead_pid());
        let path = dir.path().join(&name);
        fs::write(&path, b"").expect("create");
        std::os::unix::fs::chown(&path, Some(65534), Some(65534)).expect("chown");
        foreign = Some(name);
    } else {
        eprintln!("skipped the other-user case: it needs root to chown a file");
    }
    let removed = sweep(dir.path(), prefix, |p| fs::remove_file(p));
    assert_eq!(removed, vec![dead.clone()]);
    assert!(!dir.path().join(&dead).exists());
    assert!(dir.path().join(&alive).exists());
    assert!(dir.path().join(&other_shape).exists());
    if let Some(name) = foreign {
        assert!(dir.path().join(name).exists());
    }
}
