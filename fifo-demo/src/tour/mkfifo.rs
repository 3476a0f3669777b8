//! Step 1: mkfifo(3) gives a pipe a name in the filesystem. The tour makes its FIFO (mode 0600)
//! in a private directory (mode 0700) that it owns, so no other user can open or replace it,
//! and shows what stat(2) says of both, and PIPE_BUF: the largest write the kernel keeps whole.

use std::path::PathBuf;

use fifo_demo::{FifoDir, remove_stale_dirs};
use nix::unistd::{PathconfVar, pathconf};
use plumbing::tour::heading;

use super::describe::describe_path;

/// What step 1 made, for the steps after it.
pub struct MadeFifo {
    /// The owner of the private directory: dropping it removes the FIFO too.
    pub dir: FifoDir,
    pub fifo: PathBuf,
    /// PIPE_BUF for this FIFO, in bytes.
    pub pipe_buf: usize,
}

pub fn run() -> plumbing::Result<MadeFifo> {
    heading(1, "mkfifo: a name in the filesystem");
    let dir = FifoDir::create()
        .map_err(|e| format!("{e}; set TMPDIR to a directory you can write to"))?;
    for stale in remove_stale_dirs() {
        println!("   removed {} left by a killed run", stale.display());
    }
    let fifo = dir.mkfifo("sensor_pipe")?;
    let pipe_buf = pathconf(&fifo, PathconfVar::PIPE_BUF)
        .map_err(|e| format!("pathconf {}: {e}", fifo.display()))?
        .ok_or("pathconf PIPE_BUF: no limit reported")?;
    let pipe_buf = usize::try_from(pipe_buf)?;
    println!("   made {}", fifo.display());
    println!("   (\"the FIFO\" below)");
    println!("   stat: {}", describe_path(&fifo)?);
    println!("   its directory: {}", describe_path(dir.path())?);
    println!("   PIPE_BUF (pathconf): {pipe_buf} bytes, the largest write the kernel keeps whole");
    Ok(MadeFifo {
        dir,
        fifo,
        pipe_buf,
    })
}
