//! Step 7 of the tour (`shm-demo memfd`): how a compositor gets its frames (Wayland's
//! wl_shm). A client draws into a memfd, seals its size, and passes the descriptor over a Unix
//! socket; the compositor maps it. The two are separate programs (this one started again as
//! `memfd-send` and `memfd-receive`, see `src/roles/`), not a parent and its fork.
//! Nothing has a name but the socket, and that only until the connection is made: killed at
//! any point, they leave nothing to clean up.

use std::fs::{self, File};
use std::io::Read;
use std::os::fd::{AsFd, OwnedFd};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use nix::sys::signal::Signal;
use nix::sys::wait::WaitStatus;
use nix::unistd::pipe;
use plumbing::child::{self, Child};
use plumbing::names::PrivateDir;
use plumbing::tour::heading;
use plumbing::verdict::{self, Verdict, judge};
use plumbing::{Result, stop};

use crate::roles::SOCKET_DIR_PREFIX;

/// The longest the tour waits for a role's next line.
const LIMIT: Duration = Duration::from_secs(30);

/// Step 7: the two roles started as separate programs, their lines relayed, the sender killed.
pub fn run() -> Result {
    stop::check()?;
    heading(
        7,
        "memfd handoff, how a compositor gets its frames (Wayland's wl_shm):",
    );
    println!("   a client passes a sealed memfd over a Unix socket to another program");
    PrivateDir::sweep_stale(SOCKET_DIR_PREFIX); // left by a tour that was SIGKILLed
    let dir = PrivateDir::create(SOCKET_DIR_PREFIX)?;
    let socket = dir.path().join("sock");
    let shown = socket.to_string_lossy().into_owned();
    // Both roles write their stdout and stderr into one pipe: each line is one write(), and
    // each side prints before it tells the other, so the lines arrive in the order they
    // happened.
    let (read_end, write_end) = pipe().map_err(|e| format!("pipe: {e}"))?;
    let mut output = Lines::new(read_end);
    let tour = std::process::id().to_string();
    let receiver_args = ["memfd-receive", "--socket", &shown, "--parent-pid", &tour];
    let mut receiver = spawn_role(&receiver_args, &write_end)?;
    relay_until(&mut output, "listening on a Unix socket")?;
    let path_line = output.next_line()?;
    relay(&path_line.ok_or("the receiver ended before printing its socket's path")?)?;
    let sender_args = ["memfd-send", &shown, "--hold", "--parent-pid", &tour];
    let mut sender = spawn_role(&sender_args, &write_end)?;
    drop(write_end); // the pipe ends when both roles have exited
    relay_until(&mut output, "sender: holding the connection")?;
    println!(
        "   kill -9 the sender (pid {}) while the receiver maps its frames:",
        sender.pid()
    );
    sender.signal(Signal::SIGKILL)?;
    let killed = sender.wait(LIMIT)?;
    while let Some(line) = output.next_line()? {
        relay(&line)?;
    }
    receiver.wait_ok(LIMIT)?;
    let in_dev_shm = fs::read_dir("/dev/shm")
        .map_err(|e| format!("read /dev/shm: {e}"))?
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().contains("frame"))
        .count();
    let how = match killed {
        WaitStatus::Signaled(_, signal, _) => format!("died of {signal}"),
        other => child::describe(other),
    };
    println!("   the sender {how}; the receiver exited with status 0");
    let socket_file = match socket.symlink_metadata() {
        Ok(_) => "STILL THERE",
        Err(_) => "gone",
    };
    println!("   left behind: {in_dev_shm} \"frame\" entries in /dev/shm, the socket file");
    println!("   {socket_file}: no name, so nothing to clean up");
    // The receiver tried to shrink the frame in its own process: its line says how it went.
    let after = |needle: &str| {
        let line = output.seen.iter().find(|l| l.contains(needle))?;
        Some(line[line.find(needle)? + needle.len()..].to_string())
    };
    let seals = after("seals (F_GET_SEALS): ");
    let seals = seals.as_deref().and_then(|s| s.split(';').next());
    let (v, because) = sealed_claim(seals, after("ftruncate(fd, 0) fails: ").as_deref());
    verdict::record("a memfd sealed against shrinking cannot shrink", v, because);
    Ok(())
}

