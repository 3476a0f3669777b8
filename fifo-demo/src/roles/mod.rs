//! The roles: the processes the tour starts, each a fresh copy of this binary, which a user
//! can also run by hand. `write` sends numbered lines into an existing FIFO, one write() per
//! line; `read` prints and checks them until EOF; `make` makes a FIFO and exits.
//!
//! Signals: the roles own no kernel object, so they keep the default action: Ctrl-C ends them
//! at once, even while blocked in open(). The roles the tour starts die with it (SIGKILL from
//! the kernel, PR_SET_PDEATHSIG).

use std::fs::{self, File};
use std::io;
use std::os::unix::fs::FileTypeExt;
use std::path::Path;

use plumbing::Result;

use crate::tour::describe::file_type;

pub mod lines;
pub mod make;
pub mod read;
pub mod write;

/// The indentation of a role's lines: three spaces inside the tour's output (the tour passes
/// its pid), none when run by hand.
pub fn indent(parent_pid: Option<u32>) -> &'static str {
    if parent_pid.is_some() { "   " } else { "" }
}

/// Refuses, before open(), a path that is missing or is not a FIFO (opening a regular file
/// would "work" and read the disk).
pub fn check_is_fifo(path: &Path) -> Result {
    let shown = path.display();
    let meta = match fs::metadata(path) {
        Ok(meta) => meta,
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            let dir = path.parent().filter(|dir| !dir.as_os_str().is_empty());
            return Err(match dir {
                Some(dir) if !dir.exists() => {
                    format!(
                        "stat {shown}: {e}; the directory {} does not exist",
                        dir.display()
                    )
                }
                _ => format!("stat {shown}: {e}; make the FIFO first: mkfifo -m 600 {shown}"),
            }
            .into());
        }
        Err(e) => return Err(format!("stat {shown}: {e}").into()),
    };
    if !meta.file_type().is_fifo() {
        let kind = file_type(&meta);
        return Err(
            format!("{shown} is a {kind}, not a FIFO; make one: mkfifo -m 600 PATH").into(),
        );
    }
    Ok(())
}

/// Checks the opened file again: the path may have been replaced between stat() and open().
pub fn opened(result: io::Result<File>, call: &str, path: &Path) -> Result<File> {
    let file = result.map_err(|e| {
        let hint = match e.kind() {
            io::ErrorKind::PermissionDenied => "; its mode does not let this user open it (ls -l)",
            _ => "",
        };
        format!("{call} {}: {e}{hint}", path.display())
    })?;
    let meta = file
        .metadata()
        .map_err(|e| format!("fstat {}: {e}", path.display()))?;
    if !meta.file_type().is_fifo() {
        return Err(format!("{} was replaced by a {}", path.display(), file_type(&meta)).into());
    }
    Ok(file)
}
