//! The Task wire format: round trips, and hostile bytes give errors, never a panic.
#![cfg(target_os = "linux")]
#![allow(clippy::unwrap_used)]

use mq_demo::{TASK_HEADER_LEN, Task, TaskError};
use rand::rngs::StdRng;
use rand::{Rng, RngExt, SeedableRng};

#[test]
fn round_trip() {
    for task in [
        Task {
            task_type: 1,
            payload: "compress file.dat".into(),
        },
        Task {
            task_type: u32::MAX,
            payload: String::new(),
        },
        Task {
            task_type: 0,
            payload: "température: 42 °C".into(),
        },
    ] {
        let msg = task.encode();
        assert_eq!(msg.len(), TASK_HEADER_LEN + task.payload.len());
        assert_eq!(Task::decode(&msg), Ok(task));
    }
}

#[test]
fn each_defect_is_named() {
    let msg = Task {
        task_type: 7,
        payload: "resize photo.jpg".into(),
    }
    .encode();
    for len in 0..TASK_HEADER_LEN {
        assert_eq!(Task::decode(&msg[..len]), Err(TaskError::Short(len)));
    }
    let mut bad = msg.clone();
    bad[0] = 2;
    assert_eq!(Task::decode(&bad), Err(TaskError::Version(2)));
    assert_eq!(
        Task::decode(&msg[..msg.len() - 1]),
        Err(TaskError::Length {
            declared: 16,
            actual: 15
        })
    );
    let mut longer = msg.clone();
    longer.push(b'!');
    assert_eq!(
        Task::decode(&longer),
        Err(TaskError::Length {
            declared: 16,
            actual: 17
        })
    );
    let mut huge = msg.clone();
    huge[5..9].copy_from_slice(&u32::MAX.to_le_bytes());
    assert_eq!(
        Task::decode(&huge),
        Err(TaskError::Length {
            declared: u32::MAX,
            actual: 16
        })
    );
    let mut not_utf8 = msg.clone();
    not_utf8[TASK_HEADER_LEN] = 0xff;
    assert_eq!(Task::decode(&not_utf8), Err(TaskError::NotUtf8));
}

/// Random bytes and randomly damaged Tasks: decode returns Ok only for what encode would
/// produce, Err otherwise, and never panics (a panic fails the test).
#[test]
fn random_and_damaged_bytes_are_errors_not_panics() {
    let mut rng = StdRng::seed_from_u64(testkit::seed("MQ_DEMO_SEED"));
    let (mut ok, mut errors) = (0, 0);
    for round in 0..20_000 {
        let mut msg = if round % 2 == 0 {
            let mut bytes = vec![0u8; rng.random_range(0..300)];
            rng.fill_bytes(&mut bytes);
            bytes
        } else {
            let len = rng.random_range(0..64);
            let payload: String = (0..len).map(|_| rng.random_range('a'..='z')).collect();
            Task {
                task_type: rng.random(),
                payload,
            }
            .encode()
        };
        match rng.random_range(0..4) {
            0 if !msg.is_empty() => {
                let at = rng.random_range(0..msg.len());
                msg[at] ^= 1 << rng.random_range(0..8);
            }
            1 => msg.truncate(rng.random_range(0..=msg.len())),
            2 => msg.push(rng.random()),
            _ => {}
        }
        match Task::decode(&msg) {
            Ok(task) => {
                assert_eq!(task.encode(), msg, "accepted bytes that encode differently");
                ok += 1;
            }
            Err(_) => errors += 1,
        }
    }
    println!("{ok} decoded, {errors} rejected");
    assert!(ok > 0 && errors > 0);
}
