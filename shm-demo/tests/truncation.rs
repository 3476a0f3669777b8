//! Another process shrinks the object under `read` and `write`: the demo never dies of it
//! (SIGBUS, exit 135); it succeeds, refuses the object, or says it was truncated while mapped.
//! And an object of another user is refused with its owner named.
#![allow(clippy::unwrap_used)]

mod common;

use std::fs::OpenOptions;
use std::os::unix::fs::FileExt;
use std::os::unix::process::ExitStatusExt;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use common::{run, stderr, stdout, unique_name};
use rand::RngExt;

/// Removes /dev/shm/<name> when the test ends, whatever happened.
struct Cleanup(String);

impl Drop for Cleanup {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(format!("/dev/shm{}", self.0));
    }
}

#[test]
fn a_hostile_truncator_never_kills_read_or_write() {
    let name = unique_name("trunc");
    let _cleanup = Cleanup(name.clone());
    assert!(run(&["write", &name, "--temp", "3"]).status.success());
    let path = format!("/dev/shm{name}");
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .open(&path)
        .unwrap();
    let valid = std::fs::read(&path).unwrap();

    // The hostile process (this test, the same user): shrink the object to nothing, then give
    // it back its size and a valid header, again and again, at random moments.
    let stop = Arc::new(AtomicBool::new(false));
    let truncator = {
        let stop = Arc::clone(&stop);
        std::thread::spawn(move || {
            let mut rng = rand::rng();
            while !stop.load(Ordering::Relaxed) {
                file.set_len(0).unwrap();
                spin(Duration::from_micros(rng.random_range(0..200)));
                file.set_len(valid.len() as u64).unwrap();
                file.write_all_at(&valid, 0).unwrap();
                spin(Duration::from_micros(rng.random_range(0..200)));
            }
        })
    };

    let deadline = Instant::now() + Duration::from_secs(6);
    let (mut runs, mut ok, mut caught) = (0, 0, 0);
    let mut failure = None;
    while Instant::now() < deadline && runs < 600 && failure.is_none() {
        let role = if runs % 2 == 0 { "read" } else { "write" };
        let out = run(&[role, &name]);
        runs += 1;
        let err = stderr(&out);
        match (out.status.code(), out.status.signal()) {
            (Some(0), _) => ok += 1,
            (Some(1), _) if err.lines().count() == 1 && !err.contains("panicked") => {
                if err.contains("was truncated by another process while mapped") {
                    caught += 1;
                }
            }
            _ => failure = Some(format!("{role}: {} {}{err}", out.status, stdout(&out))),
        }
    }
    stop.store(true, Ordering::Relaxed);
    truncator.join().unwrap();
    println!("{runs} runs: {ok} succeeded, {caught} caught a truncation while mapped");
    if let Some(failure) = failure {
        panic!("after {runs} runs: {failure}");
    }
    assert!(ok > 0, "no run succeeded: the truncator left no window");
}

fn spin(d: Duration) {
    let until = Instant::now() + d;
    while Instant::now() < until {
        std::hint::spin_loop();
    }
}

#[test]
fn another_users_object_is_refused_with_its_owner_named() {
    // Root can open any object; the demo must still not touch another user's. Needs root to
    // make an object as `nobody`.
    if !nix::unistd::geteuid().is_root() {
        eprintln!("skipped: not root, cannot make an object owned by another user");
        return;
    }
    let name = unique_name("foreign-uid");
    let _cleanup = Cleanup(name.clone());
    let made = common::run_as_nobody(&["write", &name, "--temp", "9"]);
    assert!(made.status.success(), "{}", stderr(&made));
    let before = std::fs::read(format!("/dev/shm{name}")).unwrap();
    for role in ["read", "write", "unlink"] {
        let out = run(&[role, &name]);
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(1), "{role}: {}{err}", stdout(&out));
        assert_eq!(err.lines().count(), 1, "{role}: {err}");
        assert!(err.contains("owned by uid 65534 (nobody)"), "{role}: {err}");
        assert!(stdout(&out).is_empty(), "{role}: {}", stdout(&out));
    }
    let after = std::fs::read(format!("/dev/shm{name}")).unwrap();
    assert_eq!(before, after, "the other user's object was changed");
}

#[test]
fn a_truncation_during_an_access_is_an_error_not_a_crash() {
    // In this process: the library's guard, deterministically. The object shrinks inside the
    // access, after the size check, so only the SIGBUS guard can save the load that follows.
    let name = unique_name("guard");
    let _cleanup = Cleanup(name.clone());
    let object = shm_demo::SensorObject::create(&name).unwrap();
    assert_eq!(
        object.access(|r| r.temp.load(Ordering::Relaxed)).unwrap(),
        0
    );
    let file = OpenOptions::new()
        .write(true)
        .open(format!("/dev/shm{name}"))
        .unwrap();
    let err = object
        .access(|r| {
            file.set_len(0).unwrap();
            r.temp.store(5, Ordering::Relaxed);
            r.temp.load(Ordering::Relaxed)
        })
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("was truncated by another process while mapped (now 0 bytes)"),
        "{err}"
    );
}
