//! What an error says about a shared memory object: which call failed, whose the object is,
//! and how full /dev/shm is. Split from `sensor.rs`, whose errors these are.

use std::fs::Metadata;
use std::io;
use std::os::unix::fs::MetadataExt;

use nix::errno::Errno;
use nix::sys::statvfs::statvfs;
use nix::unistd::{Uid, User, geteuid};

/// `call name: errno text`, keeping the error kind (so `NotFound` stays `NotFound`).
pub(crate) fn sys_error(call: &str, name: &str, errno: Errno) -> io::Error {
    io::Error::new(
        io::Error::from(errno).kind(),
        format!("{call} {name}: {errno}"),
    )
}

/// What to say when /dev/shm has no room: its size and what is free, as `df` shows them.
pub(crate) fn dev_shm_space() -> String {
    let advice = "free some space there or remount it larger (mount -o remount,size=...)";
    match statvfs("/dev/shm") {
        Ok(fs) => {
            let kib = |blocks: u64| blocks * fs.fragment_size() / 1024;
            format!(
                "/dev/shm is full ({} KiB, {} KiB free); {advice}",
                kib(fs.blocks()),
                kib(fs.blocks_available())
            )
        }
        Err(_) => format!("/dev/shm is full; {advice}"),
    }
}

/// "uid 65534 (nobody)", or "uid 1234" for a uid without a name.
pub fn user(uid: u32) -> String {
    match User::from_uid(Uid::from_raw(uid)) {
        Ok(Some(user)) => format!("uid {uid} ({})", user.name),
        _ => format!("uid {uid}"),
    }
}

/// Whose object this is, for a refusal: "it is owned by uid 0 (root) with mode 0600, and you
/// are uid 65534 (nobody)".
pub fn whose(meta: &Metadata) -> String {
    format!(
        "it is owned by {} with mode {:04o}, and you are {}",
        user(meta.uid()),
        meta.mode() & 0o777,
        user(geteuid().as_raw())
    )
}
