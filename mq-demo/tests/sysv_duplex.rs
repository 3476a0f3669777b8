//! The contract `compare` relies on, for the System V row: `sysv_duplex` endpoints, in one
//! process (dropping an end that was never used closes its liveness socket as a death would),
//! and in two, through the binary's hidden `sysv-pair-check` role (tests never fork).
#![cfg(target_os = "linux")]
#![allow(clippy::unwrap_used)]

use std::io::{ErrorKind, Read, Write};
use std::thread;
use std::time::{Duration, Instant};

use mq_demo::sysv;

mod common;

/// Neither queue of the pair is listed in /proc/sysvipc/msg any more.
fn gone(ids: (i32, i32)) {
    for id in [ids.0, ids.1] {
        assert!(sysv::listed_id(id).unwrap().is_none(), "queue {id} left");
    }
}

#[test]
fn ping_pong_carries_every_byte_both_ways_and_leaves_no_queue() {
    for msg_size in [1, 64, sysv::largest_message().unwrap()] {
        let (mut a, mut b) = mq_demo::sysv_duplex(msg_size).unwrap();
        let ids = a.queue_ids();
        let echo = thread::spawn(move || {
            let mut buf = vec![0; msg_size];
            for _ in 0..100 {
                b.read_exact(&mut buf).unwrap();
                buf.iter_mut().for_each(|x| *x = x.wrapping_add(1));
                b.write_all(&buf).unwrap();
            }
        });
        let mut buf = vec![0; msg_size];
        for i in 0..100u8 {
            buf.iter_mut()
                .enumerate()
                .for_each(|(j, x)| *x = i ^ j as u8);
            a.write_all(&buf).unwrap();
            a.read_exact(&mut buf).unwrap();
            let want = |j: usize| (i ^ j as u8).wrapping_add(1);
            assert!(buf.iter().enumerate().all(|(j, x)| *x == want(j)), "{i}");
        }
        echo.join().unwrap();
        drop(a);
        gone(ids);
    }
}

#[test]
fn queues_are_mode_0600_and_small_reads_take_one_message_in_pieces() {
    let (mut a, mut b) = mq_demo::sysv_duplex(8).unwrap();
    for id in [a.queue_ids().0, a.queue_ids().1] {
        assert_eq!(sysv::listed_id(id).unwrap().unwrap().perms, 0o600);
    }
    a.write_all(b"abcdefgh").unwrap();
    let mut half = [0; 4];
    b.read_exact(&mut half).unwrap();
    assert_eq!(&half, b"abcd");
    b.read_exact(&mut half).unwrap();
    assert_eq!(&half, b"efgh");
}

#[test]
fn a_closed_peer_gives_eof_after_its_last_message() {
    let (mut a, mut b) = mq_demo::sysv_duplex(16).unwrap();
    let ids = a.queue_ids();
    a.write_all(b"start watching!!").unwrap(); // a's watchdog runs from its first call
    b.write_all(b"temperature: 42!").unwrap();
    b.write_all(b"temperature: 43!").unwrap();
    drop(b); // a clean close: the notice is queued behind its messages
    thread::sleep(Duration::from_millis(100)); // the watchdog's notice is queued by now
    let (texts, eof) = within(move || {
        let mut buf = [0; 16];
        let mut texts = Vec::new();
        for _ in 0..2 {
            a.read_exact(&mut buf).unwrap();
            texts.push(String::from_utf8_lossy(&buf).into_owned());
        }
        let eof = [a.read(&mut buf).unwrap(), a.read(&mut buf).unwrap()];
        drop(a);
        (texts, eof)
    });
    assert_eq!(texts, ["temperature: 42!", "temperature: 43!"]);
    assert_eq!(eof, [0, 0], "EOF, and it stays EOF");
    gone(ids);
}

/// Runs `f` on a thread and returns its result, failing the test if it takes over 3 s (the
/// thread, blocked for good, is abandoned: the test process ends anyway).
fn within<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = std::sync::mpsc::channel();
    thread::spawn(move || tx.send(f()));
    rx.recv_timeout(Duration::from_secs(3))
        .expect("still blocked 3 s after the peer died")
}

#[test]
fn a_blocked_read_returns_when_the_peer_dies() {
    let (mut a, b) = mq_demo::sysv_duplex(16).unwrap();
    let killer = thread::spawn(move || {
        thread::sleep(Duration::from_millis(100));
        drop(b);
    });
    let (n, waited) = within(move || {
        let start = Instant::now();
        let n = a.read(&mut [0; 16]).unwrap();
        (n, start.elapsed())
    });
    killer.join().unwrap();
    assert_eq!(n, 0, "EOF");
    // The killer's 100 ms began before the read did: most of it, not all, is certain.
    assert!(
        waited >= Duration::from_millis(50),
        "did not block: {waited:?}"
    );
    assert!(waited < Duration::from_secs(2), "{waited:?}");
}

