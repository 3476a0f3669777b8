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
//! the shm_write process that has already exited. Whatever another program
//! does to the object (a FIFO in its place, shrinking it while we read), we
//! refuse it with a message: we never block on it or die of SIGBUS.
//!
//! To use it alone: `cargo new shm_read`, put this file in src/main.rs, add
//! these lines under [dependencies] in Cargo.toml, then `cargo run` once
//! `cargo run` in shm_write's own project has made the object:
//! ```toml
//! [dependencies]
//! libc = "0.2"
//! memmap2 = "0.9"
//! nix = { version = "0.32", features = ["fs", "mman"] }
//! ```

use std::fs::File;
use std::io::Write;
use std::sync::atomic::{AtomicI32, AtomicU32, Ordering};

use memmap2::MmapOptions;
use nix::fcntl::OFlag;
use nix::sys::mman::shm_open;
use nix::sys::stat::Mode;

/// Same layout as in shm_write (both files must agree byte for byte).
#[repr(C)]
struct SensorReading {
    temp: AtomicI32,
    writer_pid: AtomicU32,
    ready: AtomicU32,
}

/// Another program may shrink the object after we checked its size; touching the lost page
/// then raises SIGBUS, whose default action kills us. Say so and exit with an error instead.
extern "C" fn on_sigbus(_: libc::c_int) {
    let text = "shm_read: the object shrank while we read it\n";
    // SAFETY: write(2) and _exit(2) are async-signal-safe; `text` is static.
    unsafe {
        libc::write(libc::STDERR_FILENO, text.as_ptr().cast(), text.len());
        libc::_exit(1);
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // SAFETY: before any thread exists; the handler calls only async-signal-safe functions.
    // SIGPIPE's default (Rust ignores it) ends us quietly on a closed stdout, like C.
    unsafe {
        libc::signal(libc::SIGBUS, on_sigbus as *const () as libc::sighandler_t);
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    let name = std::env::args().nth(1).unwrap_or("/sensor_data".into());
    let fail = |call: &str, e: nix::Error| format!("{call} {name}: {e}");

    // O_NONBLOCK: if /dev/shm holds a FIFO under this name, open returns at once instead of
    // waiting for a writer; the check below then refuses it, as it does a directory.
    let flags = OFlag::O_RDONLY | OFlag::O_NONBLOCK;
    let fd = shm_open(name.as_str(), flags, Mode::empty()).map_err(|e| fail("shm_open", e))?;
    let file = File::from(fd);
    let meta = file.metadata().map_err(|e| format!("fstat {name}: {e}"))?;
    if !meta.is_file() {
        return Err(format!("{name}: not a regular file (a FIFO? a directory?)").into());
    }
    // Touching a page past the end of the object raises SIGBUS, so a short
    // object (another program's, or a writer that died before ftruncate)
    // must be refused before it is mapped.
    let len = size_of::<SensorReading>();
    if meta.len() < len as u64 {
        return Err(format!("{name}: {} bytes, need {len}", meta.len()).into());
    }

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
    writeln!(std::io::stdout(), "temperature: {temp} (writer pid {pid})")?;
    Ok(())
}