/// The lecture: a sealed memfd cannot be shrunk under its receiver. `seals` is what the
/// receiver's F_GET_SEALS showed, `ftruncate` the error its ftruncate(fd, 0) printed (None
/// when it did not fail). It holds when the seals had SHRINK and ftruncate failed with EPERM.
pub fn sealed_claim(seals: Option<&str>, ftruncate: Option<&str>) -> (Verdict, String) {
    let seals = seals.unwrap_or("unknown");
    let errno = ftruncate.map(|e| e.split(':').next().unwrap_or(e));
    let shrink_sealed = seals.split('|').any(|s| s == "SHRINK");
    let because = match errno {
        Some(errno) => format!("seals {seals}; the receiver's ftruncate(fd, 0) failed: {errno}"),
        None => format!("seals {seals}; the receiver's ftruncate(fd, 0) did not fail"),
    };
    (
        judge(shrink_sealed && errno == Some("EPERM"), false),
        because,
    )
}

/// Starts `shm-demo ARGS` with stdout and stderr into `pipe`.
fn spawn_role(args: &[&str], pipe: &OwnedFd) -> Result<Child> {
    let mut command: Command = child::this_program()?;
    let stdout = pipe.try_clone().map_err(|e| format!("dup: {e}"))?;
    let stderr = pipe.try_clone().map_err(|e| format!("dup: {e}"))?;
    command
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::from(stdout))
        .stderr(Stdio::from(stderr));
    Child::spawn(&mut command).map_err(|e| format!("shm-demo {}: {e}", args[0]).into())
}

/// Prints the roles' lines until one contains `needle` (printed too).
fn relay_until(output: &mut Lines, needle: &str) -> Result {
    loop {
        let Some(line) = output.next_line()? else {
            return Err(format!("the roles ended before saying {needle:?}").into());
        };
        relay(&line)?;
        if line.contains(needle) {
            return Ok(());
        }
    }
}

/// A role's line: printed, or, if it is a role's error ("shm-demo: ..."), the step's error.
fn relay(line: &str) -> Result {
    match line.strip_prefix("shm-demo: ") {
        Some(error) => Err(format!("a role failed: {error}").into()),
        None => {
            println!("{line}");
            Ok(())
        }
    }
}

/// Lines from a pipe, each waited for at most [`LIMIT`], noticing a stop signal.
// plumbing-wanted: Child::hear for a pipe that several children share.
struct Lines {
    pipe: File,
    unread: Vec<u8>,
    /// Every line returned so far, for the claim the step checks at its end.
    seen: Vec<String>,
}

impl Lines {
    fn new(read_end: OwnedFd) -> Lines {
        Lines {
            pipe: File::from(read_end),
            unread: Vec::new(),
            seen: Vec::new(),
        }
    }

    /// The next line, or `None` when every writer has closed the pipe.
    fn next_line(&mut self) -> Result<Option<String>> {
        let deadline = Instant::now() + LIMIT;
        loop {
            if let Some(at) = self.unread.iter().position(|&b| b == b'\n') {
                let line: Vec<u8> = self.unread.drain(..=at).collect();
                let line = String::from_utf8_lossy(&line[..at]).into_owned();
                self.seen.push(line.clone());
                return Ok(Some(line));
            }
            stop::check()?;
            if Instant::now() > deadline {
                return Err(format!("the roles said nothing for {LIMIT:?}: stuck").into());
            }
            let mut fds = [PollFd::new(self.pipe.as_fd(), PollFlags::POLLIN)];
            match poll(&mut fds, PollTimeout::from(100u8)) {
                Ok(0) | Err(Errno::EINTR) => continue,
                Ok(_) => {}
                Err(e) => return Err(format!("poll the roles' output: {e}").into()),
            }
            let mut buf = [0; 4096];
            match self.pipe.read(&mut buf) {
                Ok(0) if self.unread.is_empty() => return Ok(None),
                Ok(0) => self.unread.push(b'\n'), // a last line without its newline
                Ok(n) => self.unread.extend_from_slice(&buf[..n]),
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(format!("read the roles' output: {e}").into()),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn eperm_from_ftruncate_on_a_shrink_sealed_memfd_confirms_it() {
        let seals = Some("SEAL|SHRINK|GROW");
        let eperm = Some("EPERM: Operation not permitted");
        let (v, because) = sealed_claim(seals, eperm);
        assert_eq!(v, Verdict::Confirmed);
        assert_eq!(
            because,
            "seals SEAL|SHRINK|GROW; the receiver's ftruncate(fd, 0) failed: EPERM"
        );
        let (v, because) = sealed_claim(seals, None);
        assert_eq!(v, Verdict::Refuted);
        assert!(because.ends_with("did not fail"), "{because}");
        assert_eq!(sealed_claim(Some("SEAL|GROW"), eperm).0, Verdict::Refuted);
        assert_eq!(sealed_claim(seals, Some("EINVAL: x")).0, Verdict::Refuted);
    }
}
