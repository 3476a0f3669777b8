//! A named object that another process shrinks while we map it: our next access to a page past
//! its new end is SIGBUS, which would kill us. The object is ours (0600, our uid), but any
//! process of our user may `ftruncate` it at any moment, and checking the size first (fstat)
//! only narrows the window. So the access itself must survive it.
//!
//! The technique: a SIGBUS handler (`SA_SIGINFO`, which gives the faulting address). When the
//! address lies in a mapping registered here ([`Guard`]), the handler maps a private
//! zero-filled page over the faulting page (`MAP_FIXED | MAP_PRIVATE | MAP_ANONYMOUS`) and
//! records the fault in that mapping's atomic flag. The faulting instruction then runs again,
//! on the new page, and completes: a load reads zero, a store lands in a page nobody else sees.
//! The caller checks the flag after the access ([`Guard::faulted`]) and reports that the object
//! was truncated. A SIGBUS anywhere else is not ours to excuse: the handler restores the
//! default action and returns, the access faults again, and the process dies of it as before.
//!
//! (The other way is not to map untrusted objects at all and read them with `pread`, which
//! fails with a plain error; mapping is what this demo is about.)

use std::io;
use std::sync::Once;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use nix::sys::signal::{SaFlags, SigAction, SigHandler, SigSet, Signal, sigaction};

/// Registered mappings; a process of this crate maps one or two objects at a time.
const SLOTS: usize = 8;

struct Slot {
    start: AtomicUsize,
    len: AtomicUsize,
    faulted: AtomicBool,
}

static REGISTERED: [Slot; SLOTS] = [const {
    Slot {
        start: AtomicUsize::new(0),
        len: AtomicUsize::new(0),
        faulted: AtomicBool::new(false),
    }
}; SLOTS];
static PAGE_SIZE: AtomicUsize = AtomicUsize::new(4096);

/// A mapping whose SIGBUS faults are absorbed as described above, while this value lives.
/// Drop it before unmapping the region.
pub struct Guard {
    slot: &'static Slot,
}

impl Guard {
    /// Registers the mapping at `start`, `len` bytes (page aligned, as mmap returns it), and
    /// installs the handler the first time.
    pub fn new(start: *const u8, len: usize) -> io::Result<Guard> {
        install()?;
        let slot = REGISTERED
            .iter()
            .find(|s| {
                s.start
                    .compare_exchange(0, usize::MAX, Ordering::SeqCst, Ordering::SeqCst)
                    .is_ok()
            })
            .ok_or_else(|| io::Error::other("SIGBUS guard: every slot is in use"))?;
        let page = PAGE_SIZE.load(Ordering::SeqCst);
        slot.faulted.store(false, Ordering::SeqCst);
        slot.len.store(len.div_ceil(page) * page, Ordering::SeqCst);
        slot.start.store(start as usize, Ordering::SeqCst);
        Ok(Guard { slot })
    }

    /// True if an access faulted since the guard was made: the object was truncated under us
    /// and the faulting page is now a private blank one.
    pub fn faulted(&self) -> bool {
        self.slot.faulted.load(Ordering::SeqCst)
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        self.slot.len.store(0, Ordering::SeqCst);
        self.slot.start.store(0, Ordering::SeqCst);
    }
}

fn install() -> io::Result<()> {
    static ONCE: Once = Once::new();
    let mut result = Ok(());
    ONCE.call_once(|| {
        // SAFETY: sysconf only reads a constant of the system.
        let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
        if let Ok(page) = usize::try_from(page) {
            PAGE_SIZE.store(page, Ordering::SeqCst);
        }
        let action = SigAction::new(
            SigHandler::SigAction(on_sigbus),
            SaFlags::SA_SIGINFO,
            SigSet::empty(),
        );
        // SAFETY: the handler only loads and stores atomics and makes two system calls (mmap,
        // sigaction); it allocates nothing and takes no lock.
        if let Err(e) = unsafe { sigaction(Signal::SIGBUS, &action) } {
            result = Err(io::Error::other(format!("sigaction SIGBUS: {e}")));
        }
    });
    result
}

extern "C" fn on_sigbus(_signal: libc::c_int, info: *mut libc::siginfo_t, _: *mut libc::c_void) {
    // SAFETY: with SA_SIGINFO the kernel passes a valid siginfo_t; for SIGBUS it carries the
    // faulting address.
    let addr = unsafe { (*info).si_addr() } as usize;
    let page = PAGE_SIZE.load(Ordering::SeqCst);
    for slot in &REGISTERED {
        let (start, len) = (
            slot.start.load(Ordering::SeqCst),
            slot.len.load(Ordering::SeqCst),
        );
        if !(start..start.saturating_add(len)).contains(&addr) {
            continue;
        }
        // SAFETY: the page lies inside our own registered mapping of the object, which no Rust
        // reference covers as plain bytes (every access is through atomics), so replacing it
        // with a blank private page changes values, never validity. mmap is a plain system
        // call on Linux (not on POSIX's async-signal-safe list, but it takes no user lock).
        let blank = unsafe {
            libc::mmap(
                (addr & !(page - 1)) as *mut libc::c_void,
                page,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_FIXED | libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                -1,
                0,
            )
        };
        if blank != libc::MAP_FAILED {
            slot.faulted.store(true, Ordering::SeqCst);
            return;
        }
        break;
    }
    // Not one of ours (or no page could be mapped): die of it, as without this handler.
    // SAFETY: signal(2) to SIG_DFL runs no code of ours; it is async-signal-safe.
    unsafe { libc::signal(libc::SIGBUS, libc::SIG_DFL) };
}
