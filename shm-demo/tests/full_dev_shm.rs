//! A full /dev/shm: creating an object reserves its pages, so the demo reports ENOSPC in one
//! line and leaves nothing, instead of dying of SIGBUS at its first store. The full /dev/shm is
//! a 64 KiB tmpfs filled to the brim, mounted over /dev/shm in a private mount namespace
//! (`unshare -m`): needs root; skipped with a reason elsewhere.
#![allow(clippy::unwrap_used)]

mod common;

use std::process::Command;

use common::{BIN, stderr, stdout};

/// What a run inside the full /dev/shm showed: its exit status as a shell sees it (135 for
/// SIGBUS), its output, and what was left in /dev/shm besides the filler.
struct Run {
    status: i32,
    out: String,
    err: String,
    left: Vec<String>,
}

/// Can this process make a private mount namespace and mount a tmpfs in it?
fn can_mount() -> bool {
    if !nix::unistd::geteuid().is_root() {
        eprintln!("skipped: not root, cannot mount a small tmpfs over /dev/shm");
        return false;
    }
    let ok = Command::new("unshare")
        .args(["-m", "sh", "-c", "mount -t tmpfs -o size=64k none /dev/shm"])
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        eprintln!(
            "skipped: `unshare -m` + `mount -t tmpfs` failed (no util-linux or no CAP_SYS_ADMIN)"
        );
    }
    ok
}

/// Runs `shm-demo ARGS` with a full 64 KiB /dev/shm of its own.
fn in_full_dev_shm(args: &[&str]) -> Run {
    let script = r#"mount -t tmpfs -o size=64k none /dev/shm || exit 99
        cat /dev/zero > /dev/shm/fill 2>/dev/null
        "$0" "$@"
        echo "status $?"
        ls -A /dev/shm"#;
    let out = Command::new("unshare")
        .args(["-m", "sh", "-c", script, BIN])
        .args(args)
        .output()
        .unwrap();
    let text = stdout(&out);
    let (before, after) = text
        .split_once("status ")
        .unwrap_or_else(|| panic!("no status line: {text}{}", stderr(&out)));
    let mut tail = after.lines();
    let status = tail.next().unwrap().parse().unwrap();
    Run {
        status,
        out: before.to_owned(),
        err: stderr(&out),
        left: tail.filter(|f| *f != "fill").map(str::to_owned).collect(),
    }
}

fn assert_enospc(run: &Run, what: &str) {
    assert_ne!(run.status, 135, "{what} died of SIGBUS: {}", run.err);
    assert_eq!(run.status, 1, "{what}: {}{}", run.out, run.err);
    assert_eq!(run.err.lines().count(), 1, "{what}: {}", run.err);
    assert!(
        run.err.contains("No space left on device") && run.err.contains("/dev/shm is full"),
        "{what}: {}",
        run.err
    );
    assert!(
        run.left.is_empty(),
        "{what} left {:?} in /dev/shm",
        run.left
    );
}

#[test]
fn write_into_a_full_dev_shm_is_enospc_not_sigbus() {
    if !can_mount() {
        return;
    }
    let run = in_full_dev_shm(&["write", "/sensor_data", "--temp", "7"]);
    println!("{}", run.err);
    assert_enospc(&run, "write");
    assert!(run.err.contains("(64 KiB, 0 KiB free)"), "{}", run.err);
}

#[test]
fn the_tour_in_a_full_dev_shm_is_enospc_not_sigbus() {
    if !can_mount() {
        return;
    }
    let run = in_full_dev_shm(&["--increments", "1000", "--messages", "10"]);
    assert_enospc(&run, "the tour");
    // It stopped at step 3, the first that needs /dev/shm: the object was never made.
    assert!(run.out.contains("\n2. "), "{}", run.out);
    assert!(!run.out.contains("\n3. "), "{}", run.out);
}

#[test]
fn counter_and_ring_do_not_need_dev_shm() {
    // Their regions are anonymous MAP_SHARED mappings, shared by fork: no name, no /dev/shm.
    if !can_mount() {
        return;
    }
    for args in [
        &["counter", "--increments", "1000"][..],
        &["ring", "--messages", "10", "--size", "100000"][..],
    ] {
        let run = in_full_dev_shm(args);
        assert_eq!(run.status, 0, "{args:?}: {}{}", run.out, run.err);
        assert!(run.left.is_empty(), "{args:?} left {:?}", run.left);
    }
}
