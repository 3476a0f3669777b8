//! iceoryx2 row's unit tests (no fork: both ends in this process).

use super::*;
use plumbing::names;
use std::sync::Mutex;

/// The tests take turns: the leak check must not see another test's pair.
static TURN: Mutex<()> = Mutex::new(());

/// This process's pairs' names left in /dev/shm and the temporary directory.
fn leftovers() -> Vec<String> {
    let pid = std::process::id();
    let (shm, dir) = (format!("{SHM_PREFIX}{pid}-"), format!("{PREFIX}{pid}-"));
    let mut left: Vec<String> = std::fs::read_dir("/dev/shm")
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(&shm))
        .collect();
    let dirs = std::fs::read_dir(names::temp_dir())
        .into_iter()
        .flatten()
        .flatten();
    left.extend(
        dirs.map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| n.starts_with(&dir)),
    );
    left
}

#[test]
fn one_message_in_process_and_nothing_left() {
    let _turn = TURN.lock();
    for waiting in [Waiting::Spin, Waiting::Event] {
        one_message(waiting).expect("setup");
        assert_eq!(leftovers(), Vec::<String>::new(), "{waiting:?}");
    }
}

#[test]
fn a_size_beyond_dev_shm_is_refused_with_the_reason() {
    let _turn = TURN.lock();
    let e = pair(usize::MAX / 4, Waiting::Spin)
        .err()
        .expect("must be refused");
    assert_eq!(e.kind(), io::ErrorKind::InvalidInput);
    assert!(e.to_string().contains("/dev/shm"), "{e}");
    assert!(DESIGN_ROW.fits());
}

#[test]
fn an_end_not_opened_says_so() {
    let _turn = TURN.lock();
    let (mut a, _b) = pair(64, Waiting::Event).expect("pair");
    let e = a.send_message(&mut [0u8; 64], 0).expect_err("not open");
    assert_eq!(e.kind(), io::ErrorKind::NotConnected);
}

#[test]
fn a_receiver_gives_up_when_its_peer_is_gone() {
    let _turn = TURN.lock();
    for waiting in [Waiting::Spin, Waiting::Event] {
        let (mut a, mut b) = pair(64, waiting).expect("pair");
        a.make_ports().expect("ports");
        b.make_ports().expect("ports");
        // b's process "dies": all it holds closes, its liveness pipe's write end among them
        // (its publisher's backpressure handler holds that too), and a's watch sees POLLHUP.
        drop(b);
        let e = a.receive_message(&mut [0u8; 64]).expect_err("peer gone");
        assert_eq!(e.kind(), io::ErrorKind::UnexpectedEof, "{waiting:?}");
    }
}

/// The event row: three messages sent before the receiver looks (their notifications coalesce
/// into one) all arrive, in order; the notification left pending then wakes a wait that finds
/// no sample, and once the sender is gone the receiver says so instead of a stale message.
#[test]
fn an_event_receiver_loses_nothing_to_coalesced_or_stale_notifications() {
    let _turn = TURN.lock();
    let (mut a, mut b) = pair(64, Waiting::Event).expect("pair");
    for end in [&mut a, &mut b] {
        end.make_ports().expect("ports");
    }
    a.wait_for_peer().expect("a sees b");
    b.wait_for_peer().expect("b sees a");
    let mut buf = [0u8; 64];
    for seq in 1..=3 {
        b.send_with(|msg| pattern::fill(msg, seq)).expect("send");
    }
    for seq in 1..=3 {
        a.receive_message(&mut buf).expect("receive");
        pattern::check(a.received(&buf), seq).expect("in order, unchanged");
    }
    drop(b); // the child's end: the parent's holds the root directory
    let e = a.receive_message(&mut buf).expect_err("nothing more");
    assert_eq!(e.kind(), io::ErrorKind::UnexpectedEof);
}
