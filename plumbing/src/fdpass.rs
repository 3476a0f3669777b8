//! Passing an open file descriptor over a Unix socket (SCM_RIGHTS, unix(7)): send one, receive
//! exactly one. The kernel installs a copy of the sender's descriptor in the receiver's table,
//! so the receiver needs no path and no permission of its own to reach what it refers to.

use std::io::{self, IoSlice, IoSliceMut};
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd, RawFd};

use nix::sys::socket::{ControlMessage, ControlMessageOwned, MsgFlags, recvmsg, sendmsg};

/// sendmsg(2) of `payload` with `fd` riding along (SCM_RIGHTS). Ancillary data travels with at
/// least one byte of ordinary data, so `payload` must not be empty. MSG_NOSIGNAL: a peer that
/// has gone is `EPIPE`, not a SIGPIPE. The error is nix's, for the caller to word.
pub fn send_fd(socket: impl AsFd, fd: impl AsFd, payload: &[u8]) -> nix::Result<()> {
    let fds = [fd.as_fd().as_raw_fd()];
    sendmsg::<()>(
        socket.as_fd().as_raw_fd(),
        &[IoSlice::new(payload)],
        &[ControlMessage::ScmRights(&fds)],
        MsgFlags::MSG_NOSIGNAL,
        None,
    )?;
    Ok(())
}

/// What one [`receive_fd`] brought.
#[derive(Debug)]
pub enum Received {
    /// The peer closed the connection (or died): no bytes and no descriptor.
    End,
    /// `bytes` bytes of ordinary data (in the caller's buffer) and exactly one descriptor.
    Fd { bytes: usize, fd: OwnedFd },
}

/// The most descriptors one SCM_RIGHTS message can carry (SCM_MAX_FD in the kernel).
const SCM_MAX_FD: usize = 253;

/// recvmsg(2) of up to `payload.len()` bytes and the one descriptor that rides with them,
/// opened close-on-exec (MSG_CMSG_CLOEXEC, so no child we start inherits it).
///
/// Refused, as `InvalidData`: a message with no descriptor or more than one, and control data
/// the kernel truncated (MSG_CTRUNC). There is room for as many descriptors as one message can
/// carry, so every descriptor a hostile sender passes arrives, is owned here and is closed:
/// none leaks into this process.
pub fn receive_fd(socket: impl AsFd, payload: &mut [u8]) -> io::Result<Received> {
    let mut iov = [IoSliceMut::new(payload)];
    let mut space = nix::cmsg_space!([RawFd; SCM_MAX_FD]);
    let msg = recvmsg::<()>(
        socket.as_fd().as_raw_fd(),
        &mut iov,
        Some(&mut space),
        MsgFlags::MSG_CMSG_CLOEXEC,
    )
    .map_err(|e| io::Error::new(io::Error::from(e).kind(), format!("recvmsg: {e}")))?;
    let bytes = msg.bytes;
    let refused =
        |why: String| io::Error::new(io::ErrorKind::InvalidData, format!("recvmsg: {why}"));
    if msg.flags.contains(MsgFlags::MSG_CTRUNC) {
        return Err(refused(format!(
            "{bytes} bytes and control data truncated (MSG_CTRUNC)"
        )));
    }
    let mut fds: Vec<OwnedFd> = Vec::new();
    let cmsgs = msg
        .cmsgs()
        .map_err(|e| refused(format!("control data: {e}")))?;
    for cmsg in cmsgs {
        if let ControlMessageOwned::ScmRights(received) = cmsg {
            // SAFETY: the kernel has just installed these descriptors in our table for this
            // message; nothing else in this process knows them, so each OwnedFd is the only
            // owner of its own (and closes it on drop).
            fds.extend(
                received
                    .into_iter()
                    .map(|fd| unsafe { OwnedFd::from_raw_fd(fd) }),
            );
        }
    }
    match (bytes, fds.len()) {
        (0, 0) => Ok(Received::End),
        (_, 1) => Ok(Received::Fd {
            bytes,
            fd: fds.remove(0),
        }),
        (_, 0) => Err(refused(format!("{bytes} bytes and no file descriptor"))),
        (_, n) => Err(refused(format!(
            "{bytes} bytes and {n} descriptors, not one"
        ))),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use std::fs::File;
    use std::io::{Read, Seek, Write};
    use std::os::unix::net::UnixStream;

    #[test]
    fn one_descriptor_crosses_with_its_bytes() {
        let (a, b) = UnixStream::pair().unwrap();
        let mut file = tempfile();
        file.write_all(b"temperature: 42").unwrap();
        send_fd(&a, &file, b"F").unwrap();
        let mut byte = [0u8; 1];
        let Received::Fd { bytes, fd } = receive_fd(&b, &mut byte).unwrap() else {
            panic!("no descriptor");
        };
        assert_eq!((bytes, byte), (1, *b"F"));
        let mut got = File::from(fd);
        got.rewind().unwrap();
        let mut text = String::new();
        got.read_to_string(&mut text).unwrap();
        assert_eq!(text, "temperature: 42");
        drop(a);
        assert!(matches!(receive_fd(&b, &mut byte).unwrap(), Received::End));
    }

    #[test]
    fn bytes_without_a_descriptor_and_two_descriptors_are_refused() {
        let (mut a, b) = UnixStream::pair().unwrap();
        a.write_all(b"x").unwrap();
        let err = receive_fd(&b, &mut [0u8; 1]).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidData, "{err}");
        let (one, two) = (tempfile(), tempfile());
        let fds = [one.as_raw_fd(), two.as_raw_fd(), one.as_raw_fd()];
        sendmsg::<()>(
            a.as_raw_fd(),
            &[IoSlice::new(b"F")],
            &[ControlMessage::ScmRights(&fds)],
            MsgFlags::empty(),
            None,
        )
        .unwrap();
        let err = receive_fd(&b, &mut [0u8; 1]).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidData, "{err}");
    }

    /// An unnamed file in the temp dir (O_TMPFILE would need a file system that has it).
    fn tempfile() -> File {
        let dir = crate::names::PrivateDir::create("ipc-tour-fdpass-test-").unwrap();
        let path = dir.path().join("f");
        File::options()
            .read(true)
            .write(true)
            .create_new(true)
            .open(&path)
            .unwrap()
    }
}
