//! Step 6: EINTR — a handled signal interrupts a blocking read(2), unless SA_RESTART asks the
//! kernel to restart the call after the handler.

use std::io::stdin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::sys::signal::{SaFlags, SigAction, SigHandler, SigSet, Signal, sigaction};
use nix::unistd::Pid;
use plumbing::child::Heard;
use plumbing::{Result, procfs, stop};

use crate::role::{REPLY_TIMEOUT, start_ready};

/// How long the parent stays silent after the signal before it writes to a restarted read.
const RESTART_WAIT: Duration = Duration::from_millis(200);

static HANDLED: AtomicUsize = AtomicUsize::new(0);

extern "C" fn note_signal(_: libc::c_int) {
    HANDLED.fetch_add(1, Ordering::SeqCst);
}

/// Child side (role `eintr`): a SIGUSR1 handler (with or without SA_RESTART), then one read(2)
/// on stdin.
pub fn reader(restart: bool) -> Result {
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

/// True once /proc says the child is asleep ("S"): after its "ready" line, the only place it
/// can sleep is the read(2) — so a signal sent now interrupts that read, not something before.
fn wait_until_asleep(pid: Pid) -> Result {
    let end = Instant::now() + Duration::from_secs(2);
    loop {
        let state =
            procfs::state(pid.as_raw()).map_err(|e| format!("read /proc/{pid}/stat: {e}"))?;
        if state == 'S' {
            return Ok(());
        }
        if Instant::now() > end {
            return Err(format!("child {pid} never blocked in read(2) (state {state})").into());
        }
        stop::check()?;
        std::thread::sleep(Duration::from_millis(1));
    }
}

pub fn run(step: u32) -> Result {
    println!("\nStep {step}: EINTR — a handled SIGUSR1 hits a child blocked in read(2)");
    for restart in [false, true] {
        let args: &[&str] = if restart { &["--restart"] } else { &[] };
        let mut child = start_ready("eintr", args)?;
        wait_until_asleep(child.pid())?;
        child.signal(Signal::SIGUSR1)?;
        let label = if restart {
            "with SA_RESTART:   "
        } else {
            "without SA_RESTART:"
        };
        if restart {
            // The read should have resumed: RESTART_WAIT of silence, then data ends it.
            let waited = Instant::now();
            match child.hear(RESTART_WAIT)? {
                Heard::Timeout => {}
                Heard::Line(line) => return Err(format!("read returned early: {line}").into()),
                Heard::Closed => return Err("child died".into()),
            }
            let waited = waited.elapsed().as_millis();
            child.tell("wake")?;
            println!("  {label} {}", child.expect_line(REPLY_TIMEOUT)?);
            println!(
                "  {:20}(it resumed: the parent waited {waited} ms, then wrote)",
                ""
            );
        } else {
            println!("  {label} {}", child.expect_line(REPLY_TIMEOUT)?);
        }
        child.wait_ok(REPLY_TIMEOUT)?;
    }
    println!("  std's read_exact/read_line retry EINTR for you; poll(2) and sigtimedwait(2)");
    println!("  never restart.");
    Ok(())
}
