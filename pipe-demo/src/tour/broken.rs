//! Step 4 of the pipe tour: writing into a pipe that nobody can read any more. The writer
//! gets EPIPE, and the kernel also sends it SIGPIPE, whose default action kills it.

use std::io::{self, ErrorKind, Write};
use std::time::Duration;

use nix::sys::signal::{self, SigHandler, Signal};
use nix::sys::wait::WaitStatus;
use plumbing::Result;
use plumbing::child::{self, describe};

/// The child dies at its first write; far longer means it is stuck.
const CHILD_LIMIT: Duration = Duration::from_secs(10);

/// Step 4: writing into a pipe that nobody can read any more.
pub fn run() -> Result {
    println!("\nStep 4. Broken pipe");
    let (reader, mut writer) = io::pipe().map_err(|e| format!("pipe: {e}"))?;
    drop(reader); // The only read end is gone.
    match writer.write_all(b"temperature: 42") {
        Err(e) if e.kind() == ErrorKind::BrokenPipe => {
            println!("   4a. write() with no reader left failed: EPIPE ({e})");
        }
        Err(e) => return Err(format!("write: expected EPIPE, got {e}").into()),
        Ok(()) => return Err("write into a pipe with no reader succeeded".into()),
    }
    // The kernel also sends SIGPIPE, whose default action kills the writer. Rust programs
    // start with SIGPIPE ignored, which is why we saw an error instead. Restore the default in
    // a child and let it write.
    let mut child = child::fork(move || {
        // SAFETY: SIG_DFL installs no handler, so no code of ours runs in signal context.
        unsafe { signal::signal(Signal::SIGPIPE, SigHandler::SigDfl) }
            .map_err(|e| format!("signal(SIGPIPE): {e}"))?;
        writer
            .write_all(b"temperature: 42")
            .map_err(|e| format!("write: {e}"))?;
        Err("write after SIGPIPE's default was restored did not kill us".into())
    })?;
    match child.wait(CHILD_LIMIT)? {
        WaitStatus::Signaled(_, Signal::SIGPIPE, _) => {
            println!("   4b. a child with SIGPIPE's default action wrote the same bytes:");
            println!("       killed by SIGPIPE");
            Ok(())
        }
        status => Err(format!(
            "child {}: expected death by SIGPIPE, but it {}",
            child.pid(),
            describe(status)
        )
        .into()),
    }
}
