//! Role `eintr` (step 6): a SIGUSR1 handler (with or without SA_RESTART), then one read(2) on
//! stdin; says how the read ended and how long it took.

use std::io::stdin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use nix::errno::Errno;
use nix::sys::signal::{SaFlags, SigAction, SigHandler, SigSet, Signal, sigaction};
use plumbing::Result;

static HANDLED: AtomicUsize = AtomicUsize::new(0);

extern "C" fn note_signal(_: libc::c_int) {
    HANDLED.fetch_add(1, Ordering::SeqCst);
}

pub fn run(restart: bool) -> Result {
    let flags = if restart {
        SaFlags::SA_RESTART
    } else {
        SaFlags::empty()
    };
    let action = SigAction::new(SigHandler::Handler(note_signal), flags, SigSet::empty());
    // SAFETY: the handler only increments an atomic (async-signal-safe).
    unsafe { sigaction(Signal::SIGUSR1, &action) }.map_err(|e| format!("sigaction: {e}"))?;
    println!("ready");
    let start = Instant::now();
    let mut buf = [0u8; 64];
    // read(2) itself, via nix: std's read_line / read_exact would quietly retry on EINTR.
    let result = nix::unistd::read(stdin(), &mut buf);
    let ms = start.elapsed().as_millis();
    let handled = HANDLED.load(Ordering::SeqCst);
    match result {
        Err(Errno::EINTR) => {
            println!("read(2) -> EINTR after {ms} ms; handler ran {handled} time(s)");
        }
        Ok(n) => {
            println!("read(2) -> {n} bytes after {ms} ms; handler ran {handled} time(s)")
        }
        Err(e) => return Err(format!("read: {e}").into()),
    }
    Ok(())
}
