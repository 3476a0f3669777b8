//! Two processes add to one counter in shared memory: a plain load-then-store, then
//! `fetch_add`. Lecture: "Shared Memory: Zero-Copy, You Own Coordination" (the Synchronized /
//! Unsynchronized demo). Run: `cargo run -p shm-demo --example shm_counter [ADDS]` (1000000).
//! You will see two lines, `expected` against `got`. The plain version usually loses updates
//! (with one CPU maybe none: the two processes then never run at the same instant);
//! `fetch_add` never loses any. Kill the parent and the child dies with it.
//!
//! To use it alone: `cargo new shm_counter`, put this file in src/main.rs, add these lines
//! under [dependencies] in Cargo.toml, then `cargo run`:
//! ```toml
//! [dependencies]
//! libc = "0.2"
//! nix = { version = "0.32", features = ["mman", "process"] }
//! ```

use nix::sys::mman::{MapFlags, ProtFlags, mmap_anonymous};
use nix::sys::wait::waitpid;
use nix::unistd::{ForkResult, fork, getpid, getppid};
use std::io::Write;
use std::num::NonZeroUsize;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};

#[repr(C)]
struct Shared {
    arrived: AtomicU32, // start line: both processes count in, then run
    counter: AtomicU64,
}

/// Plain read-modify-write: both may load v and store v + 1, so one of the adds is lost.
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
    let parent = getpid();
    // SAFETY: one thread, so the child's copy of the heap is consistent; it runs `run`, _exit.
    match unsafe { fork() }.map_err(|e| format!("fork: {e}"))? {
        ForkResult::Child => {
            // SAFETY: prctl takes integers. PDEATHSIG: SIGKILL us when the parent dies, or a
            // killed parent leaves us spinning; getppid: it may have died before this line.
            unsafe { libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) };
            if getppid() == parent {
                run();
            }
            // SAFETY: _exit skips atexit handlers and stdio flushing, which belong to the parent.
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
    // Default actions: SIGCHLD's, since "ignore" (inherited) makes waitpid fail with ECHILD;
    // SIGPIPE's (Rust ignores it), so a closed stdout ends us quietly, as it would a C program.
    for signal in [libc::SIGCHLD, libc::SIGPIPE] {
        // SAFETY: signal(2) with SIG_DFL installs no handler; no thread or child exists yet.
        unsafe { libc::signal(signal, libc::SIG_DFL) };
    }
    let arg = std::env::args().nth(1).unwrap_or("1000000".into());
    let adds: u64 = arg.parse().map_err(|e| format!("ADDS {arg:?}: {e}"))?;
    let size = NonZeroUsize::new(size_of::<Shared>()).ok_or("empty Shared")?;
    let prot = ProtFlags::PROT_READ | ProtFlags::PROT_WRITE;
    // MAP_SHARED | MAP_ANONYMOUS: memory with no name that fork shares instead of copying.
    // SAFETY: a fresh zero-filled mapping; nothing else points into it.
    let addr = unsafe { mmap_anonymous(None, size, prot, MapFlags::MAP_SHARED) }
        .map_err(|e| format!("mmap: {e}"))?;
    // SAFETY: page-aligned, large enough, zero is a valid Shared, and the other process
    // touches it only through atomics; never unmapped (freed when both processes exit).
    let shared = unsafe { addr.cast::<Shared>().as_ref() };
    let expected = 2 * adds;
    for (label, add) in [
        ("plain load+store", plain as fn(&AtomicU64)),
        ("fetch_add", atomic),
    ] {
        let got = race(shared, adds, add)?;
        let lost = expected - got;
        let line = format!("{label:<17} expected {expected}, got {got} ({lost} lost)");
        writeln!(std::io::stdout(), "{line}")?;
    }
    Ok(())
}
