//! ipc-channel (servo's): typed channels whose values travel serialized with serde (postcard)
//! over AF_UNIX SOCK_SEQPACKET socketpairs, as its users use it: `ipc::channel::<T>()` makes
//! one one-way channel (one socketpair), so the row makes one each way, before the fork, and
//! each process keeps the sender of one and the receiver of the other.
//!
//! Per message the sender serializes the value into a fresh buffer and sends it with one
//! `sendmsg`; the receiver allocates a buffer of the largest packet, `recvmsg`s into it and
//! deserializes a new value. A value larger than one packet (about the socket's send buffer)
//! travels through a new socketpair made for that message, its receive end passed along with
//! the first fragment (SCM_RIGHTS). The payload here is a `Vec<u8>`, the type a user reaches
//! for; serde sees it as a sequence of bytes.

use std::io::{self, Read, Write};
use std::path::Path;

use ::ipc_channel::IpcError;
use ::ipc_channel::ipc::{self, IpcOneShotServer, IpcReceiver, IpcSender};
use plumbing::design::Row;

use crate::measure::bytes::{End, Pair, fill};

/// The design-space row, in the lecture's words, of what ipc-channel does underneath.
pub const DESIGN_ROW: Row = Row {
    data: "serde over SOCK_SEQPACKET",
    structure: "typed values, one a message",
    direction: "one-way: a channel each way",
    naming: "anonymous, or one-shot path",
    coordination: "kernel blocks and wakes",
    persistence: "until last fd closes",
};

/// One process's end: the sender of one channel and the receiver of the other, and the value
/// last received, which is checked and echoed where ipc-channel handed it over.
pub struct ChannelEnd {
    tx: IpcSender<Vec<u8>>,
    rx: IpcReceiver<Vec<u8>>,
    received: Vec<u8>,
}

/// Two channels, one each way. Called before the fork: the parent keeps `.0`, the child `.1`.
/// Any size: a value above one packet travels in fragments over a socketpair of its own.
pub fn duplex(_msg_size: usize) -> io::Result<Pair> {
    let (to_child, from_parent) = ipc::channel()?;
    let (to_parent, from_child) = ipc::channel()?;
    let end = |tx, rx| {
        Box::new(ChannelEnd {
            tx,
            rx,
            received: Vec::new(),
        }) as Box<dyn End>
    };
    Ok((end(to_child, from_child), end(to_parent, from_parent)))
}

/// ipc-channel's error as std's: a channel whose every sender is gone is end-of-file (the
/// peer left), a value that does not deserialize is invalid data.
fn io_error(call: &str, e: IpcError) -> io::Error {
    match e {
        IpcError::Disconnected => io::ErrorKind::UnexpectedEof.into(),
        IpcError::Io(e) => io::Error::new(e.kind(), format!("{call}: {e}")),
        IpcError::SerializationError(e) => {
            io::Error::new(io::ErrorKind::InvalidData, format!("{call}: {e}"))
        }
    }
}

impl ChannelEnd {
    fn send(&self, value: Vec<u8>) -> io::Result<()> {
        self.tx.send(value).map_err(|e| io_error("send", e))
    }

    fn recv(&mut self) -> io::Result<()> {
        self.received = self.rx.recv().map_err(|e| io_error("recv", e))?;
        Ok(())
    }
}

impl End for ChannelEnd {
    /// A new value filled with message `seq`'s pattern, moved into `send` as a user would.
    fn send_message(&mut self, buf: &mut [u8], seq: u64) -> io::Result<()> {
        let mut message = vec![0u8; buf.len()];
        fill(&mut message, seq);
        self.send(message)
    }

    /// One value, which must hold exactly one message of `buf.len()` bytes.
    fn receive_message(&mut self, buf: &mut [u8]) -> io::Result<()> {
        self.recv()?;
        match self.received.len() {
            n if n == buf.len() => Ok(()),
            n => Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("recv: a value of {n} bytes, expected {}", buf.len()),
            )),
        }
    }

    fn received<'a>(&'a mut self, _: &'a [u8]) -> &'a [u8] {
        &self.received
    }

    fn alter_received(&mut self, _: &mut [u8], at: usize) {
        self.received[at] ^= 0x01;
    }

    /// The value received goes back as it now is, moved, not copied.
    fn echo_message(&mut self, _: &[u8]) -> io::Result<()> {
        let value = std::mem::take(&mut self.received);
        self.send(value)
    }
}

/// A write is one value (the design-space probe: two writes, one read).
impl Write for ChannelEnd {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.send(buf.to_vec())?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// A read is one value, which must fit in `buf` (nothing is cut off silently).
impl Read for ChannelEnd {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.recv()?;
        let n = self.received.len();
        match buf.get_mut(..n) {
            Some(room) => room.copy_from_slice(&self.received),
            None => {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!("recv: a value of {n} bytes, room for {}", buf.len()),
                ));
            }
        }
        Ok(n)
    }
}

/// A one-shot server and a sender connected to its name.
pub type OneShot = (IpcOneShotServer<Vec<u8>>, IpcSender<Vec<u8>>);

/// The named form, as two unrelated processes meet: a one-shot server (a socket bound in a
/// fresh temporary directory that ipc-channel makes and removes) and a sender connected to
/// its name. `_dir` is unused: ipc-channel chooses where its name lives, and makes the
/// directory and the socket mode 0777 less the umask (0755 under the usual 022), not 0700
/// like ours; a run killed during this setup leaves that `.tmpXXXXXX` directory behind.
pub fn one_shot(_dir: &Path) -> io::Result<OneShot> {
    let (server, name) = IpcOneShotServer::new()?;
    let sender = IpcSender::connect(name)?;
    Ok((server, sender))
}

/// One channel's two ends.
pub type Channel = (IpcSender<Vec<u8>>, IpcReceiver<Vec<u8>>);

/// The anonymous form: the two channels of [`duplex`], one each way.
pub fn channels() -> io::Result<(Channel, Channel)> {
    Ok((ipc::channel()?, ipc::channel()?))
}

/// A received value's error, as [`io_error`] says it (for the setups).
pub fn received(value: Result<Vec<u8>, IpcError>) -> io::Result<Vec<u8>> {
    value.map_err(|e| io_error("recv", e))
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_row_fits_its_columns() {
        assert!(super::DESIGN_ROW.fits());
    }
}
