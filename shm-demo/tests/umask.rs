//! Any umask: objects are exactly 0600 and usable by their own user. As root (CI) the runs
//! are made as `nobody`, since root opens a 0000 object anyway and would hide the bug.
#![allow(clippy::unwrap_used)]

mod common;

use std::os::unix::fs::PermissionsExt;
use std::process::Output;

use common::{dev_shm_matching, numbers, stderr, stdout, unique_name};

const UMASKS: [u32; 3] = [0o277, 0o377, 0o777];

/// Runs shm-demo under `umask`, as `nobody` when we are root.
fn run(args: &[&str], umask: u32) -> Output {
    if nix::unistd::geteuid().is_root() {
        common::run_as_nobody_with_umask(args, Some(umask))
    } else {
        common::run_with_umask(args, umask)
    }
}

fn mode(name: &str) -> u32 {
    let meta = std::fs::metadata(format!("/dev/shm{name}")).unwrap();
    meta.permissions().mode() & 0o777
}

#[test]
fn write_makes_a_0600_object_its_user_can_use_again_under_any_umask() {
    for umask in UMASKS {
        let name = unique_name(&format!("umask{umask:o}"));
        let first = run(&["write", &name, "--temp", "5"], umask);
        let made = mode(&name);
        // A second write and a read open the existing object O_RDWR: a 0400 or 0000 object
        // would refuse its own user.
        let second = run(&["write", &name, "--temp", "6"], umask);
        let read = run(&["read", &name], umask);
        let _ = std::fs::remove_file(format!("/dev/shm{name}"));
        let what = format!("umask {umask:04o}");
        assert!(first.status.success(), "{what}: {}", stderr(&first));
        assert_eq!(made, 0o600, "{what}: object mode {made:04o}");
        assert!(second.status.success(), "{what}: {}", stderr(&second));
        assert!(
            stdout(&read).starts_with("temperature: 6 "),
            "{what}: {}{}",
            stdout(&read),
            stderr(&read)
        );
    }
}

#[test]
fn the_tour_works_under_any_umask_and_leaves_nothing() {
    for umask in UMASKS {
        let out = run(&["--increments", "1000", "--messages", "10"], umask);
        let text = stdout(&out);
        let what = format!("umask {umask:04o}");
        assert!(out.status.success(), "{what}: {text}{}", stderr(&out));
        // Step 1 reports the mode it read back from /dev/shm.
        let step1: String = text
            .lines()
            .skip_while(|l| !l.starts_with("3. "))
            .take_while(|l| !l.starts_with("4. "))
            .collect();
        assert!(step1.contains("mode 0600"), "{what}: {text}");
        // Step 4's object is refused for its header, not for its mode (EACCES).
        assert!(text.contains("not \"shmdemo\""), "{what}: {text}");
        let pid = numbers(text.lines().next().unwrap())[0];
        let left = dev_shm_matching(&format!("ipc-tour-shm-{pid}-"));
        assert!(left.is_empty(), "{what}: left {left:?}");
    }
}
