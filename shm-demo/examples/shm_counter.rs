//! Two processes add to one counter in shared memory: first with a plain
//! load-then-store, then with `fetch_add`. Lecture: "Shared Memory:
//! Zero-Copy, You Own Coordination" (the Synchronized / Unsynchronized demo).
//!
//! Run:
//!   cargo run -p shm-demo --example shm_counter     # [ADDS], default 1000000
//!
//! You will see two lines, `expected` against `got`. The plain version
//! usually loses updates; with one CPU it may lose none, because the two
//! processes then never run at the same instant. `fetch_add` never loses any.
//!
//! To use it alone: `cargo new shm_counter`, put this file in src/main.rs, add
//! these lines under [dependencies] in Cargo.toml, then `cargo run`:
//! ```toml
//! [dependencies]
//! libc = "0.2"
//! nix = { version = "0.32", features = ["mman", "process"] }
//! ```

use std::num::NonZeroUsize;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};

use nix::sys::mman::{MapFlags, ProtFlags, mmap_anonymous};
use nix::sys::wait::waitpid;
use nix::unistd::{ForkResult, fork};

#[repr(C)]
struct Shared {
    arrived: AtomicU32, // start line: both processes count in, then run
    counter: AtomicU64,
}

/// Plain read-modify-write: both processes may load the same value and
/// store the same value + 1, so one of the two additions is lost.
fn plain(counter: &AtomicU64) {
    let v = counter.load(Ordering::Relaxed);
    counter.store(v + 1, Ordering::Relaxed);
}

/// One indivisible read-modify-write (`lock xadd` on x86).
fn atomic(counter: &AtomicU64) {
    counter.fetch_add(1, Ordering::Relaxed);
}

fn race(shared: &Shared, adds: u64, add: fn(&AtomicU64)) -> Result<u64, String> {
    shared.counter.store(0, Ordering::Relaxed);
    shared.arrived.store(0, Ordering::Relaxed);
    let run = || {
        shared.arrived.fetch_add(1, Ordering::SeqCst);
        while shared.arrived.load(Ordering::SeqCst) < 2 {
            std::hint::spin_loop(); // wait so the two loops really overlap
        }
        (0..adds).for_each(|_| add(&shared.counter));
    };
    // SAFETY: this process has one thread, so the child gets a consistent
    // copy of the heap; it only runs `run` and leaves with _exit.
    match unsafe { fork() }.map_err(|e| format!("fork: {e}"))? {
        ForkResult::Child => {
            run();
            // SAFETY: _exit skips atexit handlers and stdio flushing, which
            // belong to the parent.
            unsafe { libc::_exit(0) }
        }
        ForkResult::Parent { child } => {
            run();
            waitpid(child, None).map_err(|e| format!("waitpid {child}: {e}"))?;
        }
    }
    Ok(shared.counter.load(Ordering::SeqCst))
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let adds: u64 = match std::env::args().nth(1) {
        Some(arg) => arg.parse().map_err(|e| format!("ADDS {arg:?}: {e}"))?,
        None => 1_000_000,
    };
    let size = NonZeroUsize::new(size_of::<Shared>()).ok_or("empty Shared")?;
    let prot = ProtFlags::PROT_READ | ProtFlags::PROT_WRITE;
    // MAP_SHARED | MAP_ANONYMOUS: memory with no name that fork does not
    // copy: parent and child see the same physical pages.
    // SAFETY: a fresh zero-filled mapping; nothing else points into it.
    let addr = unsafe { mmap_anonymous(None, size, prot, MapFlags::MAP_SHARED) }
        .map_err(|e| format!("mmap: {e}"))?;
    // SAFETY: page-aligned, large enough, zero is a valid Shared, and the
    // other process touches it only through atomics. Never unmapped: the
    // kernel releases it when both processes have exited.
    let shared = unsafe { addr.cast::<Shared>().as_ref() };

    let expected = 2 * adds;
    for (label, add) in [
        ("plain load+store", plain as fn(&AtomicU64)),
        ("fetch_add", atomic),
    ] {
        let got = race(shared, adds, add)?;
        let lost = expected - got;
        println!("{label:<17} expected {expected}, got {got} ({lost} lost)");
    }
    Ok(())
}
