//! Queue names: what makes a valid one, one unique to this run, and the sweep of names that
//! killed runs left.

use std::io;
use std::path::Path;

use nix::mqueue::mq_unlink;
use plumbing::names;

/// Longest name after the leading '/' (NAME_MAX); longer names fail with ENAMETOOLONG.
pub const NAME_MAX: usize = 255;

/// Checks a queue name the way mq_overview(7) defines it: '/', then 1 to 255 characters, none
/// of them '/'. Returns the reason a name is invalid.
pub fn check_name(name: &str) -> Result<(), String> {
    let Some(rest) = name.strip_prefix('/') else {
        return Err("a queue name must start with '/' (e.g. /jobs)".into());
    };
    if rest.is_empty() || rest == "." || rest == ".." {
        return Err("a queue name needs characters after the '/' (e.g. /jobs)".into());
    }
    if rest.contains('/') {
        return Err("a queue name may contain '/' only as its first character".into());
    }
    if rest.len() > NAME_MAX {
        return Err(format!(
            "a queue name is at most {NAME_MAX} bytes after the '/'; this one has {}",
            rest.len()
        ));
    }
    Ok(())
}

/// What every queue name of ours starts with; the pid that made it and a random part follow.
const NAME_PREFIX: &str = "/ipc-tour-mq-";

/// A name unique to this process and call: `/ipc-tour-mq-<pid>-<8 hex digits>` (<= 29 chars),
/// so two runs never collide and a stale name from a killed run is never reused.
pub fn unique_name() -> String {
    names::unique(NAME_PREFIX, 8)
}

/// Removes queues left by killed runs: names made by [`unique_name`], owned by this user, whose
/// pid is no longer running. Needs the mqueue file system mounted on /dev/mqueue to list them
/// (it is not by default); without it this finds nothing. Returns the names removed.
pub fn remove_stale_queues() -> Vec<String> {
    let listed = NAME_PREFIX.trim_start_matches('/'); // /dev/mqueue lists names without it
    names::sweep(Path::new("/dev/mqueue"), listed, |path| {
        let name = format!(
            "/{}",
            path.file_name().unwrap_or_default().to_string_lossy()
        );
        mq_unlink(name.as_str()).map_err(io::Error::from)
    })
    .into_iter()
    .map(|entry| format!("/{entry}"))
    .collect()
}
