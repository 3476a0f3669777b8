//! `ls | grep .rs | wc -l` built by hand, the way a shell does it: two pipes,
//! three fork()s, dup2() onto stdin/stdout, execvp().
//! Lecture section: "Why Pipes Still Exist" (every `|` is a pipe).
//!
//! Run it, then ask the shell for comparison:
//! ```text
//! cargo run -p pipe-demo --example pipeline
//! sh -c 'ls | grep .rs | wc -l'
//! ```
//! You will see on stdout exactly what the shell prints (how many names here
//! match `.rs`), then on stderr how each stage ended (grep's status is 1 when
//! no line matched):
//! ```text
//! 0
//! pipeline: ls exited with status 0
//! pipeline: grep exited with status 1
//! pipeline: wc exited with status 0
//! ```
//!
//! To use it alone: `cargo new pipeline`, put this file in src/main.rs, add
//! these lines under [dependencies] in Cargo.toml, then `cargo run`:
//! ```toml
//! [dependencies]
//! nix = { version = "0.32", features = ["fs", "signal"] }
//! ```

use std::error::Error;
use std::ffi::CString;
use std::io::{Write, stderr};
use std::os::fd::OwnedFd;

use nix::fcntl::OFlag;
use nix::sys::signal::{SigHandler, Signal, signal};
use nix::sys::wait::{WaitStatus, waitpid};
use nix::unistd::{ForkResult, Pid, dup2_stdin, dup2_stdout, execvp, fork, pipe2};

fn main() -> Result<(), Box<dyn Error>> {
    for sig in [Signal::SIGPIPE, Signal::SIGCHLD] {
        // SAFETY: SIG_DFL installs no handler. Children inherit both: Rust's
        // ignored SIGPIPE would survive exec (a shell gives its stages the
        // default: a writer whose reader left dies quietly), and SIGCHLD left
        // ignored by our parent would make waitpid fail (ECHILD).
        unsafe { signal(sig, SigHandler::SigDfl) }?;
    }
    // O_CLOEXEC: exec() closes these in each child, so no child keeps an end
    // it does not use; dup2()'s copies on fd 0 and 1 survive (flag cleared).
    let (grep_reads, ls_writes) = pipe2(OFlag::O_CLOEXEC).map_err(|e| format!("pipe2: {e}"))?;
    let (wc_reads, grep_writes) = pipe2(OFlag::O_CLOEXEC).map_err(|e| format!("pipe2: {e}"))?;

    let ls = stage(&["ls"], None, Some(&ls_writes))?;
    let grep = stage(&["grep", ".rs"], Some(&grep_reads), Some(&grep_writes))?;
    let wc = stage(&["wc", "-l"], Some(&wc_reads), None)?;

    // We hold a copy of every end. wc sees end-of-file only once every write
    // end of its pipe is closed, ours included: else wc and we wait forever.
    drop((ls_writes, grep_reads, grep_writes, wc_reads));

    for (name, pid) in [("ls", ls), ("grep", grep), ("wc", wc)] {
        let how = match waitpid(pid, None).map_err(|e| format!("waitpid {name}: {e}"))? {
            WaitStatus::Exited(_, code) => format!("exited with status {code}"),
            WaitStatus::Signaled(_, sig, _) => format!("was killed by {sig}"),
            other => format!("changed state: {other:?}"),
        };
        writeln!(stderr(), "pipeline: {name} {how}").map_err(|e| format!("write stderr: {e}"))?;
    }
    Ok(())
}

/// Forks a child that gets `stdin` as fd 0 and `stdout` as fd 1 (when given)
/// and replaces itself with `argv`. Returns the child's pid.
fn stage(
    argv: &[&str],
    stdin: Option<&OwnedFd>,
    stdout: Option<&OwnedFd>,
) -> Result<Pid, Box<dyn Error>> {
    // Build the C strings before fork: the child only redirects and execs.
    let args = argv
        .iter()
        .map(|a| CString::new(*a))
        .collect::<Result<Vec<_>, _>>()?;
    // SAFETY: fork() copies only the calling thread; this program has one
    // thread, so the child inherits no lock held by a thread it lacks.
    match unsafe { fork() }.map_err(|e| format!("fork for {}: {e}", argv[0]))? {
        ForkResult::Parent { child } => Ok(child),
        ForkResult::Child => {
            let redirected = stdin
                .map_or(Ok(()), dup2_stdin)
                .and_then(|()| stdout.map_or(Ok(()), dup2_stdout));
            let err = match redirected {
                Ok(()) => match execvp(&args[0], &args) {
                    Err(e) => format!("execvp: {e}"),
                },
                Err(e) => format!("dup2: {e}"),
            };
            // dup2 or exec failed. Exit, never return: no parent code in a child.
            let _ = writeln!(stderr(), "pipeline: {}: {err}", argv[0]);
            std::process::exit(127); // as a shell does
        }
    }
}
