//! Creates the lecture's `sensor_reading` in a named POSIX shared memory
//! object, stores `temperature: 42` in it, and exits: the object stays.
//! Lecture: "Shared Memory: Zero-Copy, You Own Coordination" (the C snippet:
//! `shm_open` + `ftruncate` + `mmap`, then `shared->temp = 42`).
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

use std::num::NonZeroUsize;
use std::sync::atomic::{AtomicI32, AtomicU32, Ordering};

use nix::fcntl::{OFlag, posix_fallocate};
use nix::sys::mman::{MapFlags, ProtFlags, mmap, munmap, shm_open, shm_unlink};
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

    let size = NonZeroUsize::new(len).ok_or("SensorReading has no size")?;
    let prot = ProtFlags::PROT_READ | ProtFlags::PROT_WRITE;
    // SAFETY: a fresh mapping chosen by the kernel, so no Rust object is
    // overlapped; the object has exactly `len` bytes reserved above.
    let addr = unsafe { mmap(None, size, prot, MapFlags::MAP_SHARED, &fd, 0) }
        .map_err(|e| fail("mmap", e))?;

    // SAFETY: the mapping is page-aligned and `len` bytes long; every field
    // is an atomic, so another process mapping it at the same time cannot
    // cause a data race, only see values change.
    let shared = unsafe { addr.cast::<SensorReading>().as_ref() };
    let (temp, pid) = (42, std::process::id()); // shared->temp = 42
    shared.temp.store(temp, Ordering::Relaxed);
    shared.writer_pid.store(pid, Ordering::Relaxed);
    // Published last with Release: a reader that sees ready == 1 with
    // Acquire also sees the two stores above (see shm_read).
    shared.ready.store(1, Ordering::Release);

    println!("wrote temperature: {temp} (writer pid {pid}) to {name}");
    // SAFETY: `shared` is not used after this line.
    unsafe { munmap(addr, len) }.map_err(|e| fail("munmap", e))?;
    // No shm_unlink: the object persists until shm_unlink or a reboot.
    Ok(())
}
