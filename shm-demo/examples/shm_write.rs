//! Creates the lecture's `sensor_reading` in a named POSIX shared memory
//! object, stores `temperature: 42` in it, and exits: the object stays.
//! Lecture: "Shared Memory: Zero-Copy, You Own Coordination": the C snippet's
//! `shm_open` + `ftruncate`, then the Rust snippet's `MmapMut::map_mut`.
//!
//! Run, one step at a time (the object outlives each process):
//!   1. cargo run -p shm-demo --example shm_write    # [NAME]
//!   2. ls -l /dev/shm/sensor_data                   # still there, -rw-------
//!   3. cargo run -p shm-demo --example shm_read     # [NAME]
//!   4. cargo run -p shm-demo --example shm_unlink   # [NAME]: removes it
//!
//! NAME defaults to the lecture's /sensor_data.
//!
//! You will see `wrote temperature: 42 (writer pid N) to /sensor_data`.
//! Running step 1 twice fails with EEXIST until step 4 has removed the object.
//!
//! To use it alone: `cargo new shm_write`, put this file in src/main.rs, add
//! these lines under [dependencies] in Cargo.toml, then `cargo run` (step 1;
//! shm_read and shm_unlink, each in its own project made the same way, are
//! steps 3 and 4, `cargo run` there):
//! ```toml
//! [dependencies]
//! libc = "0.2"
//! memmap2 = "0.9"
//! nix = { version = "0.32", features = ["fs", "mman"] }
//! ```

use std::fs::File;
use std::io::Write;
use std::sync::atomic::{AtomicI32, AtomicU32, Ordering};

use memmap2::MmapMut;
use nix::fcntl::{OFlag, posix_fallocate};
use nix::sys::mman::{shm_open, shm_unlink};
use nix::sys::stat::Mode;
use nix::unistd::ftruncate;

/// The lecture's `struct sensor_reading`, plus the flag the reader waits for.
/// Atomics, because another process may look at these bytes at any moment.
#[repr(C)]
struct SensorReading {
    temp: AtomicI32,
    writer_pid: AtomicU32,
    ready: AtomicU32,
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // SAFETY: before any thread exists. Rust ignores SIGPIPE; the default makes a closed
    // stdout (`| head -1`) end us quietly, as it would a C program.
    unsafe { libc::signal(libc::SIGPIPE, libc::SIG_DFL) };
    let name = std::env::args().nth(1).unwrap_or("/sensor_data".into());
    let fail = |call: &str, e: nix::Error| format!("{call} {name}: {e}");

    // O_EXCL: fail rather than reuse an object some other program made.
    // Mode 0600 (owner only); the umask can only clear bits, never add them.
    let flags = OFlag::O_CREAT | OFlag::O_EXCL | OFlag::O_RDWR;
    let fd = shm_open(name.as_str(), flags, Mode::from_bits_truncate(0o600))
        .map_err(|e| fail("shm_open", e))?;

    // ftruncate only sets the size: tmpfs finds the pages at the first store,
    // and on a full /dev/shm that store dies with SIGBUS. posix_fallocate
    // reserves them now, so a full /dev/shm is an ENOSPC error here instead.
    let len = size_of::<SensorReading>();
    let sized = ftruncate(&fd, len as i64)
        .map_err(|e| fail("ftruncate", e))
        .and_then(|()| posix_fallocate(&fd, 0, len as i64).map_err(|e| fail("posix_fallocate", e)));
    if let Err(e) = sized {
        let _ = shm_unlink(name.as_str()); // do not leave a half-made object
        return Err(e.into());
    }

    // On Linux shm_open("/sensor_data") opens the file /dev/shm/sensor_data,
    // the one the lecture's `OpenOptions::new()...open("/dev/shm/sensor_data")`
    // names; shm_open adds O_EXCL and mode 0600, which that snippet lacks.
    let file = File::from(fd);
    // SAFETY: map_mut maps the file's `len` bytes (reserved above) shared.
    // Another process may map them too, which Rust's &mut [u8] cannot know
    // about: we never use them as that slice, only through the atomics below.
    let mut mmap = unsafe { MmapMut::map_mut(&file) }.map_err(|e| format!("mmap {name}: {e}"))?;
    // SAFETY: the mapping is page-aligned and `len` bytes long; every field
    // is an atomic, so another process mapping it at the same time cannot
    // cause a data race, only see values change.
    let shared = unsafe { &*mmap.as_mut_ptr().cast::<SensorReading>() };
    let (temp, pid) = (42, std::process::id()); // shared->temp = 42
    shared.temp.store(temp, Ordering::Relaxed);
    shared.writer_pid.store(pid, Ordering::Relaxed);
    // Published last with Release: a reader that sees ready == 1 with
    // Acquire also sees the two stores above (see shm_read).
    shared.ready.store(1, Ordering::Release);

    writeln!(
        std::io::stdout(),
        "wrote temperature: {temp} (writer pid {pid}) to {name}"
    )?;
    // `mmap` drops here: munmap. No shm_unlink: the object persists until
    // shm_unlink or a reboot.
    Ok(())
}
