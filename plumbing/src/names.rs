//! Names for kernel objects: unique per run, tagged with the pid that made them, so the next
//! run can tell a name a killed run left (its pid is gone) from one in use, and remove it.
//!
//! Every name is `<prefix><pid>-<hex digits>`, with a prefix such as `ipc-tour-shm-`.

use std::fs::{self, DirBuilder};
use std::io;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use nix::errno::Errno;
use nix::sys::signal::kill;
use nix::unistd::{Pid, geteuid};

use crate::procfs;

/// `<prefix><our pid>-<hex_digits random hex digits>`: unique per run and per call.
pub fn unique(prefix: &str, hex_digits: usize) -> String {
    let random = rand::random::<u64>() & (u64::MAX >> (64 - 4 * hex_digits.clamp(1, 16)));
    format!(
        "{prefix}{}-{random:0width$x}",
        std::process::id(),
        width = hex_digits
    )
}

/// The pid in a name [`unique`] made with `prefix`, else `None`.
pub fn tagged_pid(name: &str, prefix: &str) -> Option<i32> {
    let (pid, random) = name.strip_prefix(prefix)?.split_once('-')?;
    let is_pid = !pid.is_empty() && pid.bytes().all(|b| b.is_ascii_digit());
    let is_random = !random.is_empty() && random.bytes().all(|b| b.is_ascii_hexdigit());
    if !(is_pid && is_random) {
        return None;
    }
    pid.parse().ok().filter(|&pid| pid > 0)
}

/// No process has this pid, or it is a zombie: dead, just not reaped yet. (A run SIGKILLed
/// together with its parent, as `timeout -s KILL` does, stays a zombie until init reaps it.)
pub fn is_gone(pid: i32) -> bool {
    match procfs::state(pid) {
        Ok(state) => state == 'Z' || state == 'X',
        // kill(pid, 0) sends nothing; ESRCH means no such process (EPERM: another user's).
        Err(_) => kill(Pid::from_raw(pid), None) == Err(Errno::ESRCH),
    }
}

/// Removes, from the directory `dir`, the entries that killed runs left: names [`unique`] made
/// with `prefix`, owned by us (our effective uid), whose pid [`is_gone`]. `remove` is given
/// each entry's path (a queue or shm object is removed by its name, a directory with all it
/// holds). Returns the entry names it removed. Another user's entries are never touched.
pub fn sweep(
    dir: &Path,
    prefix: &str,
    mut remove: impl FnMut(&Path) -> io::Result<()>,
) -> Vec<String> {
    let Ok(entries) = fs::read_dir(dir) else {
        return Vec::new();
    };
    let me = geteuid().as_raw();
    let mut removed = Vec::new();
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(pid) = tagged_pid(&name, prefix) else {
            continue;
        };
        // Another run may be removing its own entry right now: skip what vanished.
        let ours = entry.path().symlink_metadata().is_ok_and(|m| m.uid() == me);
        if ours && is_gone(pid) && remove(&entry.path()).is_ok() {
            removed.push(name);
        }
    }
    removed
}

/// The directory for temporary files: `$TMPDIR`, or /tmp when it is unset or empty (as the C
/// library treats it; std would take an empty value as the current directory).
pub fn temp_dir() -> PathBuf {
    match std::env::var_os("TMPDIR") {
        Some(dir) if !dir.is_empty() => PathBuf::from(dir),
        _ => PathBuf::from("/tmp"),
    }
}

/// A private directory (mode 0700) under [`temp_dir`], for FIFOs and socket files: nobody else
/// can create, remove or open what is inside. `Drop` removes it and what it holds.
#[derive(Debug)]
pub struct PrivateDir {
    path: PathBuf,
}

impl PrivateDir {
    /// Creates `<temp dir>/<prefix><pid>-<random>` exclusively (mkdir fails if the name exists,
    /// so nobody can have prepared it for us), mode exactly 0700 whatever the umask.
    pub fn create(prefix: &str) -> io::Result<PrivateDir> {
        let path = temp_dir().join(unique(prefix, 8));
        DirBuilder::new()
            .mode(0o700)
            .create(&path)
            .map_err(|e| with_path("mkdir", &path, e))?;
        let dir = PrivateDir { path };
        // The umask may have cleared bits of 0700; chmod is not subject to it.
        fs::set_permissions(&dir.path, fs::Permissions::from_mode(0o700))
            .map_err(|e| with_path("chmod 0700", &dir.path, e))?;
        Ok(dir)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Removes the private directories that killed runs left under [`temp_dir`]; see [`sweep`].
    pub fn sweep_stale(prefix: &str) -> Vec<String> {
        sweep(&temp_dir(), prefix, |path| {
            let is_dir = path.symlink_metadata()?.is_dir();
            if is_dir {
                fs::remove_dir_all(path)
            } else {
                Err(io::ErrorKind::InvalidInput.into())
            }
        })
    }
}

impl Drop for PrivateDir {
    fn drop(&mut self) {
        // Nothing useful to do if this fails: the next run's sweep retries.
        let _ = fs::remove_dir_all(&self.path);
    }
}

/// Adds the failing call and its path to an I/O error, keeping its kind.
pub fn with_path(call: &str, path: &Path, err: io::Error) -> io::Error {
    io::Error::new(err.kind(), format!("{call} {}: {err}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unique_names_carry_our_pid() {
        let name = unique("ipc-tour-x-", 6);
        assert_eq!(
            tagged_pid(&name, "ipc-tour-x-"),
            Some(std::process::id() as i32)
        );
        assert_eq!(
            name.len(),
            "ipc-tour-x-".len() + std::process::id().to_string().len() + 7
        );
        assert_ne!(unique("p-", 8), unique("p-", 8));
    }

    #[test]
    fn only_our_shape_is_recognised() {
        for bad in [
            "ipc-tour-x-",
            "ipc-tour-x-12",
            "ipc-tour-x--ab",
            "ipc-tour-x-0-ab",
            "ipc-tour-x-12-xyz",
            "ipc-tour-y-12-ab",
            "ipc-tour-x-1a-ab",
        ] {
            assert_eq!(tagged_pid(bad, "ipc-tour-x-"), None, "{bad}");
        }
        assert_eq!(tagged_pid("ipc-tour-x-12-ab", "ipc-tour-x-"), Some(12));
    }

    #[test]
    fn we_are_alive() {
        assert!(!is_gone(std::process::id() as i32));
    }

    #[test]
    fn private_dir_is_0700_and_removed() {
        let dir = PrivateDir::create("ipc-tour-plumbing-test-").expect("mkdir");
        let path = dir.path().to_path_buf();
        let mode = fs::metadata(&path).expect("stat").permissions().mode() & 0o777;
        assert_eq!(mode, 0o700);
        drop(dir);
        assert!(!path.exists());
    }
}
