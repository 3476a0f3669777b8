//! The echo server against hostile clients, spawned as a user would start it; the clients are
//! plain std UnixStreams in this test. Each bad client must get an error or a timeout for
//! itself while a well-behaved client keeps being served.
#![allow(clippy::unwrap_used)]

mod common;

use std::io::{Read, Write};
use std::net::Shutdown;
use std::os::unix::net::UnixStream;
use std::time::Duration;

use common::{TestDir, connect, server};
use uds_demo::{FrameKind, echo_once, read_frame};

const WAIT: Duration = Duration::from_secs(5);

/// What the server said before hanging up on `s` (its error frame), or how it ended.
fn reply(s: &mut UnixStream) -> String {
    match read_frame(s, Some(WAIT), Some(WAIT)) {
        Ok(Some(f)) => {
            assert_eq!(
                f.kind,
                FrameKind::Error,
                "a hostile client got a non-error frame"
            );
            String::from_utf8_lossy(&f.payload).into_owned()
        }
        Ok(None) => "closed".into(),
        Err(e) => format!("error: {e}"),
    }
}

/// After the error frame the server closes: the next read is EOF (or a reset), never data.
fn assert_closed(s: &mut UnixStream) {
    let mut b = [0u8; 1];
    match s.read(&mut b) {
        Ok(0) | Err(_) => {}
        Ok(_) => panic!("server kept talking after an error frame"),
    }
}

fn echo(s: &mut UnixStream, msg: &str) -> String {
    String::from_utf8(echo_once(s, msg.as_bytes(), WAIT).expect("echo")).unwrap()
}

#[test]
fn each_hostile_client_fails_alone_and_others_are_served() {
    let dir = TestDir::new("hostile");
    let path = dir.join("echo.sock");
    let p = path.to_str().unwrap();
    let (mut srv, _) = server(&[
        "serve",
        "--unix",
        p,
        "--timeout-ms",
        "300",
        "--idle-ms",
        "5000",
    ]);
    let mut good = connect(&path);
    assert_eq!(echo(&mut good, "temperature: 42"), "temperature: 42");

    // Slowloris: a frame header promising 16 bytes, then silence.
    let mut stalled = connect(&path);
    stalled.write_all(b"M\0\0\0\x10temp").unwrap();
    // While it stalls, the good client is served at once (a thread per client).
    assert_eq!(echo(&mut good, "humidity: 61%"), "humidity: 61%");
    let said = reply(&mut stalled);
    assert!(said.contains("stalled"), "stalled client got: {said}");
    assert_closed(&mut stalled);

    // Trickle: one byte every 20 ms; each read is on time, the frame as a whole is not.
    let mut trickle = connect(&path);
    let mut writer = trickle.try_clone().unwrap();
    let feeder = std::thread::spawn(move || {
        for b in [b"M\0\0\0\x40".as_slice(), &[b'x'; 64]].concat() {
            if writer.write_all(&[b]).is_err() {
                break; // the server hung up: expected
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    });
    let said = reply(&mut trickle);
    assert!(said.contains("stalled"), "trickling client got: {said}");
    feeder.join().unwrap();

    // Oversized length: refused before any allocation.
    let mut huge = connect(&path);
    huge.write_all(&[b"M".as_slice(), &u32::MAX.to_be_bytes()].concat())
        .unwrap();
    let said = reply(&mut huge);
    assert!(
        said.contains("exceeds the limit"),
        "oversized client got: {said}"
    );
    assert_closed(&mut huge);

    // Garbage: not our protocol at all.
    let mut garbage = connect(&path);
    garbage.write_all(b"GET / HTTP/1.0\r\n\r\n").unwrap();
    let said = reply(&mut garbage);
    assert!(said.contains("not a frame"), "garbage client got: {said}");

    // Truncated: half a frame, then the client closes its sending side.
    let mut truncated = connect(&path);
    truncated.write_all(b"M\0\0\0\x0ftemp").unwrap();
    truncated.shutdown(Shutdown::Write).unwrap();
    let said = reply(&mut truncated);
    assert!(said.contains("truncated"), "truncated client got: {said}");

    // Abrupt disconnect in the middle of a frame.
    let mut abrupt = connect(&path);
    abrupt.write_all(b"M\0\0").unwrap();
    drop(abrupt);

    // The good client, connected all along, is still served; so is a new one.
    assert_eq!(echo(&mut good, "pressure: 1013 hPa"), "pressure: 1013 hPa");
    assert_eq!(
        echo(&mut connect(&path), "temperature: 43"),
        "temperature: 43"
    );
    assert!(srv.running(), "the server died");

    // The server logged one drop per hostile client (the abrupt one: truncated).
    let mut drops = 0;
    while drops < 6 && srv.wait_line("conn ", WAIT).is_some() {
        drops = srv
            .seen()
            .iter()
            .filter(|l| l.contains(": dropped: "))
            .count();
    }
    assert_eq!(drops, 6, "server log: {:#?}", srv.seen());
}

#[test]
fn an_idle_client_is_dropped_and_too_many_clients_are_refused() {
    let dir = TestDir::new("idle");
    let path = dir.join("echo.sock");
    let p = path.to_str().unwrap();
    let (_srv, _) = server(&[
        "serve",
        "--unix",
        p,
        "--idle-ms",
        "1000", // long enough that `idle` is still connected when `second` arrives, even under load
        "--max-clients",
        "1",
    ]);
    let mut idle = connect(&path);
    // The one allowed client is connected and silent: the next one is refused as busy.
    let mut second = connect(&path);
    let said = reply(&mut second);
    assert!(said.contains("busy"), "second client got: {said}");
    let said = reply(&mut idle);
    assert!(said.contains("idle"), "idle client got: {said}");
}
