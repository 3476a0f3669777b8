//! The slot layout of the rings and the zero-copy channel, through their public API, across
//! threads of this process (the tests never fork): short writes and partial reads keep the
//! byte stream whole, and zero-copy messages come back as the very bytes the receiver left.
#![allow(clippy::unwrap_used)]

use std::io::{ErrorKind, Read, Write};
use std::sync::mpsc;
use std::time::Duration;

use shm_demo::zero_copy;

/// Runs `test` on a thread and fails if it takes more than 20 s (a hang must fail, not block).
fn within_20s(test: impl FnOnce() + Send + 'static) {
    let (done, finished) = mpsc::channel();
    let worker = std::thread::spawn(move || {
        test();
        let _ = done.send(());
    });
    match finished.recv_timeout(Duration::from_secs(20)) {
        Ok(()) => worker.join().unwrap(),
        Err(mpsc::RecvTimeoutError::Disconnected) => {
            std::panic::resume_unwind(worker.join().unwrap_err())
        }
        Err(_) => panic!("hung for 20 s"),
    }
}

#[test]
fn a_write_larger_than_a_slot_is_short_and_reads_can_take_part_of_a_slot() {
    within_20s(|| {
        // Made for 64-byte messages: a slot holds 112 (two cache lines minus the header).
        let (mut a, mut b) = shm_demo::spin_duplex(64).unwrap();
        let msg: Vec<u8> = (0..300).map(|i| i as u8).collect();
        let first = a.write(&msg).unwrap();
        assert!(
            (64..300).contains(&first),
            "wrote {first} of 300 into one slot"
        );
        a.write_all(&msg[first..]).unwrap();
        let mut got = Vec::new();
        for piece in [1, 50, 7, 242] {
            let mut buf = vec![0; piece];
            b.read_exact(&mut buf).unwrap();
            got.extend(buf);
        }
        assert_eq!(got, msg);
    });
}

#[test]
fn zero_copy_echo_is_the_same_bytes_the_receiver_left() {
    within_20s(|| {
        let (mut tx, mut rx) = zero_copy::pair(4096).unwrap();
        let echo = std::thread::spawn(move || {
            // Flip the last byte in place, as proof that the sender sees our slot, not a copy.
            while rx
                .receive(|msg| *msg.last_mut().unwrap() ^= 0xff)
                .unwrap()
                .is_some()
            {}
        });
        for seq in 0..1000u32 {
            let len = 1 + (seq as usize * 37) % 4096;
            tx.send(len, |msg| msg.fill(seq as u8)).unwrap();
            let back = tx
                .returned(|msg| (msg.len(), msg[0], *msg.last().unwrap()))
                .unwrap();
            let last = seq as u8 ^ 0xff;
            let first = if len == 1 { last } else { seq as u8 };
            assert_eq!(back, (len, first, last), "message {seq}");
        }
        drop(tx); // the receiver sees the sender gone: receive gives None
        echo.join().unwrap();
    });
}

#[test]
fn zero_copy_streams_more_messages_than_slots() {
    within_20s(|| {
        let (mut tx, mut rx) = zero_copy::pair(1000).unwrap();
        let sink = std::thread::spawn(move || {
            let mut sum = 0u64;
            while let Some(s) = rx
                .receive(|msg| msg.iter().map(|&b| b as u64).sum::<u64>())
                .unwrap()
            {
                sum += s;
            }
            sum
        });
        // More messages than slots: `send` must wait for slots to come home.
        for seq in 0..20_000u64 {
            tx.send(1000, |msg| msg.fill((seq % 200) as u8)).unwrap();
        }
        while tx.in_flight() > 0 {
            tx.returned(|_| ()).unwrap();
        }
        drop(tx);
        let want: u64 = (0..20_000u64).map(|seq| (seq % 200) * 1000).sum();
        assert_eq!(sink.join().unwrap(), want);
    });
}

#[test]
fn zero_copy_with_the_receiver_gone_is_a_broken_pipe() {
    within_20s(|| {
        let (mut tx, rx) = zero_copy::pair(64).unwrap();
        drop(rx);
        tx.send(64, |msg| msg.fill(1)).unwrap(); // room: lending needs no peer
        let err = tx.returned(|_| ()).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::BrokenPipe, "{err}");
    });
}

#[test]
fn zero_copy_refuses_sizes_it_cannot_carry() {
    for size in [0, shm_demo::MAX_MSG_SIZE + 1] {
        let err = zero_copy::pair(size).err().expect("size must be refused");
        assert_eq!(err.kind(), ErrorKind::InvalidInput);
        assert!(err.to_string().contains("MAX_MSG_SIZE"), "{err}");
    }
    let (mut tx, _rx) = zero_copy::pair(64).unwrap();
    let err = tx.send(tx.capacity() + 1, |_| ()).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidInput, "{err}");
    let err = tx.returned(|_| ()).unwrap_err();
    assert_eq!(
        err.kind(),
        ErrorKind::InvalidInput,
        "nothing was sent: {err}"
    );
}

#[test]
fn messages_of_256_kib_and_more_take_turns_in_a_single_slot() {
    within_20s(|| {
        const SIZE: usize = 300_000; // one slot: the writer waits for the reader every message
        let (mut tx, mut rx) = shm_demo::spin_duplex(SIZE).unwrap();
        let reader = std::thread::spawn(move || {
            let mut buf = vec![0; SIZE];
            for seq in 0..20u8 {
                rx.read_exact(&mut buf).unwrap();
                assert!(buf.iter().all(|&b| b == seq), "ring message {seq}");
            }
        });
        for seq in 0..20u8 {
            tx.write_all(&vec![seq; SIZE]).unwrap();
        }
        reader.join().unwrap();

        let (mut tx, mut rx) = zero_copy::pair(SIZE).unwrap();
        let receiver = std::thread::spawn(move || {
            for seq in 0..20u8 {
                let ok = rx.receive(|msg| msg.iter().all(|&b| b == seq)).unwrap();
                assert_eq!(ok, Some(true), "zero-copy message {seq}");
            }
        });
        for seq in 0..20u8 {
            tx.send(SIZE, |msg| msg.fill(seq)).unwrap();
        }
        tx.returned(|_| ()).unwrap(); // the last one; the slot was reused for every other
        receiver.join().unwrap();
    });
}