#[test]
fn a_blocked_write_fails_when_the_peer_dies() {
    let (mut a, b) = mq_demo::sysv_duplex(1024).unwrap();
    let killer = thread::spawn(move || {
        thread::sleep(Duration::from_millis(100));
        drop(b);
    });
    let (err, sent, waited) = within(move || {
        let start = Instant::now();
        let mut sent = 0;
        loop {
            // The queue holds msgmnb bytes; then the write blocks until the peer dies.
            match a.write_all(&[7; 1024]) {
                Ok(()) => sent += 1,
                Err(e) => return (e, sent, start.elapsed()),
            }
        }
    });
    killer.join().unwrap();
    assert_eq!(err.kind(), ErrorKind::BrokenPipe, "{err}");
    assert_eq!(
        sent,
        sysv::msgmnb().unwrap() / 1024,
        "messages the queue took"
    );
    // The killer's 100 ms began before the writes did: most of it, not all, is certain.
    assert!(
        waited >= Duration::from_millis(50),
        "did not block: {waited:?}"
    );
    assert!(waited < Duration::from_secs(2), "{waited:?}");
}

#[test]
fn a_size_above_msgmax_is_refused_with_the_knob() {
    let limit = sysv::largest_message().unwrap();
    let err = mq_demo::sysv_duplex(limit + 1).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidInput);
    assert!(err.to_string().contains("/proc/sys/kernel/msgmax"), "{err}");
    assert!(mq_demo::sysv_duplex(0).is_err());
}

#[test]
fn sysv_row_fits_its_column() {
    assert!(mq_demo::SYSV_ROW.fits());
}

/// `mq-demo sysv-pair-check ARGS`: its stdout once it exits 0 within 10 s.
fn pair_check(args: &[&str]) -> String {
    let mut all = vec!["sysv-pair-check"];
    all.extend_from_slice(args);
    let tag = common::unique_tag();
    let child = common::spawn(&all, &tag);
    let what = format!("sysv-pair-check {args:?}");
    let out = testkit::output_within(child, Duration::from_secs(10), &what);
    let stdout = testkit::text(&out.stdout);
    assert!(
        out.status.success(),
        "{args:?}: {stdout}{}",
        testkit::text(&out.stderr)
    );
    assert!(
        common::processes_with_tag(&tag).is_empty(),
        "{args:?}: a process left"
    );
    stdout
}

/// The lines starting with "got " or "EOF", in order.
fn received(stdout: &str) -> Vec<&str> {
    stdout
        .lines()
        .filter(|l| l.starts_with("got ") || *l == "EOF")
        .collect()
}

fn seven_then_eof() -> Vec<String> {
    let mut want: Vec<String> = (40..47).map(|t| format!("got temperature: {t}")).collect();
    want.push("EOF".into());
    want
}

#[test]
fn the_creator_closing_loses_no_message_it_sent() {
    // The peer process reads while the creator closes (blocked in msgrcv), then 100 ms after.
    for delay in ["0", "100"] {
        let stdout = pair_check(&["creator-closes", "--delay-ms", delay]);
        assert_eq!(
            received(&stdout),
            seven_then_eof(),
            "delay {delay}: {stdout}"
        );
        assert!(
            stdout.contains("queues left: 0\n"),
            "delay {delay}: {stdout}"
        );
    }
}

#[test]
fn a_killed_peer_gives_its_messages_then_eof_and_leaves_no_queue() {
    let start = Instant::now();
    let stdout = pair_check(&["peer-killed"]);
    assert!(
        start.elapsed() < Duration::from_secs(2),
        "{:?}",
        start.elapsed()
    );
    assert_eq!(received(&stdout), seven_then_eof(), "{stdout}");
    assert!(stdout.contains("killed by SIGKILL"), "{stdout}");
    assert!(stdout.contains("queues left: 0\n"), "{stdout}");
}

#[test]
fn closing_both_ends_raises_no_sigpipe() {
    // A program that has not ignored SIGPIPE, as a C host or `-Zon-broken-pipe=kill` would:
    // the second end to close tells a peer whose watchdog has gone.
    // SAFETY: installs SIG_DFL, which runs no code in this process.
    unsafe { libc::signal(libc::SIGPIPE, libc::SIG_DFL) };
    let (mut a, mut b) = mq_demo::sysv_duplex(8).unwrap();
    let ids = a.queue_ids();
    a.write_all(b"ping....").unwrap();
    b.read_exact(&mut [0; 8]).unwrap();
    b.write_all(b"pong....").unwrap();
    a.read_exact(&mut [0; 8]).unwrap();
    drop(a);
    drop(b); // with a pipe for liveness, this write killed the process
    gone(ids);
}
