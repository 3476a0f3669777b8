//! The frame decoder fed seeded random bytes: it returns errors, never panics, and never
//! allocates more than the frame limit, whatever length a peer claims.
//! (One test in this file: the counting allocator sees only this test's allocations.)
#![allow(clippy::unwrap_used)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::io::{self, Cursor, ErrorKind, Read};
use std::sync::atomic::{AtomicUsize, Ordering};

use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use uds_demo::{FrameKind, MAX_FRAME, read_frame, write_frame};

/// Records the largest single allocation request.
struct Largest;

static LARGEST: AtomicUsize = AtomicUsize::new(0);

// SAFETY: forwards every call unchanged to the system allocator; only records sizes.
unsafe impl GlobalAlloc for Largest {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LARGEST.fetch_max(layout.size(), Ordering::Relaxed);
        // SAFETY: same contract as our caller's.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: same contract as our caller's.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        LARGEST.fetch_max(new_size, Ordering::Relaxed);
        // SAFETY: same contract as our caller's.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: Largest = Largest;

/// Hands out at most `chunk` bytes per read, like a socket that delivers a frame in pieces.
struct Chunky<'a> {
    data: &'a [u8],
    chunk: usize,
}

impl Read for Chunky<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = buf.len().min(self.chunk).min(self.data.len());
        buf[..n].copy_from_slice(&self.data[..n]);
        self.data = &self.data[n..];
        Ok(n)
    }
}

fn check(result: io::Result<Option<uds_demo::Frame>>) -> &'static str {
    match result {
        Ok(None) => "eof",
        Ok(Some(frame)) => {
            assert!(frame.payload.len() <= MAX_FRAME);
            "frame"
        }
        Err(e) => {
            assert!(
                matches!(e.kind(), ErrorKind::InvalidData | ErrorKind::UnexpectedEof),
                "unexpected error kind: {e}"
            );
            "error"
        }
    }
}

#[test]
fn random_bytes_give_errors_not_panics_or_huge_allocations() {
    let seed: u64 = std::env::var("UDS_DEMO_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(rand::random);
    println!("seed {seed} (replay with UDS_DEMO_SEED={seed})");
    let mut rng = StdRng::seed_from_u64(seed);

    // A valid frame decodes back to itself.
    let mut wire = Vec::new();
    write_frame(&mut wire, FrameKind::Message, b"temperature: 42").unwrap();
    let frame = read_frame(&mut Cursor::new(&wire), None, None)
        .unwrap()
        .unwrap();
    assert_eq!(frame.payload, b"temperature: 42");

    LARGEST.store(0, Ordering::SeqCst);
    let (mut frames, mut errors) = (0, 0);
    for i in 0..30_000 {
        let len = rng.random_range(0..64usize);
        let mut bytes: Vec<u8> = (0..len).map(|_| rng.random()).collect();
        // Half the inputs start like a frame, so the length and payload paths are reached too.
        if i % 2 == 0 && !bytes.is_empty() {
            bytes[0] = if rng.random() { b'M' } else { b'E' };
            if bytes.len() >= 5 && i % 4 == 0 {
                let claimed: u32 = rng.random_range(0..(len as u32 + 8));
                bytes[1..5].copy_from_slice(&claimed.to_be_bytes());
            }
        }
        let chunk = rng.random_range(1..8);
        let outcome = check(read_frame(
            &mut Chunky {
                data: &bytes,
                chunk,
            },
            None,
            None,
        ));
        match outcome {
            "frame" => frames += 1,
            "error" => errors += 1,
            _ => {}
        }
    }
    // Claimed lengths across the whole u32 range, with no payload behind them.
    for _ in 0..2_000 {
        let claimed: u32 = rng.random();
        let bytes = [b"M".as_slice(), &claimed.to_be_bytes()].concat();
        assert_eq!(
            check(read_frame(&mut Cursor::new(&bytes), None, None)),
            "error"
        );
    }
    let largest = LARGEST.load(Ordering::SeqCst);
    println!("decoded {frames} frames, {errors} errors; largest allocation {largest} bytes");
    assert!(
        frames > 0 && errors > 0,
        "the fuzz did not reach both outcomes"
    );
    assert!(
        largest <= MAX_FRAME,
        "an allocation of {largest} bytes exceeds the {MAX_FRAME}-byte bound"
    );
}
