//! The owner of a socket file: the name an AF_UNIX socket has in the filesystem.

use std::fs;
use std::path::{Path, PathBuf};

/// The socket file a listener is bound to; `Drop` unlinks it (closing a socket never does, so
/// without an owner every run would leave its name behind).
#[derive(Debug)]
pub struct SocketFile {
    path: PathBuf,
}

impl SocketFile {
    /// Takes charge of the socket file at `path` (bound already).
    pub fn new(path: impl Into<PathBuf>) -> SocketFile {
        SocketFile { path: path.into() }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for SocketFile {
    fn drop(&mut self) {
        // Nothing useful to do if it is gone already.
        let _ = fs::remove_file(&self.path);
    }
}
