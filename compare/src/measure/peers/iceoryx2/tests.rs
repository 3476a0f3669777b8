//! iceoryx2 row's unit tests (no fork: both ends in this process).

use super::*;
use plumbing::names;
use std::sync::Mutex;

/// The tests take turns: the leak check must not see another test's pair.
static TURN: Mutex<()> = Mutex::new(());

fn leftovers(tag_prefix: &str) -> Vec<String> {
    let mut left: Vec<String> = std::fs::read_dir("/dev/shm")
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(tag_prefix))
        .collect();
    let dirs = std::fs::read_dir(names::temp_dir())
        .into_iter()
        .flatten()
        .flatten();
    left.extend(
        dirs.map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| n.starts_with(tag_prefix)),
    );
    left
}

#[test]
fn one_message_in_process_and_nothing_left() {
    let _turn = TURN.lock();
    let ours = format!("{PREFIX}{}-", std::process::id());
    one_message().expect("setup");
    assert_eq!(leftovers(&ours), Vec::<String>::new());
}

#[test]
fn a_size_beyond_dev_shm_is_refused_with_the_reason() {
    let _turn = TURN.lock();
    let e = pair(usize::MAX / 4).err().expect("must be refused");
    assert_eq!(e.kind(), io::ErrorKind::InvalidInput);
    assert!(e.to_string().contains("/dev/shm"), "{e}");
    assert!(DESIGN_ROW.fits());
}

#[test]
fn an_end_not_opened_says_so() {
    let _turn = TURN.lock();
    let (mut a, _b) = pair(64).expect("pair");
    let e = a.send_message(&mut [0u8; 64], 0).expect_err("not open");
    assert_eq!(e.kind(), io::ErrorKind::NotConnected);
}

#[test]
fn a_receiver_gives_up_when_its_peer_is_gone() {
    let _turn = TURN.lock();
    let (mut a, mut b) = pair(64).expect("pair");
    a.make_ports().expect("ports");
    b.make_ports().expect("ports");
    // b's process "dies": all it holds closes, its liveness pipe's write end among them (its
    // publisher's backpressure handler holds that too), and a's watch sees POLLHUP.
    drop(b);
    let e = a.receive_message(&mut [0u8; 64]).expect_err("peer gone");
    assert_eq!(e.kind(), io::ErrorKind::UnexpectedEof);
}
