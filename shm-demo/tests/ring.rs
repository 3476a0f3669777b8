//! The shared-memory rings: verified messages in both modes, and a dead peer noticed in time.
#![allow(clippy::unwrap_used)]

mod common;

use std::io::{BufReader, ErrorKind, Read, Write};
use std::time::{Duration, Instant};

use common::{
    alive, ensure_dead, numbers, read_child_pid, run, spawn_in_own_group, stderr, stdout,
};

#[test]
fn ring_carries_verified_messages_in_both_modes() {
    // 100000-byte messages in a 128 KiB ring: every other message wraps around the end.
    for (messages, size) in [(3000, 64), (60, 100_000)] {
        let out = run(&[
            "ring",
            "--messages",
            &messages.to_string(),
            "--size",
            &size.to_string(),
        ]);
        let text = stdout(&out);
        assert!(out.status.success(), "{}{text}", stderr(&out));
        for mode in ["spinning", "futex"] {
            assert!(
                text.contains(&format!("shared memory, {mode}: child pid")),
                "{text}"
            );
        }
        let verified: Vec<u64> = text
            .lines()
            .filter(|l| l.contains("verified both ways"))
            .map(|l| numbers(l)[0])
            .collect();
        assert_eq!(verified, [messages, messages], "{text}");
    }
}

/// Kill the echo child while the parent is mid-run; the parent must exit by itself within 2 s.
fn survivor_exits_when_child_is_killed(mode: &str) {
    let mut tour = spawn_in_own_group(&["ring", "--mode", mode, "--messages", "1000000000"]);
    let mut out = BufReader::new(tour.stdout.take().unwrap());
    let (child, _) = read_child_pid(&mut out);
    std::thread::sleep(Duration::from_millis(50)); // let it get busy
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
    let killed = Instant::now();
    let status = testkit::wait_within(&mut tour, Duration::from_secs(2));
    let took = killed.elapsed();
    ensure_dead(&mut tour);
    let status =
        status.unwrap_or_else(|| panic!("{mode}: survivor still running 2 s after the kill"));
    let mut err = String::new();
    tour.stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    println!("{mode}: survivor exited {took:?} after the kill: {err}");
    assert_eq!(status.code(), Some(1), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.starts_with("shm-demo: ") && err.contains("gone"),
        "{err}"
    );
}

#[test]
fn spinning_survivor_exits_within_2s() {
    survivor_exits_when_child_is_killed("spin");
}

#[test]
fn futex_survivor_exits_within_2s() {
    survivor_exits_when_child_is_killed("futex");
}

/// Kill the parent; its child must not stay behind spinning.
fn child_dies_with_parent(mode: &str) {
    let mut tour = spawn_in_own_group(&["ring", "--mode", mode, "--messages", "1000000000"]);
    let mut out = BufReader::new(tour.stdout.take().unwrap());
    let (child, _) = read_child_pid(&mut out);
    tour.kill().unwrap();
    tour.wait().unwrap();
    let deadline = Instant::now() + Duration::from_secs(2);
    while alive(child) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(5));
    }
    assert!(
        !alive(child),
        "{mode}: child {child} still running 2 s after its parent died"
    );
}

#[test]
fn spinning_child_dies_with_parent() {
    child_dies_with_parent("spin");
}

#[test]
fn futex_child_dies_with_parent() {
    child_dies_with_parent("futex");
}

/// Ctrl-C in mid-run: the `ring` subcommand owns no named object, so it says only what stopped
/// it, exits 128 + SIGINT, and leaves no process behind.
fn ctrl_c_stops_the_ring(mode: &str) {
    let mut ring = spawn_in_own_group(&["ring", "--mode", mode, "--messages", "1000000000"]);
    let pgid = nix::unistd::Pid::from_raw(ring.id() as i32);
    let mut out = BufReader::new(ring.stdout.take().unwrap());
    read_child_pid(&mut out);
    std::thread::sleep(Duration::from_millis(50)); // let it get busy
    nix::sys::signal::killpg(pgid, nix::sys::signal::Signal::SIGINT).unwrap();
    let status = testkit::wait_within(&mut ring, Duration::from_secs(3));
    ensure_dead(&mut ring);
    let status = status.unwrap_or_else(|| panic!("{mode}: still running 3 s after Ctrl-C"));
    let mut err = String::new();
    ring.stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    assert_eq!(status.code(), Some(130), "{mode}: {status}: {err}");
    assert_eq!(err, "shm-demo: stopped by SIGINT\n", "{mode}");
    let left = common::processes_in_group(pgid.as_raw());
    assert!(left.is_empty(), "{mode}: left processes {left:?}");
}

#[test]
fn ctrl_c_stops_a_spinning_ring_cleanly() {
    ctrl_c_stops_the_ring("spin");
}

#[test]
fn ctrl_c_stops_a_futex_ring_cleanly() {
    ctrl_c_stops_the_ring("futex");
}

// The library on its own, across threads of this process (the tests never fork).

