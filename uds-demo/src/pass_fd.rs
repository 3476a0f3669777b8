//! Step 4: passing an open file descriptor (SCM_RIGHTS). The tour opens a file and unlinks it,
//! so only its open descriptor remains, then passes that descriptor to `uds-demo fd-recv`, which
//! reads the file through it: no path, and no permission to open the file, needed.
//!
//! The two roles live here too: `fd-recv` (receive one descriptor, read through it, reply with
//! what it read) and `fd-send` (open a file and pass its descriptor).

use std::fs::{self, File, OpenOptions};
use std::io::{IoSlice, IoSliceMut, Read, Write};
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::fs::{FileTypeExt, OpenOptionsExt, PermissionsExt};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};

use nix::sys::socket::{
    ControlMessage, ControlMessageOwned, MsgFlags, getsockopt, recvmsg, sendmsg, sockopt,
};
use plumbing::names::PrivateDir;
use plumbing::{Result, stop};
use uds_demo::{FrameKind, read_frame, write_frame};

use crate::echo_server::{self, REPLY_TIMEOUT, readable_within_100ms, set_timeouts};
use crate::server_child::ServerChild;
use crate::socket_file::connect_unix;
use crate::unix_echo::NAME_PREFIX;

pub fn run(dir: &Path) -> Result {
    println!("4. Passing an open file descriptor (SCM_RIGHTS)");
    let reading_path = dir.join("reading.txt");
    let mut writer = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&reading_path)
        .map_err(|e| format!("create {}: {e}", reading_path.display()))?;
    // The umask may have cleared bits of 0600 (a umask of 0777 leaves 0000, which only root
    // could open again); fchmod is not subject to it.
    writer
        .set_permissions(fs::Permissions::from_mode(0o600))
        .map_err(|e| format!("fchmod reading.txt: {e}"))?;
    writer
        .write_all(b"temperature: 42\n")
        .map_err(|e| format!("write reading.txt: {e}"))?;
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
        "   it replied with the {} bytes it read through the fd: {:?}\n",
        text.len(),
        String::from_utf8_lossy(&text)
    );
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// The `fd-send` role, and the sending side the tour uses.

/// `uds-demo fd-send --unix PATH FILE`: opens FILE and passes the descriptor to `fd-recv`.
pub fn fd_send(path: &Path, file: &Path) -> Result {
    let opened = File::open(file).map_err(|e| format!("open {}: {e}", file.display()))?;
    let text = send_fd(connect_unix(path)?, &opened)?;
    println!(
        "the receiver read {} bytes through the passed fd: {:?}",
        text.len(),
        String::from_utf8_lossy(&text)
    );
    Ok(())
}

