//! The frame the memfd roles hand over: `FRAME_LEN` bytes in a memfd, read and written as
//! 8-byte words. Word 0 is the frame's number, stored last with Release; the rest are pixels
//! that change with the run and the number, so a frame that was not really carried fails the
//! check value.

use std::fs::File;
use std::io::Write;
use std::sync::atomic::{AtomicU64, Ordering};

use memmap2::MmapRaw;
use nix::fcntl::{FcntlArg, SealFlag, fcntl};
use nix::sys::memfd::{MFdFlags, memfd_create};
use nix::sys::stat::{Mode, fchmod};
use plumbing::Result;

/// 320 x 240 RGBA pixels.
pub const FRAME_LEN: usize = 320 * 240 * 4;
const WORDS: usize = FRAME_LEN / 8;

/// A frame in a shared mapping of a memfd, which another process may write at any moment:
/// every access is an atomic one, so what it writes is only ever a new value.
pub struct Frame {
    map: MmapRaw,
    seed: u64,
}

impl Frame {
    /// A frame over `map`, which must be [`FRAME_LEN`] bytes.
    pub fn new(map: MmapRaw) -> Result<Frame> {
        if map.len() != FRAME_LEN {
            return Err(format!("a mapping of {} bytes, not {FRAME_LEN}", map.len()).into());
        }
        Ok(Frame { map, seed: seed() })
    }

    fn words(&self) -> &[AtomicU64] {
        // SAFETY: the mapping is FRAME_LEN bytes (checked in `new`) and page aligned, so it
        // holds WORDS aligned u64s, valid for any bits; it lives as long as `self`. Another
        // process may store to them concurrently: through atomics that is a change of value,
        // not a data race. A read-only mapping is only ever loaded from (`check`, `number`):
        // an 8-byte atomic load is a plain load on this architecture and never writes.
        unsafe { std::slice::from_raw_parts(self.map.as_ptr().cast::<AtomicU64>(), WORDS) }
    }

    /// The number of the frame now in the mapping (0 before the first is drawn).
    pub fn number(&self) -> u64 {
        self.words()[0].load(Ordering::Acquire)
    }

    /// Draws the pixels of frame `number` in place (the mapping must be writable) and returns
    /// its check value. The number is not stored yet: [`Frame::publish`] does that.
    pub fn draw(&self, number: u64) -> u32 {
        let words = self.words();
        let mut check = Check::new();
        check.add(number);
        for (i, word) in words.iter().enumerate().skip(1) {
            let value = pixel(self.seed, number, i);
            word.store(value, Ordering::Relaxed);
            check.add(value);
        }
        check.value()
    }

    /// Stores the frame's number, with Release: whoever loads it (Acquire) sees the pixels.
    pub fn publish(&self, number: u64) {
        self.words()[0].store(number, Ordering::Release);
    }

    /// The frame's number and check value, from what the mapping holds now.
    pub fn check(&self) -> (u64, u32) {
        let number = self.number();
        let words = self.words();
        let mut check = Check::new();
        check.add(number);
        for word in &words[1..] {
            check.add(word.load(Ordering::Relaxed));
        }
        (number, check.value())
    }
}

/// A fresh memfd named `frame` that can be sealed, `len` bytes, mode 0600.
pub fn create(len: usize) -> Result<File> {
    let flags = MFdFlags::MFD_CLOEXEC | MFdFlags::MFD_ALLOW_SEALING;
    let fd = memfd_create("frame", flags).map_err(|e| format!("memfd_create frame: {e}"))?;
    // It has no name, so only /proc/PID/fd reaches it (and only for whoever may ptrace us);
    // 0600 all the same, as for every object of the tour.
    fchmod(&fd, Mode::S_IRUSR | Mode::S_IWUSR).map_err(|e| format!("fchmod frame: {e}"))?;
    nix::unistd::ftruncate(&fd, len as i64).map_err(|e| format!("ftruncate frame: {e}"))?;
    Ok(File::from(fd))
}

/// Frame `number` written with write() into a new memfd that was never mapped, then sealed
/// against any change (F_SEAL_WRITE fails with EBUSY while a writable mapping exists).
/// Returns the memfd and the frame's check value.
pub fn write_sealed(number: u64) -> Result<(File, u32)> {
    let seed = seed();
    let words: Vec<u64> = (0..WORDS)
        .map(|i| {
            if i == 0 {
                number
            } else {
                pixel(seed, number, i)
            }
        })
        .collect();
    let bytes: Vec<u8> = words.iter().flat_map(|w| w.to_ne_bytes()).collect();
    let mut memfd = create(FRAME_LEN)?;
    memfd
        .write_all(&bytes)
        .map_err(|e| format!("write frame {number}: {e}"))?;
    let all = SealFlag::F_SEAL_SHRINK | SealFlag::F_SEAL_GROW | SealFlag::F_SEAL_WRITE;
    add_seals(&memfd, all)?;
    add_seals(&memfd, SealFlag::F_SEAL_SEAL)?;
    let mut check = Check::new();
    words.iter().for_each(|&w| check.add(w));
    Ok((memfd, check.value()))
}

pub fn add_seals(memfd: &File, seals: SealFlag) -> Result {
    fcntl(memfd, FcntlArg::F_ADD_SEALS(seals))
        .map_err(|e| format!("F_ADD_SEALS {}: {e}", seal_names(seals)))?;
    Ok(())
}

/// "SEAL|SHRINK|GROW": the seals without their `F_SEAL_` prefix.
pub fn seal_names(seals: SealFlag) -> String {
    let names = [
        (SealFlag::F_SEAL_SEAL, "SEAL"),
        (SealFlag::F_SEAL_SHRINK, "SHRINK"),
        (SealFlag::F_SEAL_GROW, "GROW"),
        (SealFlag::F_SEAL_WRITE, "WRITE"),
        (SealFlag::F_SEAL_FUTURE_WRITE, "FUTURE_WRITE"),
    ];
    let set: Vec<&str> = names
        .iter()
        .filter(|(flag, _)| seals.contains(*flag))
        .map(|(_, name)| *name)
        .collect();
    if set.is_empty() {
        "none".to_string()
    } else {
        set.join("|")
    }
}

/// Word `i` of frame `number`.
fn pixel(seed: u64, number: u64, i: usize) -> u64 {
    let mut z = (seed ^ number << 56).wrapping_add((i as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15));
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// An order-sensitive check value of a frame's words, number first (FNV-1a over 8-byte
/// words, folded to 32 bits).
struct Check(u64);

impl Check {
    fn new() -> Check {
        Check(0xcbf2_9ce4_8422_2325)
    }

    fn add(&mut self, word: u64) {
        self.0 = (self.0 ^ word).wrapping_mul(0x0100_0000_01b3);
    }

    fn value(&self) -> u32 {
        (self.0 ^ (self.0 >> 32)) as u32
    }
}

/// Different pixels every run: the clock and our pid.
fn seed() -> u64 {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64);
    nanos ^ u64::from(std::process::id()) << 32
}
