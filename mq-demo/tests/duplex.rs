//! The library contract `compare` relies on: `duplex` endpoints, in one process (tests never
//! fork; the demo binary's own tests cover separate processes).
#![cfg(target_os = "linux")]
#![allow(clippy::unwrap_used)]

mod common;

use std::io::{ErrorKind, Read, Write};
use std::sync::Mutex;
use std::thread;
use std::time::{Duration, Instant};

/// The listing check below must not see another test's queues mid-creation.
static SERIAL: Mutex<()> = Mutex::new(());

fn no_named_queue_left() {
    let ours = common::listed_queues(&format!("ipc-tour-mq-{}-", std::process::id()));
    assert_eq!(ours, Vec::<String>::new());
}

#[test]
fn ping_pong_carries_every_byte_both_ways() {
    let _serial = SERIAL.lock().unwrap();
    for msg_size in [1, 64, mq_demo::msgsize_max().unwrap()] {
        let (mut a, mut b) = mq_demo::duplex(msg_size).unwrap();
        no_named_queue_left();
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
            assert!(
                buf.iter()
                    .enumerate()
                    .all(|(j, x)| *x == (i ^ j as u8).wrapping_add(1))
            );
        }
        echo.join().unwrap();
    }
}

#[test]
fn small_reads_take_one_message_in_pieces() {
    let _serial = SERIAL.lock().unwrap();
    let (mut a, mut b) = mq_demo::duplex(8).unwrap();
    a.write_all(b"abcdefgh").unwrap();
    let mut half = [0; 4];
    b.read_exact(&mut half).unwrap();
    assert_eq!(&half, b"abcd");
    b.read_exact(&mut half).unwrap();
    assert_eq!(&half, b"efgh");
}

#[test]
fn a_dead_peer_gives_eof_after_its_last_message() {
    let _serial = SERIAL.lock().unwrap();
    let (mut a, mut b) = mq_demo::duplex(16).unwrap();
    b.write_all(b"temperature: 42!").unwrap();
    drop(b); // as the peer's process dying would: its liveness pipe's write end closes
    let mut buf = [0; 16];
    a.read_exact(&mut buf).unwrap();
    assert_eq!(&buf, b"temperature: 42!");
    assert_eq!(a.read(&mut buf).unwrap(), 0);
}

#[test]
fn a_blocked_read_returns_when_the_peer_dies() {
    let _serial = SERIAL.lock().unwrap();
    let (mut a, b) = mq_demo::duplex(16).unwrap();
    let killer = thread::spawn(move || {
        thread::sleep(Duration::from_millis(100));
        drop(b);
    });
    let start = Instant::now();
    let mut buf = [0; 16];
    assert_eq!(a.read(&mut buf).unwrap(), 0);
    let waited = start.elapsed();
    killer.join().unwrap();
    assert!(waited < Duration::from_secs(2), "{waited:?}");
}

#[test]
fn a_blocked_write_fails_when_the_peer_dies() {
    let _serial = SERIAL.lock().unwrap();
    let (mut a, b) = mq_demo::duplex(16).unwrap();
    let killer = thread::spawn(move || {
        thread::sleep(Duration::from_millis(100));
        drop(b);
    });
    let start = Instant::now();
    let err = loop {
        // The queue holds up to msg_max messages; then the write blocks until the peer dies.
        if let Err(e) = a.write_all(&[7; 16]) {
            break e;
        }
    };
    killer.join().unwrap();
    assert_eq!(err.kind(), ErrorKind::BrokenPipe, "{err}");
    assert!(start.elapsed() < Duration::from_secs(2));
}

#[test]
fn a_size_above_msgsize_max_is_refused_with_the_knob() {
    let _serial = SERIAL.lock().unwrap();
    let limit = mq_demo::msgsize_max().unwrap();
    let err = mq_demo::duplex(limit + 1).unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains(&format!("msgsize_max ({limit})"))
            && text.contains("sysctl fs.mqueue.msgsize_max="),
        "{text}"
    );
    assert!(mq_demo::duplex(0).is_err());
    no_named_queue_left();
}

#[test]
fn design_row_fits_its_column() {
    assert!(mq_demo::DESIGN_ROW.fits());
}