/// Passes `file`'s open descriptor over `stream` (SCM_RIGHTS) and returns what the receiver
/// read through it. The kernel duplicates the descriptor into the receiver's fd table: the
/// receiver needs no path and no permission to open the file itself.
pub fn send_fd(mut stream: UnixStream, file: &File) -> Result<Vec<u8>> {
    set_timeouts(&stream, REPLY_TIMEOUT, None)?;
    let fds = [file.as_raw_fd()];
    // Ancillary data must ride along with at least one byte of ordinary data.
    sendmsg::<()>(
        stream.as_raw_fd(),
        &[IoSlice::new(b"F")],
        &[ControlMessage::ScmRights(&fds)],
        MsgFlags::empty(),
        None,
    )
    .map_err(|e| format!("sendmsg SCM_RIGHTS: {e}"))?;
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

// ---------------------------------------------------------------------------------------------
// The `fd-recv` role.

/// `uds-demo fd-recv [--unix PATH]`: listens (no path: `fd.sock` in a new private directory),
/// receives one descriptor, reads through it, replies with what it read, and exits.
pub fn fd_recv(path: Option<PathBuf>) -> Result {
    let mut _dir = None; // lives until we return, so it is removed on Ctrl-C too
    let path = match path {
        Some(path) => path,
        None => {
            let dir = PrivateDir::create(NAME_PREFIX)?;
            let path = dir.path().join("fd.sock");
            _dir = Some(dir);
            path
        }
    };
    let (listener, _file, _) = echo_server::bind_unix(&path)?;
    println!("listening on unix:{}", path.display());
    println!(
        "in another terminal: cargo run -p uds-demo -- fd-send --unix {} FILE",
        path.display()
    );
    let (mut stream, sender, fd, file) = accept_and_receive_fd(&listener)?;
    let text = match read_through(&file) {
        Ok(text) => text,
        Err(why) => {
            // Tell the sender why, then fail; it may already be gone, so ignore failure.
            let _ = write_frame(&mut stream, FrameKind::Error, why.to_string().as_bytes());
            return Err(why);
        }
    };
    println!("received fd {fd} from pid {sender} via SCM_RIGHTS");
    println!(
        "read {} bytes through it: {:?}",
        text.len(),
        String::from_utf8_lossy(&text)
    );
    write_frame(&mut stream, FrameKind::Message, &text).map_err(|e| format!("reply: {e}"))?;
    Ok(())
}

/// Accepts one client on `listener` (checking the stop flag while it waits), receives one file
/// descriptor from it (SCM_RIGHTS), and returns the stream, the sender's pid, the fd number it
/// got here and the open file.
fn accept_and_receive_fd(listener: &UnixListener) -> Result<(UnixStream, i32, RawFd, File)> {
    listener
        .set_nonblocking(true)
        .map_err(|e| format!("fcntl O_NONBLOCK: {e}"))?;
    let stream = loop {
        stop::check()?;
        if readable_within_100ms(listener.as_fd())? {
            match listener.accept() {
                Ok((stream, _)) => break stream,
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                Err(e) => return Err(format!("accept: {e}").into()),
            }
        }
    };
    set_timeouts(&stream, REPLY_TIMEOUT, None)?;
    let sender =
        getsockopt(&stream, sockopt::PeerCredentials).map_err(|e| format!("SO_PEERCRED: {e}"))?;
    let (fd, file) = receive_fd(&stream)?;
    Ok((stream, sender.pid(), fd, file))
}

/// recvmsg(2) of one byte and the descriptor riding along with it.
fn receive_fd(stream: &UnixStream) -> Result<(RawFd, File)> {
    let mut byte = [0u8; 1];
    let mut iov = [IoSliceMut::new(&mut byte)];
    let mut space = nix::cmsg_space!([RawFd; 1]);
    let msg = recvmsg::<()>(
        stream.as_raw_fd(),
        &mut iov,
        Some(&mut space),
        MsgFlags::MSG_CMSG_CLOEXEC,
    )
    .map_err(|e| format!("recvmsg: {e}"))?;
    let mut received = None;
    for cmsg in msg
        .cmsgs()
        .map_err(|e| format!("recvmsg control data: {e}"))?
    {
        if let ControlMessageOwned::ScmRights(fds) = cmsg {
            for fd in fds {
                // SAFETY: the kernel has just installed `fd` in our fd table for this message;
                // nobody else holds it, so taking ownership (and closing it on drop) is sound.
                let owned = unsafe { OwnedFd::from_raw_fd(fd) };
                received.get_or_insert((fd, owned));
            }
        }
    }
    let (fd, owned) = received.ok_or("recvmsg: the message carried no file descriptor")?;
    Ok((fd, File::from(owned)))
}

/// Reads at most 4 KiB through a received file. Only a regular file: a sender could pass a
/// terminal, a pipe or a socket, where the read would wait for its writer for ever.
fn read_through(file: &File) -> Result<Vec<u8>> {
    let meta = file
        .metadata()
        .map_err(|e| format!("fstat the received fd: {e}"))?;
    if !meta.is_file() {
        let kind = meta.file_type();
        let kind = if kind.is_fifo() {
            "a pipe"
        } else if kind.is_socket() {
            "a socket"
        } else if kind.is_char_device() {
            "a character device (a terminal?)"
        } else if kind.is_dir() {
            "a directory"
        } else {
            "a special file"
        };
        return Err(format!(
            "the received fd is {kind}, not a regular file; reading it could block for ever, so \
             fd-recv does not"
        )
        .into());
    }
    let mut text = Vec::new();
    file.take(4096)
        .read_to_end(&mut text)
        .map_err(|e| format!("read through the received fd: {e}"))?;
    Ok(text)
}
