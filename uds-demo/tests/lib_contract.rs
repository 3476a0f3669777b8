//! The library contract `compare` relies on: every duplex carries `msg_size` messages both ways
//! intact, a size the mechanism cannot carry is an Err naming the limit, and a reader learns of
//! its peer's end within 2 s (here the peer end is closed in another thread: the kernel sees the
//! same last close as when a process dies).
#![allow(clippy::unwrap_used)]

use std::io::{ErrorKind, Read, Write};
use std::thread;
use std::time::{Duration, Instant};

use uds_demo::{DATAGRAM_ROW, STREAM_ROW, TCP_ROW, datagram_duplex, stream_duplex, tcp_duplex};

fn round_trip<A: Read + Write, B: Read + Write>(a: &mut A, b: &mut B, msg_size: usize) {
    for round in 0..3u8 {
        let out: Vec<u8> = (0..msg_size)
            .map(|i| (i as u8).wrapping_mul(31).wrapping_add(round))
            .collect();
        let mut got = vec![0u8; msg_size];
        a.write_all(&out).unwrap();
        b.read_exact(&mut got).unwrap();
        assert_eq!(got, out, "{msg_size}-byte message corrupted a->b");
        b.write_all(&out).unwrap();
        a.read_exact(&mut got).unwrap();
        assert_eq!(got, out, "{msg_size}-byte message corrupted b->a");
    }
}

#[test]
fn every_duplex_carries_messages_both_ways() {
    for size in [1, 15, 4096, 65536] {
        let (mut a, mut b) = stream_duplex(size).unwrap();
        round_trip(&mut a, &mut b, size);
        let (mut a, mut b) = datagram_duplex(size).unwrap();
        round_trip(&mut a, &mut b, size);
        let (mut a, mut b) = tcp_duplex(size).unwrap();
        round_trip(&mut a, &mut b, size);
    }
}

#[test]
fn a_datagram_too_big_is_an_error_naming_the_limit() {
    let wmem_max: usize = std::fs::read_to_string("/proc/sys/net/core/wmem_max")
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    let size = wmem_max * 4 + 1; // beyond what SO_SNDBUF can be raised to
    let err = datagram_duplex(size).unwrap_err();
    let text = err.to_string();
    println!("{text}");
    assert!(
        text.contains("SO_SNDBUF") && text.contains("wmem_max") && text.contains(&size.to_string()),
        "{text}"
    );
}

/// Blocks a reader on `b`, closes `a`, and returns how the read ended (None: still blocked 2 s
/// later) and how long it took.
fn read_after_peer_closes<A, B>(a: A, mut b: B) -> (Option<std::io::Result<usize>>, Duration)
where
    A: Send + 'static,
    B: Read + Send + 'static,
{
    let (tx, rx) = std::sync::mpsc::channel();
    thread::spawn(move || {
        let mut buf = [0u8; 16];
        let _ = tx.send(b.read(&mut buf));
    });
    thread::sleep(Duration::from_millis(50)); // let it block first
    let closed = Instant::now();
    drop(a);
    let result = rx.recv_timeout(Duration::from_secs(2)).ok();
    (result, closed.elapsed())
}

#[test]
fn a_blocked_reader_sees_its_peer_close() {
    let (a, b) = stream_duplex(16).unwrap();
    let (r, took) = read_after_peer_closes(a, b);
    assert!(
        matches!(r, Some(Ok(0) | Err(_))) && took < Duration::from_secs(2),
        "stream: {r:?} after {took:?}"
    );
    let (a, b) = tcp_duplex(16).unwrap();
    let (r, took) = read_after_peer_closes(a, b);
    assert!(
        matches!(r, Some(Ok(0) | Err(_))) && took < Duration::from_secs(2),
        "tcp: {r:?} after {took:?}"
    );
    // A bare UnixDatagram pair would block here forever; DatagramEnd returns EOF.
    let (a, b) = datagram_duplex(16).unwrap();
    let (r, took) = read_after_peer_closes(a, b);
    assert!(
        matches!(r, Some(Ok(0))) && took < Duration::from_secs(2),
        "datagram: {r:?} after {took:?}"
    );
}

#[test]
fn writing_to_a_closed_datagram_peer_is_broken_pipe() {
    let (a, mut b) = datagram_duplex(16).unwrap();
    drop(a);
    let err = b.write(b"temperature: 42").unwrap_err();
    assert_eq!(err.kind(), ErrorKind::BrokenPipe);
}

#[test]
fn datagram_reads_keep_boundaries_and_refuse_truncation() {
    let (mut a, mut b) = datagram_duplex(64).unwrap();
    a.write_all(b"temperature: 42").unwrap();
    a.write_all(b"humidity: 61%").unwrap();
    let mut buf = [0u8; 64];
    assert_eq!(b.read(&mut buf).unwrap(), 15);
    assert_eq!(b.read(&mut buf).unwrap(), 13);
    a.write_all(b"pressure: 1013 hPa").unwrap();
    let err = b.read(&mut buf[..4]).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidData, "{err}");
}

#[test]
fn design_rows_fit_their_column() {
    for row in [STREAM_ROW, DATAGRAM_ROW, TCP_ROW] {
        assert!(row.fits(), "{row:?}");
    }
}
