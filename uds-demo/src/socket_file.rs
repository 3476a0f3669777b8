//! A socket file: the name an AF_UNIX socket has in the filesystem. What it takes to use one
//! safely: a path that fits in `sun_path`, a stale file from a killed server told apart from a
//! live one, mode 0600 from the start, and an owner that unlinks it (closing never does).

use std::fs;
use std::io;
use std::os::unix::fs::FileTypeExt;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::Path;

use nix::sys::stat::{Mode, umask};
use plumbing::Result;
pub use plumbing::socket_file::SocketFile;

/// `sun_path` in `struct sockaddr_un` is 108 bytes on Linux, including the terminating NUL.
pub const SUN_PATH_BYTES: usize = 108;

/// AF_UNIX at a path: the socket file is created mode 0600, and a stale one (left by a killed
/// server) is replaced. Returns the listener, the owner of the file, and whether a stale file
/// was replaced.
pub fn bind_unix(path: &Path) -> Result<(UnixListener, SocketFile, bool)> {
    let replaced = remove_if_stale(path)?;
    let listener = with_umask_0177(|| UnixListener::bind(path))
        .map_err(|e| format!("bind {}: {e}", path.display()))?;
    Ok((listener, SocketFile::new(path), replaced))
}

/// Refuses, before `bind` or `connect`, a path that does not fit in `sun_path`.
pub fn check_sun_path(path: &Path) -> Result {
    let len = path.as_os_str().len();
    if len + 1 > SUN_PATH_BYTES {
        return Err(format!(
            "socket path too long: {len} bytes, sun_path holds {} + NUL; use a shorter one",
            SUN_PATH_BYTES - 1
        )
        .into());
    }
    Ok(())
}

/// Makes room to bind at `path`. A socket file left by a killed server is detected (connect is
/// refused: nobody listens) and removed; returns whether it was. A live server's socket, or
/// anything that is not a socket, is an error and is left alone.
pub fn remove_if_stale(path: &Path) -> Result<bool> {
    check_sun_path(path)?;
    let shown = path.display();
    match fs::symlink_metadata(path) {
        Ok(meta) if !meta.file_type().is_socket() => {
            Err(format!("{shown} exists and is not a socket; not replacing it").into())
        }
        Ok(_) => match UnixStream::connect(path) {
            Ok(_) => Err(format!("{shown}: another server is listening there").into()),
            Err(e) if e.kind() == io::ErrorKind::ConnectionRefused => {
                // Stale: the file outlived its server. (Another server could bind between this
                // check and our bind; bind would then fail with EADDRINUSE, which is reported.)
                fs::remove_file(path).map_err(|e| format!("remove stale {shown}: {e}"))?;
                Ok(true)
            }
            Err(e) => Err(format!("connect {shown} (checking for a stale socket): {e}").into()),
        },
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(format!("stat {shown}: {e}").into()),
    }
}

/// Runs `bind` with the umask 0177, so the socket file it creates has mode 0600. bind() creates
/// the file with mode 0777 & !umask; a chmod after bind would leave a window in which any local
/// user may connect. umask is process-wide: this runs before the server starts any thread.
pub fn with_umask_0177<T>(bind: impl FnOnce() -> T) -> T {
    let old = umask(Mode::from_bits_truncate(0o177));
    let bound = bind();
    umask(old);
    bound
}

/// Connects to the socket file at `path`. A missing path or one that is not a socket is named
/// as such first: connect() alone would call a regular file "Connection refused".
pub fn connect_unix(path: &Path) -> Result<UnixStream> {
    check_sun_path(path)?;
    let shown = path.display();
    match fs::metadata(path) {
        Ok(meta) if !meta.file_type().is_socket() => {
            return Err(format!("connect {shown}: it exists but is not a socket").into());
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            return Err(format!(
                "connect {shown}: no such file; start the server first (it prints its path)"
            )
            .into());
        }
        _ => {} // a socket, or a stat error that connect() reports itself
    }
    Ok(UnixStream::connect(path).map_err(|e| format!("connect {shown}: {e}"))?)
}
