//! Step 4 of the pipe tour: writing into a pipe that nobody can read any more. The writer
//! gets EPIPE, and the kernel also sends it SIGPIPE, whose default action kills it.

use std::io::{self, ErrorKind, Write};
use std::time::Duration;

use nix::sys::signal::{self, SigHandler, Signal};
use nix::sys::wait::WaitStatus;
use plumbing::Result;
use plumbing::child::{self, describe};
use plumbing::tour::heading;
use plumbing::verdict::{self, Verdict, judge};

/// The child dies at its first write; far longer means it is stuck.
const CHILD_LIMIT: Duration = Duration::from_secs(10);

/// Step 4: writing into a pipe that nobody can read any more.
pub fn run() -> Result {
    heading(4, "Broken pipe");
    let (reader, mut writer) = io::pipe().map_err(|e| format!("pipe: {e}"))?;
    drop(reader); // The only read end is gone.
    let epipe = match writer.write_all(b"temperature: 42") {
        Err(e) if e.kind() == ErrorKind::BrokenPipe => {
            println!("   4a. write() with no reader left failed: EPIPE ({e})");
            true
        }
        Err(e) => {
            println!("   4a. write() with no reader left failed: {e}");
            false
        }
        Ok(()) => {
            println!("   4a. write() with no reader left succeeded");
            false
        }
    };
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
    let status = child.wait(CHILD_LIMIT)?;
    let killed = match status {
        WaitStatus::Signaled(_, Signal::SIGPIPE, _) => true,
        // It lived through its write and reported how it failed: SIGPIPE did not kill it.
        WaitStatus::Exited(_, 1) => false,
        status => {
            return Err(format!(
                "child {}: expected death by SIGPIPE, but it {}",
                child.pid(),
                describe(status)
            )
            .into());
        }
    };
    println!("   4b. a child with SIGPIPE's default action wrote the same bytes:");
    match killed {
        true => println!("       killed by SIGPIPE"),
        false => println!("       it {}", describe(status)),
    }
    let (v, because) = no_reader_claim(epipe, killed);
    verdict::record(
        "with no reader left, a write gets EPIPE and SIGPIPE",
        v,
        because,
    );
    Ok(())
}

/// The lecture: writing with no reader left fails with EPIPE and raises SIGPIPE, whose default
/// action kills the writer. `epipe`: our write failed so (SIGPIPE ignored, as Rust starts);
/// `killed`: the child with the default action died of SIGPIPE.
pub fn no_reader_claim(epipe: bool, killed: bool) -> (Verdict, String) {
    let because = format!(
        "write() {}; a child with the default action {}",
        if epipe {
            "failed with EPIPE"
        } else {
            "did not fail with EPIPE"
        },
        if killed {
            "was killed by SIGPIPE"
        } else {
            "lived"
        }
    );
    (judge(epipe && killed, false), because)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn epipe_and_a_death_by_sigpipe_confirm_it() {
        let (v, because) = no_reader_claim(true, true);
        assert_eq!(v, Verdict::Confirmed);
        assert_eq!(
            because,
            "write() failed with EPIPE; a child with the default action was killed by SIGPIPE"
        );
    }

    #[test]
    fn either_missing_refutes_it() {
        assert_eq!(no_reader_claim(false, true).0, Verdict::Refuted);
        let (v, because) = no_reader_claim(true, false);
        assert_eq!(v, Verdict::Refuted);
        assert!(because.ends_with("action lived"), "{because}");
    }
}
