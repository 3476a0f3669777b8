//! Step 9: processes of different users meet at a FIFO when its mode lets them. The tour
//! (as root) makes a FIFO, mode 0600, in a directory others may pass through but not list
//! (0711), so the FIFO's own mode decides. A writer that has become uid 65534 (nobody) is
//! refused at 0600 (EACCES) and let in at 0622, and what it writes reaches the tour. Starting
//! a process as another user needs root: an ordinary user's tour says so and judges nothing.

use std::fs::{self, OpenOptions};
use std::io::{self, PipeWriter, Read, Write};
use std::os::fd::AsFd;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::Path;
use std::time::Duration;

use fifo_demo::FifoDir;
use nix::errno::Errno;
use nix::fcntl::OFlag;
use nix::unistd::{Gid, Uid, getuid, setgid, setgroups, setuid};
use plumbing::child;
use plumbing::tour::heading;
use plumbing::verdict::{self, Verdict, judge};

/// The other user: nobody.
const NOBODY: u32 = 65534;
/// A writer is done at once: its open() finds the tour's read end there, or is refused.
const WRITER_LIMIT: Duration = Duration::from_secs(10);

pub fn run() -> plumbing::Result {
    heading(9, "Another user at the FIFO: its mode decides");
    if !Uid::effective().is_root() {
        println!("   not shown: it needs a process of a second user, and only root can");
        println!("   start one (this tour runs as uid {})", Uid::effective());
        return Ok(());
    }
    let dir = FifoDir::create()?; // removed, with its FIFO, when the step ends
    set_mode(dir.path(), 0o711)?;
    let fifo = dir.mkfifo("shared_pipe")?;
    println!("   a new FIFO, mode 0600, in a directory others may pass through (0711)");
    // Our read end, opened first: a writer's open() then returns at once.
    let mut reader = OpenOptions::new()
        .read(true)
        .custom_flags(OFlag::O_NONBLOCK.bits())
        .open(&fifo)
        .map_err(|e| format!("open O_RDONLY|O_NONBLOCK {}: {e}", fifo.display()))?;
    let at_0600 = writer_as_nobody(&fifo, &reader, "0600")?;
    if let Attempt::Unreachable(errno) = at_0600 {
        println!("   not shown: uid {NOBODY} cannot reach the FIFO: stat fails with {errno:?};");
        println!("   a directory on its path is closed to others (set TMPDIR elsewhere)");
        return Ok(());
    }
    set_mode(&fifo, 0o622)?;
    println!("   chmod 0622: others may write now");
    let at_0622 = writer_as_nobody(&fifo, &reader, "0622")?;
    let mut buf = [0u8; 256];
    let got = match reader.read(&mut buf) {
        Ok(n) => String::from_utf8_lossy(&buf[..n]).into_owned(),
        Err(e) if e.kind() == io::ErrorKind::WouldBlock => String::new(),
        Err(e) => return Err(format!("read {}: {e}", fifo.display()).into()),
    };
    println!("   and we read what it wrote: {got:?}");
    let (v, because) = users_claim(at_0600, at_0622, &got);
    verdict::record("processes of different users meet at a FIFO", v, because);
    Ok(())
}

fn set_mode(path: &Path, mode: u32) -> plumbing::Result {
    fs::set_permissions(path, fs::Permissions::from_mode(mode))
        .map_err(|e| format!("chmod {mode:04o} {}: {e}", path.display()).into())
}

/// What a writer of another user met.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Attempt {
    /// stat() of the FIFO failed: it cannot even reach the name.
    Unreachable(Errno),
    /// open(O_WRONLY) failed.
    Refused(Errno),
    /// open(O_WRONLY) returned, and it wrote its line.
    Opened,
}

/// Forks a writer that becomes uid and gid 65534 with no supplementary group, then opens the
/// FIFO for writing and writes one line. It tells us what it met through a pipe of its own.
fn writer_as_nobody(fifo: &Path, reader: &fs::File, mode: &str) -> plumbing::Result<Attempt> {
    let (mut told, tell) = io::pipe().map_err(|e| format!("pipe: {e}"))?;
    // The writer must not hold our read end: it closes its copy first.
    let mut writer =
        child::fork_closing(&[reader.as_fd(), told.as_fd()], || as_nobody(fifo, tell))?;
    writer.wait_ok(WRITER_LIMIT)?;
    let mut answer = String::new();
    told.read_to_string(&mut answer)
        .map_err(|e| format!("read from writer {}: {e}", writer.pid()))?;
    let attempt = decode(&answer).ok_or(format!("writer {} said {answer:?}", writer.pid()))?;
    let outcome = match attempt {
        Attempt::Opened => "returns".to_string(),
        Attempt::Refused(errno) => format!("fails: {errno:?}"),
        Attempt::Unreachable(_) => "is not reached".to_string(),
    };
    println!(
        "   at mode {mode}, writer {} (uid {NOBODY}): open(O_WRONLY) {outcome}",
        writer.pid()
    );
    Ok(attempt)
}

