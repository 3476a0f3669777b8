//! Setups of the rows that are streams or sockets: two pipes, two FIFOs, a doorbell rung to
//! ourselves, Unix stream and datagram sockets (named and as a pair), TCP on loopback.

use std::fs;
use std::io;
use std::net::{TcpListener, TcpStream};
use std::os::unix::net::{UnixDatagram, UnixListener, UnixStream};
use std::path::Path;
use std::time::Duration;

use nix::sys::stat::Mode;
use nix::unistd::{getpid, mkfifo};

use super::{MESSAGE, checked, chmod_600, one_message, sys};
use crate::measure::pattern;

pub(super) fn pipes(_: &Path) -> io::Result<()> {
    let (mut a, mut b) = pipe_demo::duplex(MESSAGE)?;
    one_message(&mut a, &mut b)
}

/// Two FIFOs, one per direction; both ends of each opened here, in fifo_demo's order (the read
/// end without blocking first); the names removed once open.
pub(super) fn fifos(dir: &Path) -> io::Result<()> {
    let mut ends = Vec::with_capacity(2);
    for name in ["to-a", "to-b"] {
        let path = dir.join(name);
        sys("mkfifo", mkfifo(&path, Mode::S_IRUSR | Mode::S_IWUSR))?;
        chmod_600(&path)?;
        ends.push(fifo_demo::open_both_ends(&path)?);
        fs::remove_file(&path)?;
    }
    let (rx, tx) = &mut ends[0];
    one_message(tx, rx)
}

pub(super) fn ring_ourselves(_: &Path) -> io::Result<()> {
    signal_demo::block_doorbell()?;
    signal_demo::ring(getpid())?;
    match signal_demo::wait_doorbell(Duration::from_secs(2))? {
        true => Ok(()),
        false => Err(io::Error::other("no ring arrived within 2 s")),
    }
}

pub(super) fn unix_stream_named(dir: &Path) -> io::Result<()> {
    let path = dir.join("stream");
    let listener = UnixListener::bind(&path)?;
    chmod_600(&path)?;
    let mut client = UnixStream::connect(&path)?;
    let (mut server, _) = listener.accept()?;
    fs::remove_file(&path)?;
    one_message(&mut client, &mut server)
}

pub(super) fn unix_stream_pair(_: &Path) -> io::Result<()> {
    let (mut a, mut b) = UnixStream::pair()?;
    one_message(&mut a, &mut b)
}

pub(super) fn unix_datagram_named(dir: &Path) -> io::Result<()> {
    let (a_path, b_path) = (dir.join("a"), dir.join("b"));
    let a = UnixDatagram::bind(&a_path)?;
    chmod_600(&a_path)?;
    let b = UnixDatagram::bind(&b_path)?;
    chmod_600(&b_path)?;
    a.connect(&b_path)?;
    b.connect(&a_path)?;
    fs::remove_file(&a_path)?;
    fs::remove_file(&b_path)?;
    datagram_message(&a, &b)
}

pub(super) fn unix_datagram_pair(_: &Path) -> io::Result<()> {
    let (a, b) = UnixDatagram::pair()?;
    datagram_message(&a, &b)
}

fn datagram_message(from: &UnixDatagram, to: &UnixDatagram) -> io::Result<()> {
    let mut buf = [0u8; MESSAGE];
    pattern::fill(&mut buf, 0);
    from.send(&buf)?;
    buf.fill(0);
    match to.recv(&mut buf)? {
        MESSAGE => checked(&buf),
        n => Err(io::Error::other(format!(
            "a {n}-byte datagram, sent {MESSAGE}"
        ))),
    }
}

pub(super) fn tcp_named(_: &Path) -> io::Result<()> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let mut client = TcpStream::connect(listener.local_addr()?)?;
    let (mut server, _) = listener.accept()?;
    one_message(&mut client, &mut server)
}
