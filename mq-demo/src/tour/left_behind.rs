//! The tour's last lines: everything the run made, looked for again after every step has
//! ended, and what was found.

use std::fs;
use std::io::ErrorKind;

use mq_demo::{Queue, sysv};
use nix::mqueue::MQ_OFlag;
use plumbing::{Result, stop};

use super::by_type;

/// Checks the POSIX queue names of steps 1 to 6 and of step 6's duplex pair, this process's open queue
/// descriptors, and step 8's System V queue and directory; prints what it found, and fails if
/// anything is left.
pub fn check(names: &[String], duplex_names: &[String], sysv_made: &by_type::Made) -> Result {
    stop::check()?; // a stop signal during the last step ends the tour here
    let names: Vec<&String> = names.iter().chain(duplex_names).collect();
    println!("\nDone. Looked again for what this run made:");
    let gone = names.iter().filter(|name| name_gone(name)).count();
    println!(
        "  {} POSIX queue names (steps 1-6): mq_open gives ENOENT for {gone}",
        names.len()
    );
    let open = open_queue_descriptors()?;
    println!("  queue descriptors still open here (/proc/self/fd): {open}");
    let listed = sysv::listed_id(sysv_made.id)?.is_some();
    let found = sysv::find(sysv_made.key)?;
    println!(
        "  step 8's queue id {}: listed in /proc/sysvipc/msg: {}; its key: {}",
        sysv_made.id,
        if listed { "yes" } else { "no" },
        found.map_or("ENOENT".into(), |id| format!("id {id}"))
    );
    let dir_left = sysv_made.dir.symlink_metadata().is_ok();
    println!(
        "  step 8's directory: {}",
        if dir_left { "still there" } else { "gone" }
    );
    if gone < names.len() || open > 0 || listed || dir_left {
        return Err("the run left something behind (listed above)".into());
    }
    println!("Nothing is left behind.");
    Ok(())
}

/// mq_open gives ENOENT: no queue has this name any more.
fn name_gone(name: &str) -> bool {
    Queue::open(name, MQ_OFlag::O_RDONLY).is_err_and(|e| e.kind() == ErrorKind::NotFound)
}

/// Descriptors of this process that are queues of ours ("/ipc-tour-mq-...", "(deleted)"
/// after mq_unlink): an unlinked queue lives on until its last descriptor closes.
fn open_queue_descriptors() -> Result<usize> {
    let dir = "/proc/self/fd";
    let entries = fs::read_dir(dir).map_err(|e| format!("read {dir}: {e}"))?;
    Ok(entries
        .flatten()
        .filter_map(|entry| fs::read_link(entry.path()).ok())
        .filter(|target| target.to_string_lossy().starts_with("/ipc-tour-mq-"))
        .count())
}
