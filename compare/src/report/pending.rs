//! A file written whole or not at all: drawn into a temporary file beside it, which replaces
//! it (rename, atomic) only when complete. An interrupted run leaves the previous file as it
//! was, and no temporary file behind.

use std::error::Error;
use std::fs::{self, OpenOptions};
use std::io;
use std::path::{Path, PathBuf};

/// A chart file being written: drawn into a temporary file beside it, which replaces it only
/// when complete; an interrupted run leaves the previous chart as it was.
pub struct Pending {
    path: PathBuf,
    temporary: PathBuf,
    committed: bool,
}

impl Pending {
    /// Creates the temporary file now, so a path that cannot be written fails the run before
    /// it measures; the file keeps the usual mode of a new file (0666 less the umask).
    pub fn create(path: &Path) -> Result<Pending, String> {
        let name = path.file_name().map(|n| n.to_string_lossy().into_owned());
        let Some(name) = name else {
            return Err(format!("{}: not a file name", path.display()));
        };
        let temporary = path.with_file_name(format!(".{name}.{}.tmp", std::process::id()));
        OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&temporary)
            .map_err(|e| format!("{}: {e}", temporary.display()))?;
        Ok(Pending {
            path: path.to_path_buf(),
            temporary,
            committed: false,
        })
    }

    /// Where to draw.
    pub fn temporary(&self) -> &Path {
        &self.temporary
    }

    /// The chart is complete: it replaces the file (rename is atomic).
    pub fn commit(mut self) -> Result<PathBuf, Box<dyn Error>> {
        fs::rename(&self.temporary, &self.path).map_err(|e| {
            io::Error::new(e.kind(), format!("rename to {}: {e}", self.path.display()))
        })?;
        self.committed = true;
        Ok(self.path.clone())
    }
}

impl Drop for Pending {
    fn drop(&mut self) {
        if !self.committed {
            let _ = fs::remove_file(&self.temporary);
        }
    }
}
