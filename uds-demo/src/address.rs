//! Where a server listens or a client connects: the only thing that differs between the
//! address families the tour runs the one echo code over.

use std::net::SocketAddr;
use std::os::linux::net::SocketAddrExt;
use std::os::unix::net as unix;
use std::path::PathBuf;

use plumbing::Result;

/// The prefix of the private directories and abstract names this program makes.
pub const NAME_PREFIX: &str = "ipc-tour-uds-";

/// Where a server listens or a client connects: the only thing that differs between families.
pub enum Address {
    /// AF_UNIX, a socket file at this path.
    File(PathBuf),
    /// AF_UNIX in the Linux abstract namespace: a name, no file.
    Abstract(String),
    /// AF_INET (or AF_INET6): a numeric IP address and a port.
    Inet(SocketAddr),
}

/// The address of an abstract name (no leading '@', no NUL: the library adds the NUL).
///
/// An abstract name starts with a NUL byte, has no file at all and is gone when the last
/// socket closes. It has no permissions either: anyone in this network namespace may
/// connect, which is why the server checks SO_PEERCRED.
pub fn abstract_addr(name: &str) -> Result<unix::SocketAddr> {
    Ok(unix::SocketAddr::from_abstract_name(name.as_bytes())
        .map_err(|e| format!("abstract name @{name}: {e}"))?)
}
