//! The `unlink` role, TLPI's pshm_unlink: remove the name from /dev/shm, if the object is ours.
//! Processes that still map it keep their pages.
//!
//! ```text
//! cargo run -p shm-demo -- unlink /sensor_data             # removed
//! cargo run -p shm-demo -- read /sensor_data               # error: No such file or directory
//! ```

use std::fs;
use std::os::unix::fs::MetadataExt;

use nix::errno::Errno;
use nix::sys::mman::shm_unlink;
use nix::unistd::geteuid;
use plumbing::Result;
use shm_demo::sensor::whose;

pub fn run(name: &str) -> Result {
    let meta = fs::symlink_metadata(format!("/dev/shm{name}"));
    // Root may remove anything; the demo still touches only its own user's objects.
    if let Ok(meta) = &meta
        && meta.uid() != geteuid().as_raw()
    {
        return Err(format!("{name}: not removed, {}", whose(meta)).into());
    }
    shm_unlink(name).map_err(|e| match (e, &meta) {
        (Errno::EACCES | Errno::EPERM, Ok(meta)) => {
            format!("shm_unlink {name}: {e}; {}", whose(meta))
        }
        _ => format!("shm_unlink {name}: {e}"),
    })?;
    println!("removed {name} from /dev/shm (processes that still map it keep their pages)");
    Ok(())
}
