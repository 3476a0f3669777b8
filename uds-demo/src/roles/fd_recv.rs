//! The `fd-recv` role, `uds-demo fd-recv [--unix PATH]`: listens (no path: `fd.sock` in a new
//! private directory), receives one open descriptor (step 4's receiving half, `receive_fd`),
//! reads through it, replies with what it read, and exits. It owns its socket file: a stop
//! signal ends it, the file is removed, and it exits 128 + the signal's number.

use std::fs::File;
use std::io::Read;
use std::os::fd::{AsFd, RawFd};
use std::os::unix::fs::FileTypeExt;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::PathBuf;

use nix::sys::socket::{getsockopt, sockopt};
use plumbing::names::PrivateDir;
use plumbing::stop::{self, Owns};
use plumbing::{Result, child};
use uds_demo::address::NAME_PREFIX;
use uds_demo::socket_file::bind_unix;
use uds_demo::timeouts::{REPLY_TIMEOUT, readable_within_100ms, set_timeouts};
use uds_demo::{FrameKind, write_frame};

use crate::tour::pass_fd::receive_fd;

/// A receiver the tour started (it passes its pid) dies with the tour.
pub fn run(path: Option<PathBuf>, parent_pid: Option<u32>) -> Result {
    child::die_with_tour(parent_pid)?;
    stop::catch(Owns::Objects)?;
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
    let (listener, _file, _) = bind_unix(&path)?;
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
