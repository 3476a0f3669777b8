//! The tour's steps, one file each, in the order `main.rs` runs them; and the few lines that
//! several of them share.

// 1. fork: copies, unless MAP_SHARED
pub mod isolation;
// 2. a frame: pipe 2 copies, shm none
pub mod zero_copy;
// 3. shm_open + ftruncate + mmap, mode 0600
pub mod create;
// 4. another process writes; we see it
pub mod written;
// 5. the writer exited; another reads it
pub mod outlives;
// 6. the header refuses another program's object
pub mod foreign;
// 7. a sealed memfd passed over a socket: no name
pub mod memfd;
// 8. two processes, one counter
pub mod counter;
// 9. and 10. a ring, spinning, then on a futex
pub mod ring;
// 11. the peer SIGKILLed while we wait
pub mod peer_death;
// 12. shm_unlink: the name is gone
pub mod unlinked;

use std::fs;
use std::io;
use std::os::unix::fs::PermissionsExt;
use std::time::Duration;

use plumbing::Result;
use plumbing::child::{self, Child};
use plumbing::stop::{self, Owns};
use shm_demo::tour_object::remove_stale_objects;
use shm_demo::{Coordination, End, blocking_duplex, spin_duplex};

/// The longest a role may run: each does one `shm_open` and prints one line.
const ROLE_LIMIT: Duration = Duration::from_secs(30);

/// How the tour refers to its object after step 3 prints its name once, as a shell would.
pub const OBJ: &str = "$OBJ";

/// A step run alone: Ctrl-C ends it, and what `owns` says is removed on the way out.
pub fn alone(owns: Owns, step: impl FnOnce() -> Result) -> Result {
    stop::catch(owns)?;
    step()
}

/// The tour's first line, after which it removes what a killed tour left.
pub fn begin() -> Result {
    stop::catch(Owns::Objects)?;
    let pid = std::process::id();
    println!("shm-demo (pid {pid}): POSIX shared memory, the lecture's \"Shared Memory\"");
    sweep_stale(); // left by a tour that was SIGKILLed
    Ok(())
}

/// Removes the objects of tours killed by SIGKILL (their `Drop`s never ran), and says so.
pub fn sweep_stale() {
    for (file, pid) in remove_stale_objects() {
        println!("   (removed /dev/shm/{file}, left by a killed tour:");
        println!("   its pid {pid} is gone)");
    }
}

/// A role's line as the tour quotes it: without the program's name in front, and with the
/// object's name as [`OBJ`], so that it fits the screen.
pub fn quoted(line: &str, name: &str) -> String {
    let line = line.strip_prefix("shm-demo: ").unwrap_or(line);
    line.replace(name, OBJ)
}

/// Runs `shm-demo ARGS` as a separate process and returns whether it succeeded and its first
/// line of output (a role prints to stdout when it succeeds, to stderr when it fails).
pub fn run_role(args: &[&str]) -> Result<(bool, String)> {
    let (ok, text) = child::run_this(args, ROLE_LIMIT)?;
    // A Ctrl-C meant for us may have ended it: report the interruption, not its failure.
    stop::check()?;
    Ok((ok, text.lines().next().unwrap_or("").to_owned()))
}

/// Size and mode of /dev/shm/<name>, as `ls -l` would show them.
pub fn dev_shm(name: &str) -> Result<(u64, u32), String> {
    let path = format!("/dev/shm{name}");
    let meta = fs::metadata(&path).map_err(|e| format!("stat {path}: {e}"))?;
    Ok((meta.len(), meta.permissions().mode() & 0o777))
}

/// How a ring waits, in the tour's words.
pub fn label(mode: Coordination) -> &'static str {
    match mode {
        Coordination::Spin => "spinning",
        Coordination::Futex => "futex",
    }
}

/// Two connected ring ends whose waiting side spins or sleeps on a futex, as `mode` says.
pub fn duplex(mode: Coordination, size: usize) -> io::Result<(End, End)> {
    match mode {
        Coordination::Spin => spin_duplex(size),
        Coordination::Futex => blocking_duplex(size),
    }
}

/// Forks a child that gets `.1` of the pair (and closes its copy of `.0`); the parent keeps
/// `.0` and closes its copy of `.1`, so each liveness pipe is held only by the side it watches.
/// Bind the result as `let (end, child)`: the child is then dropped (killed and reaped) before
/// our end, so a run that stops early never shows it its parent's end closing first.
pub fn fork_peer(pair: (End, End), body: impl FnOnce(End) -> Result) -> Result<(End, Child)> {
    let (mut ours, mut theirs) = (Some(pair.0), Some(pair.1));
    let child = child::fork(|| {
        drop(ours.take());
        body(theirs.take().ok_or("no end for the child")?)
    })?;
    drop(theirs);
    Ok((ours.ok_or("no end for the parent")?, child))
}
