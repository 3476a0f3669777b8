//! Step 6 of the pipe tour: where the bytes live, and who can reach them. A write() copies the
//! bytes into the kernel's pipe buffer: we overwrite ours at once, and a `cat` started only
//! afterwards still reads them. The pipe has no name in any directory, yet a process of the
//! same user that inherited nothing can still open it through /proc/PID/fd/N.

use std::fs;
use std::hash::{BuildHasher, RandomState};
use std::io::{self, Read, Write};
use std::os::fd::AsRawFd;
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::time::Duration;

use nix::sys::wait::WaitStatus;
use nix::unistd::{Uid, getpid};
use plumbing::Result;
use plumbing::child::Child;
use plumbing::tour::heading;
use plumbing::verdict::{self, Verdict, judge};

/// `cat` and `head` are done as soon as they have read a line; far longer means stuck.
const CHILD_LIMIT: Duration = Duration::from_secs(10);
/// The user `nobody`: another user than the tour's, when the tour runs as root.
const NOBODY: u32 = 65534;

/// Step 6: a copy in the kernel, and no name.
pub fn run() -> Result {
    heading(6, "A copy in the kernel, and no name");
    copied()?;
    unnamed()
}

/// A reading no other run prints: a fake that prints a fixed line cannot match it.
fn fresh_reading() -> String {
    let value = RandomState::new().hash_one(getpid().as_raw());
    format!("sensor_reading: {value:#018x}")
}

/// 6a: write, overwrite our buffer, then start the reader.
fn copied() -> Result {
    let sent = fresh_reading();
    let (reader, mut writer) = io::pipe().map_err(|e| format!("pipe: {e}"))?;
    let mut buffer = sent.clone().into_bytes();
    writer
        .write_all(&buffer)
        .map_err(|e| format!("write: {e}"))?;
    buffer.fill(b'#'); // Our copy is gone: only the kernel's is left.
    drop(writer); // cat will see end-of-file after the reading.
    let cat = Command::new("cat")
        .stdin(reader)
        .stdout(Stdio::piped())
        .spawn()
        .map_err(|e| format!("spawn cat: {e}"))?;
    let cat_pid = cat.id();
    let output = cat
        .wait_with_output()
        .map_err(|e| format!("wait for cat: {e}"))?;
    let got = String::from_utf8_lossy(&output.stdout).into_owned();
    println!("   6a. wrote {sent:?}");
    println!("       into a pipe, then overwrote our buffer with '#'; cat {cat_pid}, started");
    println!("       only then, read {got:?}");
    let (v, because) = copy_claim(&sent, &got, &buffer);
    verdict::record("the data is copied through the kernel", v, because);
    Ok(())
}

/// The lecture: a pipe copies the data through the kernel; the writer never touches the
/// reader's memory. It holds when the reader got the `sent` bytes although the writer's
/// `buffer` no longer held them when the reader started.
pub fn copy_claim(sent: &str, got: &str, buffer: &[u8]) -> (Verdict, String) {
    let ours_gone = !buffer
        .windows(sent.len().max(1))
        .any(|w| w == sent.as_bytes());
    let because = match (got == sent, ours_gone) {
        (true, true) => format!("cat read {got:?} after we overwrote ours"),
        (true, false) => format!("cat read {got:?}, but our buffer still held it"),
        (false, _) => format!("cat read {got:?}, not {sent:?}"),
    };
    (judge(got == sent && ours_gone, false), because)
}

/// 6b: the pipe's only "name", and a process that reaches it without inheriting it.
fn unnamed() -> Result {
    let sent = fresh_reading();
    let (reader, mut writer) = io::pipe().map_err(|e| format!("pipe: {e}"))?;
    writeln!(writer, "{sent}").map_err(|e| format!("write: {e}"))?;
    let fd = reader.as_raw_fd();
    let link = fs::read_link(format!("/proc/self/fd/{fd}"))
        .map_err(|e| format!("readlink /proc/self/fd/{fd}: {e}"))?;
    let link = link.to_string_lossy().into_owned();
    let path = format!("/proc/{}/fd/{fd}", getpid());
    println!("   6b. wrote {sent:?}");
    println!("       into a new pipe with no name: fd {fd} links to {link:?}");
    // Our pipes are close-on-exec: `head` inherits neither end. It opens the path.
    let mut head = Command::new("head");
    head.args(["-n", "1", &path]);
    let (ours, got, _) = run_bounded(&mut head)?;
    println!("       head {ours}, which inherited neither end, opened {path}");
    println!("       and read {:?}", got.trim_end());
    let same_user = got.trim_end() == sent;
    let other_user = match Uid::effective().is_root() {
        true => {
            // The first head took the line: put it in again for the second.
            writeln!(writer, "{sent}").map_err(|e| format!("write: {e}"))?;
            Some(another_user_refused(&path, &sent)?)
        }
        false => {
            println!("       (another user's process not tried: starting one needs root)");
            None
        }
    };
    println!("       (as documented: SCM_RIGHTS over a Unix socket hands a pipe's fd to");
    println!("       any process; uds-demo shows it)");
    drop(writer);
    let (v, because) = anonymous_claim(&link, same_user, other_user);
    verdict::record("only related processes share an anonymous pipe", v, because);
    Ok(())
}

