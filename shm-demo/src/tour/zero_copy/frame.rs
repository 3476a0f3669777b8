//! What travels in step 2: an 8 MiB frame, the seeded pattern a sender draws into it, and the
//! check value each side computes of it, which the step compares.

pub(super) const WIDTH: usize = 2048;
pub(super) const HEIGHT: usize = 1024;
/// 2048 x 1024 RGBA pixels: 8 MiB.
pub(super) const FRAME_LEN: usize = WIDTH * HEIGHT * 4;

/// Pixels that depend on `seed` (a new one every run and every handoff), so a frame that was
/// not really carried cannot pass the check.
pub(super) fn draw(frame: &mut [u8], seed: u64) {
    for (i, word) in frame.chunks_exact_mut(8).enumerate() {
        word.copy_from_slice(&splitmix(seed.wrapping_add(i as u64)).to_ne_bytes());
    }
}

fn splitmix(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// An order-sensitive check value of the whole frame (FNV-1a over 8-byte words).
pub(super) fn check_value(frame: &[u8]) -> u32 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for word in frame.chunks_exact(8) {
        let mut bytes = [0; 8];
        bytes.copy_from_slice(word);
        h = (h ^ u64::from_ne_bytes(bytes)).wrapping_mul(0x0100_0000_01b3);
    }
    (h ^ (h >> 32)) as u32
}
