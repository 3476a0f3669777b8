//! The tour's named objects: a unique name for each, the owner that removes it, and the sweep
//! of those a killed tour left behind. The steps of the tour that share one sensor object
//! (create it, write it elsewhere, read it after its writer, unlink it) pass a [`TourObject`].

use std::io::{self, ErrorKind};
use std::path::Path;

use nix::sys::mman::shm_unlink;
use plumbing::names;

use crate::{SensorObject, ShmName};

/// The tour's names are `/ipc-tour-shm-<pid>-<6 hex digits>` (30 characters at most); in
/// /dev/shm they appear without the leading `/`.
pub const PREFIX: &str = "ipc-tour-shm-";

/// A name for one of the tour's objects, unique per run.
pub fn tour_name() -> String {
    names::unique(&format!("/{PREFIX}"), 6)
}

/// A tour killed by SIGKILL cannot run its `Drop`s, so its objects stay in /dev/shm. This
/// removes those: our own tour objects whose pid is gone (or a zombie). Returns each removed
/// file's name in /dev/shm and the pid that left it.
pub fn remove_stale_objects() -> Vec<(String, i32)> {
    let removed = names::sweep(Path::new("/dev/shm"), PREFIX, |path| {
        if !path.symlink_metadata()?.is_file() {
            return Err(ErrorKind::InvalidInput.into());
        }
        let file = path.file_name().unwrap_or_default().to_string_lossy();
        shm_unlink(format!("/{file}").as_str()).map_err(io::Error::from)
    });
    removed
        .into_iter()
        .map(|file| {
            let pid = names::tagged_pid(&file, PREFIX).unwrap_or(0);
            (file, pid)
        })
        .collect()
}

/// The tour's sensor object: its mapping, and the owner that unlinks its name on every way
/// out (fields drop in order: unmap, then `shm_unlink`).
pub struct TourObject {
    object: SensorObject,
    owner: ShmName,
}

impl TourObject {
    /// A new object under a new name ([`SensorObject::create`]), unlinked when dropped.
    pub fn create() -> io::Result<TourObject> {
        let name = tour_name();
        let object = SensorObject::create(&name)?;
        let owner = ShmName::adopt(&name);
        Ok(TourObject { object, owner })
    }

    /// The object's name, with its leading `/`.
    pub fn name(&self) -> &str {
        self.owner.as_str()
    }

    /// The object, as this process maps it.
    pub fn object(&self) -> &SensorObject {
        &self.object
    }
}
