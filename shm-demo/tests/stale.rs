//! Restart after SIGKILL: a tour killed outright cannot clean up, so the next tour removes what
//! it left in /dev/shm, and nothing that belongs to a running process. (Its own test binary: a
//! tour running in parallel would remove the stale object first.)
#![allow(clippy::unwrap_used)]

mod common;

use std::io::{BufRead, BufReader};
use std::os::unix::fs::OpenOptionsExt;

use common::{dev_shm_matching, spawn_in_own_group, stderr, stdout};

const SMALL: [&str; 4] = ["--increments", "1000", "--messages", "10"];

#[test]
fn a_tour_after_a_sigkilled_tour_succeeds_and_removes_its_leftovers() {
    // 1. A tour, SIGKILLed right after it created its object: its Drop never runs.
    let mut killed = spawn_in_own_group(&SMALL);
    let killed_pid = killed.id();
    let mut lines = BufReader::new(killed.stdout.take().unwrap()).lines();
    let step1 = lines
        .find(|l| l.as_ref().unwrap().starts_with("3. "))
        .unwrap()
        .unwrap();
    // SIGKILL, but do not reap it yet: a dead tour whose parent died with it (`timeout -s KILL`
    // kills its whole group) stays a zombie until init reaps it. Zombie or gone, it is stale.
    killed.kill().unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while common::alive(killed_pid as i32) && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    let leftover = dev_shm_matching(&format!("ipc-tour-shm-{killed_pid}-"));
    assert_eq!(
        leftover.len(),
        1,
        "after `{step1}` the object should still be there"
    );

    // An object named like a tour's, of a process that is alive (this test): not stale.
    let live = format!("ipc-tour-shm-{}-11fe00", std::process::id());
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(format!("/dev/shm/{live}"))
        .unwrap();

    // 2. The next tour.
    let next = spawn_in_own_group(&SMALL);
    let out = next.wait_with_output().unwrap();
    killed.wait().unwrap();
    let live_still_there = std::fs::remove_file(format!("/dev/shm/{live}")).is_ok();
    for name in &leftover {
        let _ = std::fs::remove_file(format!("/dev/shm/{name}"));
    }
    assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));
    assert!(
        stdout(&out).contains(&format!("removed /dev/shm/{}", leftover[0])),
        "{}",
        stdout(&out)
    );
    assert!(
        live_still_there,
        "the tour removed an object of a running process"
    );
}
