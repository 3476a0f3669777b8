//! Opens the object shm_write left behind, read-only, and prints the reading.
//! Lecture: "Shared Memory: Zero-Copy, You Own Coordination" (the Rust
//! snippet's memmap2, read-only: `MmapOptions` -> `Mmap`; shm_write has the
//! lecture's own `MmapMut::map_mut`).
//!
//! Run after shm_write, in any terminal, as often as you like:
//!   cargo run -p shm-demo --example shm_read [NAME]
//! Then remove the object (its own step, like TLPI's pshm_unlink):
//!   cargo run -p shm-demo --example shm_unlink
//!
//! You will see `temperature: 42 (writer pid N)`, where N is the pid of
//! the shm_write process that has already exited.
//!
//! To use it alone: `cargo new shm_read`, put this file in src/main.rs, add
//! these lines under [dependencies] in Cargo.toml, then `cargo run` once
//! `cargo run` in shm_write's own project has made the object:
//! ```toml
//! [dependencies]
//! memmap2 = "0.9"
//! nix = { version = "0.32", features = ["fs", "mman"] }
//! ```

use std::fs::File;
use std::sync::atomic::{AtomicI32, AtomicU32, Ordering};

use memmap2::MmapOptions;
use nix::fcntl::OFlag;
use nix::sys::mman::shm_open;
use nix::sys::stat::{Mode, fstat};

/// Same layout as in shm_write (both files must agree byte for byte).
#[repr(C)]
struct SensorReading {
    temp: AtomicI32,
    writer_pid: AtomicU32,
    ready: AtomicU32,
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let name = std::env::args().nth(1).unwrap_or("/sensor_data".into());
    let fail = |call: &str, e: nix::Error| format!("{call} {name}: {e}");

    let fd =
        shm_open(name.as_str(), OFlag::O_RDONLY, Mode::empty()).map_err(|e| fail("shm_open", e))?;

    // Touching a page past the end of the object raises SIGBUS, so a short
    // object (another program's, or a writer that died before ftruncate)
    // must be refused before it is mapped.
    let len = size_of::<SensorReading>();
    let found = fstat(&fd).map_err(|e| fail("fstat", e))?.st_size;
    if found < len as i64 {
        return Err(format!("{name}: {found} bytes, need {len}").into());
    }

    let file = File::from(fd);
    // SAFETY: read-only shared mapping of an object at least `len` bytes
    // long (checked above). Another process may change the bytes at any
    // time; we only read them through atomics, so that is not UB.
    let map = unsafe { MmapOptions::new().len(len).map(&file) }
        .map_err(|e| format!("mmap {name}: {e}"))?;
    // SAFETY: the mapping is page-aligned and `len` bytes long, and atomic
    // loads (4 bytes here) from read-only memory are allowed.
    let shared = unsafe { &*map.as_ptr().cast::<SensorReading>() };

    // Fix for the lecture's sketch, which reads with no synchronisation: the
    // writer stores `ready` last with Release; loading it with Acquire
    // guarantees the temperature we then read is the one published with it.
    if shared.ready.load(Ordering::Acquire) != 1 {
        return Err(format!("{name}: no reading published yet").into());
    }
    let temp = shared.temp.load(Ordering::Relaxed);
    let pid = shared.writer_pid.load(Ordering::Relaxed);
    println!("temperature: {temp} (writer pid {pid})");
    Ok(())
}
