//! The named ways `compare` times making a socket channel: a Unix stream socket and a pair of
//! Unix datagram sockets, bound to paths in a directory the caller made private (0700), each
//! socket file mode 0600 and removed once connected. The anonymous ways are socketpair
//! ([`crate::stream_duplex`], [`datagram_pair`]); TCP is [`crate::tcp_duplex`].

use std::fs::{self, Permissions};
use std::io;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::{UnixDatagram, UnixListener, UnixStream};
use std::path::Path;

/// bind + listen + connect + accept at `dir/stream`; the socket file is removed once the two
/// are connected. Returns the client's end and the server's.
pub fn stream_named(dir: &Path) -> io::Result<(UnixStream, UnixStream)> {
    let path = dir.join("stream");
    let listener = UnixListener::bind(&path)?;
    chmod_600(&path)?;
    let client = UnixStream::connect(&path)?;
    let (server, _) = listener.accept()?;
    fs::remove_file(&path)?;
    Ok((client, server))
}

/// Two datagram sockets bound at `dir/a` and `dir/b`, each connected to the other; both socket
/// files removed once connected.
pub fn datagram_named(dir: &Path) -> io::Result<(UnixDatagram, UnixDatagram)> {
    let (a_path, b_path) = (dir.join("a"), dir.join("b"));
    let a = UnixDatagram::bind(&a_path)?;
    chmod_600(&a_path)?;
    let b = UnixDatagram::bind(&b_path)?;
    chmod_600(&b_path)?;
    a.connect(&b_path)?;
    b.connect(&a_path)?;
    fs::remove_file(&a_path)?;
    fs::remove_file(&b_path)?;
    Ok((a, b))
}

/// A connected pair of datagram sockets (socketpair), nothing named.
pub fn datagram_pair() -> io::Result<(UnixDatagram, UnixDatagram)> {
    UnixDatagram::pair()
}

/// Mode exactly 0600 on a socket file, whatever the umask took away when bind created it
/// (the directory is private, so nobody else could reach it in between).
fn chmod_600(path: &Path) -> io::Result<()> {
    fs::set_permissions(path, Permissions::from_mode(0o600))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use std::io::{Read, Write};
    use std::os::unix::fs::FileTypeExt;

    #[test]
    fn named_ways_connect_and_leave_no_socket_file() {
        let dir = plumbing::names::PrivateDir::create("ipc-tour-uds-setups-test-").unwrap();
        let (mut client, mut server) = stream_named(dir.path()).unwrap();
        client.write_all(b"temperature: 42").unwrap();
        let mut got = [0u8; 15];
        server.read_exact(&mut got).unwrap();
        assert_eq!(&got, b"temperature: 42");
        let (a, b) = datagram_named(dir.path()).unwrap();
        a.send(b"humidity: 61%").unwrap();
        assert_eq!(b.recv(&mut [0u8; 64]).unwrap(), 13);
        let left = fs::read_dir(dir.path()).unwrap().flatten();
        assert!(!left.into_iter().any(|e| e.file_type().unwrap().is_socket()));
    }
}