/// In the forked writer: drop root for nobody (groups first: setuid ends the right to change
/// them), then try the FIFO, and tell the tour what happened on `tell`.
fn as_nobody(fifo: &Path, mut tell: PipeWriter) -> plumbing::Result {
    setgroups(&[]).map_err(|e| format!("setgroups: {e}"))?;
    setgid(Gid::from_raw(NOBODY)).map_err(|e| format!("setgid {NOBODY}: {e}"))?;
    setuid(Uid::from_raw(NOBODY)).map_err(|e| format!("setuid {NOBODY}: {e}"))?;
    let errno = |e: io::Error| e.raw_os_error().unwrap_or(0);
    let answer = match fs::metadata(fifo) {
        Err(e) => format!("unreachable {}", errno(e)),
        Ok(_) => match OpenOptions::new().write(true).open(fifo) {
            Err(e) => format!("refused {}", errno(e)),
            Ok(mut end) => {
                end.write_all(format!("hello from uid {}\n", getuid()).as_bytes())
                    .map_err(|e| format!("write {}: {e}", fifo.display()))?;
                "opened".to_string()
            }
        },
    };
    tell.write_all(answer.as_bytes())
        .map_err(|e| format!("tell the tour: {e}").into())
}

/// The writer's answer ("refused 13") as an [`Attempt`].
fn decode(answer: &str) -> Option<Attempt> {
    let (word, errno) = answer.split_once(' ').unwrap_or((answer, "0"));
    let errno = Errno::from_raw(errno.parse().ok()?);
    match word {
        "unreachable" => Some(Attempt::Unreachable(errno)),
        "refused" => Some(Attempt::Refused(errno)),
        "opened" => Some(Attempt::Opened),
        _ => None,
    }
}

/// How an attempt ended, for the claim's line.
fn said(attempt: Attempt) -> String {
    match attempt {
        Attempt::Opened => "returned".to_string(),
        Attempt::Refused(errno) | Attempt::Unreachable(errno) => format!("failed with {errno:?}"),
    }
}

/// The lecture: processes of different users meet at a FIFO's name. It holds when another
/// user's writer was let in once the mode allowed it (0622) and its line arrived (`got`); the
/// mode deciding shows in its refusal at 0600 (EACCES), and the claim is qualified when it
/// was let in there too.
pub fn users_claim(at_0600: Attempt, at_0622: Attempt, got: &str) -> (Verdict, String) {
    let arrived = got == format!("hello from uid {NOBODY}\n");
    let because = format!(
        "uid {NOBODY}'s open(O_WRONLY) {} at mode 0600, {} at 0622, and its line {}",
        said(at_0600),
        said(at_0622),
        if arrived { "arrived" } else { "did not arrive" }
    );
    let holds = at_0622 == Attempt::Opened && arrived;
    let refused = at_0600 == Attempt::Refused(Errno::EACCES);
    (judge(holds, !refused), because)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refused_at_0600_and_let_in_at_0622_confirm_it() {
        let line = "hello from uid 65534\n";
        let refused = Attempt::Refused(Errno::EACCES);
        let (v, because) = users_claim(refused, Attempt::Opened, line);
        assert_eq!(v, Verdict::Confirmed);
        assert_eq!(
            because,
            "uid 65534's open(O_WRONLY) failed with EACCES at mode 0600, returned at 0622, \
             and its line arrived"
        );
        // Let in at 0600 too: the mode did not decide.
        assert_eq!(
            users_claim(Attempt::Opened, Attempt::Opened, line).0,
            Verdict::Qualified
        );
        assert_eq!(users_claim(refused, refused, "").0, Verdict::Refuted);
        assert_eq!(
            users_claim(refused, Attempt::Opened, "hello from uid 0\n").0,
            Verdict::Refuted
        );
    }

    #[test]
    fn the_writers_answer_is_read_back() {
        assert_eq!(decode("opened"), Some(Attempt::Opened));
        assert_eq!(decode("refused 13"), Some(Attempt::Refused(Errno::EACCES)));
        assert_eq!(
            decode("unreachable 13"),
            Some(Attempt::Unreachable(Errno::EACCES))
        );
        assert_eq!(decode("what"), None);
    }
}
