//! Whether a signal can be caught, asked of the kernel: install a handler, then undo it.

use nix::errno::Errno;
use nix::sys::signal::{SaFlags, SigAction, SigHandler, SigSet, SigmaskHow, Signal, sigaction};

use plumbing::Result;

extern "C" fn probe_handler(_: libc::c_int) {}

/// Asks the kernel to install a handler for `signal`, then puts the old disposition back.
/// Ok if the signal can be caught; the kernel's error (EINVAL) if it cannot.
pub fn try_install_handler(signal: Signal) -> Result<Result<(), Errno>> {
    // Block every signal meanwhile, so none can reach the probe handler; one that arrives now
    // stays pending and is delivered after the old disposition is back.
    let old_mask = SigSet::all()
        .thread_swap_mask(SigmaskHow::SIG_BLOCK)
        .map_err(|e| format!("pthread_sigmask: {e}"))?;
    let probe = SigAction::new(
        SigHandler::Handler(probe_handler),
        SaFlags::empty(),
        SigSet::empty(),
    );
    // SAFETY: the probe handler does nothing (trivially async-signal-safe) and cannot run while
    // everything is blocked; the previous action is restored before the mask is.
    let outcome = match unsafe { sigaction(signal, &probe) } {
        // SAFETY: `old` is exactly what the kernel returned for this signal a moment ago.
        Ok(old) => unsafe { sigaction(signal, &old) }.map(|_| ()),
        Err(e) => Err(e),
    };
    old_mask
        .thread_set_mask()
        .map_err(|e| format!("pthread_sigmask: {e}"))?;
    Ok(outcome)
}
