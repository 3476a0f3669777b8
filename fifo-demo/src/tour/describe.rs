//! What the tour and the roles print about files, in words.

use std::fs;
use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::path::Path;

/// `stat PATH` in words: file type, permission bits and size.
pub fn describe_path(path: &Path) -> plumbing::Result<String> {
    let meta = fs::metadata(path).map_err(|e| format!("stat {}: {e}", path.display()))?;
    let mode = meta.permissions().mode() & 0o777;
    Ok(format!(
        "type {}, mode {mode:04o}, size {} bytes",
        file_type(&meta),
        meta.len()
    ))
}

/// A file's type in words, as `stat` reports it.
pub fn file_type(meta: &fs::Metadata) -> &'static str {
    let kind = meta.file_type();
    match () {
        _ if kind.is_fifo() => "fifo",
        _ if kind.is_dir() => "directory",
        _ if kind.is_file() => "regular file",
        _ if kind.is_socket() => "socket",
        _ if kind.is_char_device() => "character device",
        _ if kind.is_block_device() => "block device",
        _ => "other",
    }
}
