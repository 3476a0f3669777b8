//! Step 1: mkfifo(3) gives a pipe a name in the filesystem. The tour makes its FIFO (mode 0600)
//! in a private directory (mode 0700) that it owns, so no other user can open or replace it,
//! and shows what stat(2) says of both, and PIPE_BUF: the largest write the kernel keeps whole.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use fifo_demo::{FifoDir, remove_stale_dirs};
use nix::unistd::{PathconfVar, pathconf};
use plumbing::tour::heading;
use plumbing::verdict::{self, Verdict, judge};

use super::describe::{describe_path, file_type};

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
    let dir = private_dir()?;
    let fifo = dir.mkfifo("sensor_pipe")?; // mkfifo(3), then chmod 0600 whatever the umask
    let pipe_buf = pipe_buf(&fifo)?;
    println!("   made {}", fifo.display());
    println!("   (\"the FIFO\" below)");
    println!("   stat: {}", describe_path(&fifo)?);
    println!("   its directory: {}", describe_path(dir.path())?);
    println!("   PIPE_BUF (pathconf): {pipe_buf} bytes, the largest write the kernel keeps whole");
    let meta = fs::metadata(&fifo).map_err(|e| format!("stat {}: {e}", fifo.display()))?;
    let (v, because) = named_claim(file_type(&meta), meta.permissions().mode() & 0o777);
    verdict::record("a FIFO is a pipe with a name in the filesystem", v, because);
    Ok(MadeFifo {
        dir,
        fifo,
        pipe_buf,
    })
}

impl MadeFifo {
    /// The FIFO that step 1 makes, made without step 1's report: for a step run alone
    /// (`fifo-demo 3`).
    pub fn quietly() -> plumbing::Result<MadeFifo> {
        let dir = private_dir()?;
        let fifo = dir.mkfifo("sensor_pipe")?;
        let pipe_buf = pipe_buf(&fifo)?;
        Ok(MadeFifo {
            dir,
            fifo,
            pipe_buf,
        })
    }
}

/// The lecture: a FIFO is a pipe with a name. It holds when stat(2) of the name the tour made
/// says `kind` "fifo" (S_IFIFO), not a regular file.
pub fn named_claim(kind: &str, mode: u32) -> (Verdict, String) {
    let because = format!("stat of sensor_pipe says type {kind}, mode {mode:04o}");
    (judge(kind == "fifo", false), because)
}

/// pathconf(3) PIPE_BUF: the largest write to this FIFO that the kernel keeps whole.
fn pipe_buf(fifo: &Path) -> plumbing::Result<usize> {
    let pipe_buf = pathconf(fifo, PathconfVar::PIPE_BUF)
        .map_err(|e| format!("pathconf {}: {e}", fifo.display()))?
        .ok_or("pathconf PIPE_BUF: no limit reported")?;
    Ok(usize::try_from(pipe_buf)?)
}

/// The private directory (mode 0700) that owns the FIFO. It also removes the directories
/// that killed runs left behind: SIGKILL gives a run no chance to remove its own.
fn private_dir() -> plumbing::Result<FifoDir> {
    let dir = FifoDir::create()
        .map_err(|e| format!("{e}; set TMPDIR to a directory you can write to"))?;
    for stale in remove_stale_dirs() {
        println!("   removed {} left by a killed run", stale.display());
    }
    Ok(dir)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_name_that_stat_calls_a_fifo_confirms_it() {
        let (v, because) = named_claim("fifo", 0o600);
        assert_eq!(v, Verdict::Confirmed);
        assert_eq!(because, "stat of sensor_pipe says type fifo, mode 0600");
        assert_eq!(named_claim("regular file", 0o600).0, Verdict::Refuted);
    }
}
