//! The shm header decoder, fed bytes a hostile or unrelated process could leave in an object.
#![allow(clippy::unwrap_used)]

use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use shm_demo::{HEADER_LEN, LayoutError, OBJECT_LEN, decode_header, valid_header};

fn seed() -> u64 {
    let seed = std::env::var("SHM_DEMO_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(rand::random);
    println!("seed {seed} (replay with SHM_DEMO_SEED={seed})");
    seed
}

#[test]
fn random_bytes_give_errors_never_panics() {
    let mut rng = StdRng::seed_from_u64(seed());
    let valid = valid_header();
    let mut accepted = 0;
    for _ in 0..200_000 {
        let len = rng.random_range(0..=2 * HEADER_LEN);
        let mut bytes = vec![0u8; len];
        rng.fill(&mut bytes[..]);
        // Half of the cases start from a valid header with a few bytes changed, so the
        // checks after the magic get exercised too.
        if rng.random_bool(0.5) && len >= HEADER_LEN {
            bytes[..HEADER_LEN].copy_from_slice(&valid);
            for _ in 0..rng.random_range(0..3) {
                let i = rng.random_range(0..HEADER_LEN);
                bytes[i] = rng.random();
            }
        }
        let object_len = if rng.random_bool(0.8) {
            OBJECT_LEN as u64
        } else {
            rng.random()
        };
        let result = decode_header(&bytes, object_len);
        let should_pass = object_len == OBJECT_LEN as u64
            && bytes.len() >= HEADER_LEN
            && bytes[..HEADER_LEN] == valid;
        assert_eq!(
            result.is_ok(),
            should_pass,
            "{bytes:?} len {object_len}: {result:?}"
        );
        if let Err(e) = result {
            assert!(!e.to_string().is_empty());
        } else {
            accepted += 1;
        }
    }
    assert!(
        accepted > 0,
        "the valid header never came up: the test checks nothing"
    );
}

#[test]
fn every_single_byte_change_of_a_valid_header_is_caught() {
    let valid = valid_header();
    assert_eq!(decode_header(&valid, OBJECT_LEN as u64), Ok(()));
    for i in 0..HEADER_LEN {
        for delta in [1u8, 0x80, 0xff] {
            let mut bytes = valid;
            bytes[i] = bytes[i].wrapping_add(delta);
            assert!(
                decode_header(&bytes, OBJECT_LEN as u64).is_err(),
                "byte {i} + {delta}"
            );
        }
    }
    assert_eq!(
        decode_header(&valid[..HEADER_LEN - 1], OBJECT_LEN as u64),
        Err(LayoutError::Truncated {
            found: HEADER_LEN - 1
        })
    );
    assert_eq!(
        decode_header(&valid, OBJECT_LEN as u64 + 1),
        Err(LayoutError::WrongSize {
            found: OBJECT_LEN as u64 + 1
        })
    );
}
