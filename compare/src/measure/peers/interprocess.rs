//! interprocess's local sockets (`interprocess::local_socket`), as its users use them: a
//! listener made from a name, a stream connected to that name, the accepted stream. On Linux
//! a local socket is an AF_UNIX SOCK_STREAM socket and its streams read and write with plain
//! `read` and `write`: the row is there to show what the crate adds to the UDS stream row.
//!
//! The name is a path (`GenericFilePath`), not an abstract name (`GenericNamespaced`, which
//! the crate's examples use): a path can be made private, and an abstract name cannot (any
//! process in the network namespace may connect to it). The path is `socket` in a directory
//! made for this one pair, mode 0700, unique per run (`ipc-tour-compare-<pid>-<random>`), and
//! the socket itself is made mode 0600 (the crate sets it with fchmod before bind). Once
//! connected, the listener is dropped, which removes the socket file, and then the directory:
//! nothing named is left while the pair is measured. A killed run's directory is swept by the
//! setups at the next start, like theirs.

use std::io;
use std::path::Path;

use ::interprocess::local_socket::traits::{Listener as _, Stream as _};
use ::interprocess::local_socket::{
    GenericFilePath, GenericNamespaced, ListenerOptions, Name, Stream, ToFsName, ToNsName,
};
use ::interprocess::os::unix::local_socket::ListenerOptionsExt;
use plumbing::design::Row;
use plumbing::names::{self, PrivateDir};

use crate::measure::bytes::End;

/// The design-space row, in the lecture's words, of what a local socket is on Linux.
pub const DESIGN_ROW: Row = Row {
    data: "via an AF_UNIX stream socket",
    structure: "byte stream",
    direction: "bidirectional",
    naming: "path (here) or abstract name",
    coordination: "kernel blocks and wakes",
    persistence: "file removed with listener",
};

/// One message per `write_all` and `read_exact`, as the UDS stream end.
impl End for Stream {}

/// Private directories of the pairs, the setups' prefix (swept by them after a killed run).
const DIR_PREFIX: &str = "ipc-tour-compare-";

/// A connected pair through a path name in a private directory of its own, removed before
/// this returns. Called before the fork: the parent keeps `.0`, the child `.1`. A stream
/// carries any size.
pub fn duplex(_msg_size: usize) -> io::Result<(Stream, Stream)> {
    let dir = PrivateDir::create(DIR_PREFIX)?;
    duplex_in(dir.path())
}

/// The named form: a listener on `dir/socket` (mode 0600), a stream connected to it, the
/// accepted stream; the listener, dropped on return, removes the file.
pub fn duplex_in(dir: &Path) -> io::Result<(Stream, Stream)> {
    let path = dir.join("socket");
    let name = path.as_path().to_fs_name::<GenericFilePath>()?;
    let listener = ListenerOptions::new()
        .name(name.borrow())
        .mode(0o600)
        .create_sync()
        .map_err(|e| names::with_path("bind", &path, e))?;
    connected(&listener, name)
}

/// The abstract form: a name unique per run in the abstract namespace, which no file holds
/// and which goes with its last socket.
pub fn duplex_abstract() -> io::Result<(Stream, Stream)> {
    let unique = names::unique("ipc-tour-compare-", 8);
    let name = unique.as_str().to_ns_name::<GenericNamespaced>()?;
    let listener = ListenerOptions::new().name(name.borrow()).create_sync()?;
    connected(&listener, name)
}

/// A stream connected to `name` and the one `listener` accepted: (client, server).
fn connected(
    listener: &::interprocess::local_socket::Listener,
    name: Name<'_>,
) -> io::Result<(Stream, Stream)> {
    let client = Stream::connect(name)?;
    let server = listener.accept()?;
    Ok((client, server))
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_row_fits_its_columns() {
        assert!(super::DESIGN_ROW.fits());
    }
}