/// Runs `test` on a thread and fails if it takes more than 20 s (a hang must fail, not block).
fn within_20s(test: impl FnOnce() + Send + 'static) {
    let (done, finished) = std::sync::mpsc::channel();
    let worker = std::thread::spawn(move || {
        test();
        let _ = done.send(());
    });
    match finished.recv_timeout(Duration::from_secs(20)) {
        Ok(()) => worker.join().unwrap(),
        Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => {
            std::panic::resume_unwind(worker.join().unwrap_err())
        }
        Err(_) => panic!("hung for 20 s"),
    }
}

fn echo_through(pair: (shm_demo::End, shm_demo::End), size: usize, messages: u32) {
    let (mut ours, mut theirs) = pair;
    let echo = std::thread::spawn(move || {
        let mut buf = vec![0; size];
        while theirs.read_exact(&mut buf).is_ok() {
            theirs.write_all(&buf).unwrap();
        }
    });
    let mut back = vec![0; size];
    for seq in 0..messages {
        let msg: Vec<u8> = (0..size).map(|i| (seq as usize * 7 + i) as u8).collect();
        ours.write_all(&msg).unwrap();
        ours.read_exact(&mut back).unwrap();
        assert_eq!(back, msg, "message {seq}");
    }
    drop(ours); // the echo thread now sees end of file
    echo.join().unwrap();
}

#[test]
fn library_pairs_echo_across_threads() {
    within_20s(|| {
        for size in [1, 4096, 70_000] {
            echo_through(shm_demo::spin_duplex(size).unwrap(), size, 50);
            echo_through(shm_demo::blocking_duplex(size).unwrap(), size, 50);
        }
    });
}

#[test]
fn dropped_peer_gives_eof_and_broken_pipe_after_draining() {
    within_20s(dropped_peer);
}

fn dropped_peer() {
    for pair in [
        shm_demo::spin_duplex(8).unwrap(),
        shm_demo::blocking_duplex(8).unwrap(),
    ] {
        let (mut a, mut b) = pair;
        b.write_all(b"last msg").unwrap();
        drop(b);
        let mut buf = [0; 8];
        a.read_exact(&mut buf).unwrap(); // what the peer wrote before it went is still there
        assert_eq!(&buf, b"last msg");
        assert_eq!(a.read(&mut buf).unwrap(), 0);
        // Fill the ring: a write that must wait finds the peer gone.
        let big = vec![0; 1 << 20];
        assert_eq!(a.write_all(&big).unwrap_err().kind(), ErrorKind::BrokenPipe);
    }
}

#[test]
fn an_end_can_move_to_another_thread() {
    fn assert_send<T: Send>() {}
    assert_send::<shm_demo::End>();
}

#[test]
fn sizes_the_ring_cannot_carry_are_errors_naming_the_limit() {
    for size in [0, shm_demo::MAX_MSG_SIZE + 1] {
        for result in [shm_demo::spin_duplex(size), shm_demo::blocking_duplex(size)] {
            let err = result.err().expect("size must be refused");
            assert_eq!(err.kind(), ErrorKind::InvalidInput);
            assert!(err.to_string().contains("MAX_MSG_SIZE"), "{err}");
        }
    }
}

#[test]
fn a_stream_larger_than_the_ring_arrives_intact() {
    within_20s(stream);
}

fn stream() {
    // The writer fills the 64 KiB ring and must wait for space: the other half of the protocol.
    const TOTAL: usize = 1 << 20;
    for (mut tx, mut rx) in [
        shm_demo::spin_duplex(1000).unwrap(),
        shm_demo::blocking_duplex(1000).unwrap(),
    ] {
        let writer = std::thread::spawn(move || {
            let data: Vec<u8> = (0..TOTAL).map(|i| (i % 251) as u8).collect();
            for chunk in data.chunks(1000) {
                tx.write_all(chunk).unwrap();
            }
        });
        let mut got = Vec::new();
        rx.read_to_end(&mut got).unwrap(); // ends when the writer's end is dropped
        writer.join().unwrap();
        assert_eq!(got.len(), TOTAL);
        assert!(got.iter().enumerate().all(|(i, &b)| b == (i % 251) as u8));
    }
}

#[test]
fn a_corrupted_echo_fails_the_ring_step_in_one_line() {
    // The hidden --corrupt-after makes the echo side flip a byte from message 10 on: the
    // payload check must catch it, not report the run as verified.
    for (mode, step) in [("spin", "\n9. "), ("futex", "\n10. ")] {
        let out = run(&[
            "ring",
            "--mode",
            mode,
            "--messages",
            "100",
            "--corrupt-after",
            "10",
        ]);
        let (text, err) = (stdout(&out), stderr(&out));
        assert_eq!(out.status.code(), Some(1), "{mode}: {text}{err}");
        assert_eq!(err.lines().count(), 1, "{mode}: {err}");
        assert!(
            err.contains("the echo came back corrupted: message 10 is wrong at byte 0"),
            "{mode}: {err}"
        );
        assert!(!text.contains("verified"), "{mode}: {text}");
        // The step keeps its tour number when it runs alone; its heading comes first.
        assert!(text.starts_with(step), "{mode}: {text}");
    }
    let help = stdout(&run(&["ring", "--help"]));
    assert!(
        !help.contains("corrupt"),
        "a test hook shown in --help: {help}"
    );
}
