//! Step 8's private directory and the record in it have exact modes under any umask. They
//! exist only for the few milliseconds of the step, so this calls `KeyedQueue::create`, the
//! code the step runs, in a test process of its own (the umask is process-wide).
#![cfg(target_os = "linux")]
#![allow(clippy::unwrap_used)]

use std::os::unix::fs::MetadataExt;

use mq_demo::sysv;
use mq_demo::sysv_keyed::KeyedQueue;

#[test]
fn the_private_directory_is_0700_and_its_record_0600_under_any_umask() {
    for umask in [0o000, 0o022, 0o277, 0o777] {
        // SAFETY: umask only sets the process's file creation mask; it cannot fail.
        let old = unsafe { libc::umask(umask) };
        let keyed = KeyedQueue::create();
        // SAFETY: as above.
        unsafe { libc::umask(old) };
        let keyed = keyed.unwrap_or_else(|e| panic!("umask {umask:o}: {e}"));
        let dir = keyed.dir.path().to_owned();
        let id = keyed.queue.id();
        let mode = |p: &std::path::Path| std::fs::symlink_metadata(p).unwrap().mode() & 0o7777;
        let (dir_mode, record_mode) = (mode(&dir), mode(&dir.join("queue")));
        drop(keyed);
        assert_eq!(
            (dir_mode, record_mode),
            (0o700, 0o600),
            "umask {umask:o}: directory {dir_mode:o}, record {record_mode:o}"
        );
        assert!(!dir.exists(), "{} left", dir.display());
        assert!(sysv::listed_id(id).unwrap().is_none(), "queue {id} left");
    }
}
