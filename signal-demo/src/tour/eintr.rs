//! Step 6: EINTR — a handled signal interrupts a blocking read(2), unless SA_RESTART asks the
//! kernel to restart the call after the handler.

use std::time::{Duration, Instant};

use nix::sys::signal::Signal;
use nix::unistd::Pid;
use plumbing::child::Heard;
use plumbing::tour::heading;
use plumbing::{Result, procfs, stop};

use crate::roles::{REPLY_TIMEOUT, start_ready};

/// How long the parent stays silent after the signal before it writes to a restarted read.
const RESTART_WAIT: Duration = Duration::from_millis(200);

pub fn run(step: u32) -> Result {
    heading(
        step,
        "EINTR — a handled SIGUSR1 hits a child blocked in read(2)",
    );
    for restart in [false, true] {
        let args: &[&str] = if restart { &["--restart"] } else { &[] };
        let mut child = start_ready("eintr", args)?;
        // Signal it only once it sleeps in read(2): a signal sent earlier would miss the read.
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
