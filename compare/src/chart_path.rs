//! The chart paths on the command line, checked before anything is measured, so that a run
//! of many seconds does not fail at its end for a path it could have refused at its start.

use std::fs;
use std::os::unix::fs::FileTypeExt;
use std::path::{Path, PathBuf};

use nix::unistd::{AccessFlags, access};

/// A chart's path, checked before anything is measured: it ends in .svg, its directory exists
/// and we may write in it, and it is not a directory, FIFO, socket or device (the finished
/// chart would fail to replace it, or replace it silently).
pub fn parse_svg_path(s: &str) -> Result<PathBuf, String> {
    if !s.ends_with(".svg") {
        return Err(format!("{s:?} must end in .svg"));
    }
    let path = PathBuf::from(s);
    if let Ok(found) = fs::metadata(&path) {
        let kind = found.file_type();
        let what = match () {
            _ if kind.is_dir() => "a directory",
            _ if kind.is_fifo() => "a FIFO",
            _ if kind.is_socket() => "a socket",
            _ if kind.is_block_device() || kind.is_char_device() => "a device",
            _ => "",
        };
        if !what.is_empty() {
            return Err(format!("{s:?} is {what}, not a chart file to replace"));
        }
    }
    let dir = chart_dir(&path);
    match fs::metadata(dir) {
        Ok(found) if found.is_dir() => {}
        Ok(_) => return Err(format!("{} is not a directory", dir.display())),
        Err(e) => return Err(format!("directory {}: {e}", dir.display())),
    }
    access(dir, AccessFlags::W_OK | AccessFlags::X_OK)
        .map_err(|e| format!("cannot write in {}: {}", dir.display(), e.desc()))?;
    Ok(path)
}

/// The directory a chart is written in: its parent, or "." for a bare file name.
fn chart_dir(path: &Path) -> &Path {
    match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    }
}

/// The file a chart replaces, for comparing two: its directory resolved (`.`, `..`, symlinks),
/// then its name.
pub fn landing(path: &Path) -> PathBuf {
    match (fs::canonicalize(chart_dir(path)), path.file_name()) {
        (Ok(dir), Some(name)) => dir.join(name),
        _ => path.to_path_buf(),
    }
}
