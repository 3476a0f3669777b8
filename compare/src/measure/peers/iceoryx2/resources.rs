//! What an iceoryx2 pair owns outside its ports, and how it goes: the room it needs in
//! /dev/shm, its root directory and shared-memory prefix (removed by the process that made
//! them, swept when a killed run left them), and the words of its errors.

use std::io;

use plumbing::names::{self, PrivateDir};

use super::{BUFFER, PREFIX, SHM_PREFIX};

/// InvalidInput unless /dev/shm has room for both publishers' segments of `size`-byte
/// samples (iceoryx2 sizes them with ftruncate and reserves nothing: a full tmpfs would
/// raise SIGBUS on a write, so we refuse the size up front, saying why).
pub(super) fn room_for(size: usize) -> io::Result<()> {
    const HEADER: usize = 4096; // iceoryx2's chunk header and alignment, generously
    let samples = BUFFER + 1 + 1; // the subscriber's buffer, its borrowed sample, our loan
    let need = size
        .checked_add(HEADER)
        .and_then(|chunk| chunk.checked_mul(2 * samples));
    let free = nix::sys::statvfs::statvfs("/dev/shm")
        .map(|s| s.blocks_available() as u128 * s.fragment_size() as u128)
        .map_err(|e| io::Error::other(format!("statvfs /dev/shm: {e}")))?;
    match need {
        Some(need) if (need as u128) < free => Ok(()),
        _ => Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!(
                "iceoryx2 segments for {size}-byte samples need {} MiB of /dev/shm, {} MiB free",
                need.map_or("more than usize".to_string(), |n| (n >> 20).to_string()),
                free >> 20
            ),
        )),
    }
}

/// The pair's root directory and shared-memory prefix, removed by the process that made them
/// (the child drops its copy of the parent's end right after the fork: it must not).
pub(super) struct Root {
    pub(super) dir: Option<PrivateDir>,
    pub(super) owner: u32,
    pub(super) shm_prefix: String,
}

impl Drop for Root {
    fn drop(&mut self) {
        if std::process::id() != self.owner {
            std::mem::forget(self.dir.take());
            return;
        }
        // The nodes are gone by now (declared before us); remove whatever they left.
        remove_shm(|name| name.starts_with(&self.shm_prefix));
    }
}

/// Removes the /dev/shm entries `doomed` names, ours by uid.
pub(super) fn remove_shm(mut doomed: impl FnMut(&str) -> bool) {
    use std::os::unix::fs::MetadataExt;
    let me = nix::unistd::geteuid().as_raw();
    let Ok(entries) = std::fs::read_dir("/dev/shm") else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let ours = entry.metadata().is_ok_and(|m| m.uid() == me);
        if ours && doomed(&name) {
            let _ = std::fs::remove_file(entry.path());
        }
    }
}

/// Takes group and other access away from our /dev/shm entries under `prefix`: iceoryx2
/// makes some readable and writable by everyone (its `global_mgmt`, 0666), and /dev/shm,
/// unlike our 0700 root directory, is open to every user. Both processes of a pair are ours,
/// so 0600 loses nothing. (Between iceoryx2's create and this, the window stays open.)
pub(super) fn tighten_shm(prefix: &str) {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    let me = nix::unistd::geteuid().as_raw();
    let Ok(entries) = std::fs::read_dir("/dev/shm") else {
        return;
    };
    for entry in entries.flatten() {
        let Ok(meta) = entry.metadata() else {
            continue;
        };
        let ours = meta.uid() == me && entry.file_name().to_string_lossy().starts_with(prefix);
        if ours && meta.mode() & 0o077 != 0 {
            let mode = meta.mode() & 0o700;
            let _ = std::fs::set_permissions(entry.path(), PermissionsExt::from_mode(mode));
        }
    }
}

/// What killed runs left: their root directories and shared memory (ours, pid gone).
pub(super) fn sweep_stale() {
    PrivateDir::sweep_stale(PREFIX);
    remove_shm(|name| {
        let tag = name.split('_').next().unwrap_or_default();
        // (Runs before the prefix was shortened named them as their directories.)
        let pid = names::tagged_pid(tag, SHM_PREFIX).or_else(|| names::tagged_pid(tag, PREFIX));
        pid.is_some_and(names::is_gone)
    });
}

/// A name iceoryx2 refused (too long, a character it does not take), as InvalidInput.
pub(super) fn bad_name<E: std::fmt::Debug>(name: impl AsRef<[u8]>) -> impl FnOnce(E) -> io::Error {
    let name = String::from_utf8_lossy(name.as_ref()).into_owned();
    move |e| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("iceoryx2 name {name}: {e:?}"),
        )
    }
}

/// An iceoryx2 error as an I/O error naming the call.
pub(super) fn failed<E: std::fmt::Debug>(call: &'static str) -> impl Fn(E) -> io::Error {
    move |e| io::Error::other(format!("iceoryx2 {call}: {e:?}"))
}

/// An end used before `open` made its ports.
pub(super) fn not_open() -> io::Error {
    io::Error::new(
        io::ErrorKind::NotConnected,
        "iceoryx2 end used before open()",
    )
}

/// iceoryx2 carries samples, not a byte stream: `Read` and `Write` say so.
pub(super) fn samples_only() -> io::Error {
    io::Error::new(io::ErrorKind::Unsupported, "iceoryx2: samples only")
}