/// As root: `head` as user nobody tries the same path. True when it was refused.
fn another_user_refused(path: &str, sent: &str) -> Result<bool> {
    let mut head = Command::new("head");
    head.args(["-n", "1", path]).uid(NOBODY).gid(NOBODY);
    let (pid, got, err) = run_bounded(&mut head)?;
    let refused = got.trim_end() != sent;
    match refused {
        true => println!(
            "       as uid {NOBODY}, head {pid} was refused: {:?}",
            last_words(&err)
        ),
        false => println!("       as uid {NOBODY}, head {pid} read it too"),
    }
    Ok(refused)
}

/// What an error message ends with ("Permission denied").
fn last_words(stderr: &str) -> &str {
    stderr.trim_end().rsplit(": ").next().unwrap_or("")
}

/// Runs `command` (stdin from /dev/null) for at most [`CHILD_LIMIT`]; returns its pid, its
/// stdout and its stderr. It prints a line at most, far less than a pipe holds.
fn run_bounded(command: &mut Command) -> Result<(i32, String, String)> {
    let (mut out_r, out_w) = io::pipe().map_err(|e| format!("pipe: {e}"))?;
    let (mut err_r, err_w) = io::pipe().map_err(|e| format!("pipe: {e}"))?;
    command.stdin(Stdio::null()).stdout(out_w).stderr(err_w);
    let mut child = Child::spawn(command)?;
    // Our copies of the write ends live in `command`: replace them, so the reads below end.
    command.stdout(Stdio::null()).stderr(Stdio::null());
    let status = child.wait(CHILD_LIMIT)?;
    let (mut out, mut err) = (String::new(), String::new());
    out_r
        .read_to_string(&mut out)
        .map_err(|e| format!("read: {e}"))?;
    err_r
        .read_to_string(&mut err)
        .map_err(|e| format!("read: {e}"))?;
    if matches!(status, WaitStatus::Signaled(..)) {
        return Err(format!("child {}: killed: {status:?}", child.pid()).into());
    }
    Ok((child.pid().as_raw(), out, err))
}

/// The lecture: a pipe is anonymous, shared only by related processes (those that inherit an
/// end). No name holds when its fd links to "pipe:[INODE]", no path; `same_user`: a process
/// that inherited nothing read it through /proc (qualifies it); `other_user`: whether another
/// user's process was refused (`None`: not tried).
pub fn anonymous_claim(link: &str, same_user: bool, other_user: Option<bool>) -> (Verdict, String) {
    let no_name = link.starts_with("pipe:[");
    let mut because = match same_user {
        true => format!("no name ({link}), yet head read it via /proc"),
        false => format!("no name ({link}); head could not read it via /proc"),
    };
    because += match other_user {
        Some(true) => "; another user's head was refused",
        Some(false) => "; another user's head read it too",
        None => "; another user not tried",
    };
    (
        judge(no_name, same_user || other_user == Some(false)),
        because,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_reading_read_after_our_buffer_was_overwritten_confirms_the_copy() {
        let sent = "sensor_reading: 0x00000000000000ff";
        let (v, because) = copy_claim(sent, sent, &[b'#'; 34]);
        assert_eq!(v, Verdict::Confirmed);
        assert_eq!(
            because,
            format!("cat read {sent:?} after we overwrote ours")
        );
        assert_eq!(copy_claim(sent, "x", &[b'#'; 34]).0, Verdict::Refuted);
        assert_eq!(copy_claim(sent, sent, sent.as_bytes()).0, Verdict::Refuted);
    }

    #[test]
    fn a_pipe_reached_through_proc_qualifies_anonymous() {
        let (v, because) = anonymous_claim("pipe:[4242]", true, Some(true));
        assert_eq!(v, Verdict::Qualified);
        assert_eq!(
            because,
            "no name (pipe:[4242]), yet head read it via /proc; \
             another user's head was refused"
        );
        assert_eq!(
            anonymous_claim("pipe:[1]", false, None).0,
            Verdict::Confirmed
        );
        assert_eq!(
            anonymous_claim("pipe:[1]", false, Some(false)).0,
            Verdict::Qualified
        );
        assert_eq!(
            anonymous_claim("/tmp/fifo", false, None).0,
            Verdict::Refuted
        );
    }
}
