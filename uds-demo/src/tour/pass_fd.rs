//! Step 4: passing an open file descriptor (SCM_RIGHTS). The tour opens a file and unlinks it,
//! so only its open descriptor remains, then passes that descriptor to `uds-demo fd-recv`, which
//! reads the file through it: no path, and no permission to open the file, needed.
//!
//! Both halves of SCM_RIGHTS are here, in the order they run: [`send_fd`] (sendmsg), which the
//! `fd-send` role uses too, and [`receive_fd`] (recvmsg), which the `fd-recv` role runs.

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::os::fd::{AsRawFd, RawFd};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::os::unix::net::UnixStream;
use std::path::Path;

use plumbing::Result;
use plumbing::fdpass::{self, Received};
use plumbing::tour::heading;
use uds_demo::server_child::ServerChild;
use uds_demo::timeouts::{REPLY_TIMEOUT, set_timeouts};
use uds_demo::{FrameKind, read_frame};

pub fn run(dir: &Path) -> Result {
    heading(4, "Passing an open file descriptor (SCM_RIGHTS)");
    let reading_path = dir.join("reading.txt");
    let _writer = write_reading(&reading_path)?;
    let file = File::open(&reading_path).map_err(|e| format!("open reading.txt: {e}"))?;
    // The name is gone; only our open descriptor remains.
    fs::remove_file(&reading_path).map_err(|e| format!("unlink reading.txt: {e}"))?;
    println!(
        "   opened DIR/reading.txt and unlinked it: exists now: {}",
        reading_path.exists()
    );

    let sock = dir.join("fd.sock");
    let mut receiver = ServerChild::spawn(&["fd-recv", "--unix", &sock.to_string_lossy()])?;
    receiver.wait_for_line_starting("listening on unix:")?;
    let stream =
        UnixStream::connect(&sock).map_err(|e| format!("connect {}: {e}", sock.display()))?;
    let text = send_fd(stream, &file)?;
    let said = receiver.wait_for_line_starting("received fd")?;
    println!("   `uds-demo fd-recv` (pid {}) said:", receiver.pid());
    println!("   {said}");
    println!(
        "   it replied with the {} bytes it read through the fd: {:?}",
        text.len(),
        String::from_utf8_lossy(&text)
    );
    Ok(())
}

/// Creates the file with the lecture's reading in it, mode 0600, and returns it open for
/// writing.
fn write_reading(path: &Path) -> Result<File> {
    let mut writer = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(|e| format!("create {}: {e}", path.display()))?;
    // The umask may have cleared bits of 0600 (a umask of 0777 leaves 0000, which only root
    // could open again); fchmod is not subject to it.
    writer
        .set_permissions(fs::Permissions::from_mode(0o600))
        .map_err(|e| format!("fchmod reading.txt: {e}"))?;
    writer
        .write_all(b"temperature: 42\n")
        .map_err(|e| format!("write reading.txt: {e}"))?;
    Ok(writer)
}

/// Passes `file`'s open descriptor over `stream` (SCM_RIGHTS) and returns what the receiver
/// read through it. The kernel duplicates the descriptor into the receiver's fd table: the
/// receiver needs no path and no permission to open the file itself.
pub fn send_fd(mut stream: UnixStream, file: &File) -> Result<Vec<u8>> {
    set_timeouts(&stream, REPLY_TIMEOUT, None)?;
    // sendmsg(2): one byte "F" of ordinary data (ancillary data must ride along with at least
    // one) and, as SCM_RIGHTS control data, the descriptor of `file`.
    fdpass::send_fd(&stream, file, b"F").map_err(|e| format!("sendmsg SCM_RIGHTS: {e}"))?;
    match read_frame(&mut stream, Some(REPLY_TIMEOUT), Some(REPLY_TIMEOUT)) {
        Ok(Some(frame)) if frame.kind == FrameKind::Error => Err(format!(
            "the receiver refused it: {}",
            String::from_utf8_lossy(&frame.payload)
        )
        .into()),
        Ok(Some(frame)) => Ok(frame.payload),
        Ok(None) => Err("the receiver closed without replying".into()),
        Err(e) => Err(format!("reply from the receiver: {e}").into()),
    }
}

/// recvmsg(2) of one byte and the descriptor riding along with it: the fd number it got here
/// and the open file.
pub fn receive_fd(stream: &UnixStream) -> Result<(RawFd, File)> {
    // recvmsg(2) with MSG_CMSG_CLOEXEC: the byte "F" arrives in `byte`, and the kernel installs
    // a new descriptor for the same open file in our table (exactly one, or it is refused).
    let mut byte = [0u8; 1];
    match fdpass::receive_fd(stream, &mut byte)? {
        Received::Fd { fd, .. } => Ok((fd.as_raw_fd(), File::from(fd))),
        Received::End => Err("the sender closed without passing a file descriptor".into()),
    }
}
