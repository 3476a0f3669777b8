//! FIFOs (named pipes) as a small library: the owner of a private directory holding FIFOs,
//! the FIFO's row of the lecture's design-space table, and a connected pair of FIFO
//! endpoints for `compare`. No printing, no signal handlers: the binaries decide that.

use std::fs::{self, File, OpenOptions};
use std::io;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use nix::fcntl::{FcntlArg, OFlag, fcntl};
use nix::sys::stat::Mode;
use nix::unistd::mkfifo;
use plumbing::design::Row;
use plumbing::names::{PrivateDir, temp_dir, with_path};

/// The FIFO's row of the lecture's design-space table.
pub const DESIGN_ROW: Row = Row {
    data: "copy through kernel",
    structure: "byte stream",
    direction: "one-way",
    naming: "path in the filesystem",
    coordination: "kernel blocks reader/writer",
    persistence: "name persists, data does not",
};

/// Every private directory this crate creates is named `ipc-tour-fifo-<pid>-<random>`.
const DIR_PREFIX: &str = "ipc-tour-fifo-";

/// Owner of a private directory (mode 0700) under the temp dir and of the FIFOs (mode 0600)
/// made in it. Dropping it removes the FIFOs and the directory.
#[derive(Debug)]
pub struct FifoDir {
    dir: PrivateDir,
}

impl FifoDir {
    /// Creates `<temp dir>/ipc-tour-fifo-<pid>-<random>`, mode 0700. `mkdir` fails if the name
    /// exists, so nobody can have prepared it for us.
    pub fn create() -> io::Result<FifoDir> {
        Ok(FifoDir {
            dir: PrivateDir::create(DIR_PREFIX)?,
        })
    }

    /// The directory's path.
    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Makes the FIFO `name` in the directory, mode 0600 (fails if it exists).
    pub fn mkfifo(&self, name: &str) -> io::Result<PathBuf> {
        let path = self.path().join(name);
        make_fifo(&path)?;
        Ok(path)
    }
}

/// mkfifo(3) with mode exactly 0600, whatever the umask; fails if `path` exists.
///
/// mkfifo applies the umask, so under `umask 277` the FIFO would be 0400 and no writer could
/// open it. chmod is not subject to the umask. Between the two calls the FIFO's mode can only
/// be narrower than 0600, never wider, so no other user can open it in that window.
pub fn make_fifo(path: &Path) -> io::Result<()> {
    let owner_rw = Mode::S_IRUSR | Mode::S_IWUSR;
    mkfifo(path, owner_rw).map_err(|e| with_path("mkfifo", path, e.into()))?;
    fs::set_permissions(path, fs::Permissions::from_mode(0o600))
        .map_err(|e| with_path("chmod 600", path, e))
}

/// Removes the private directories that killed runs left in the temp dir (SIGKILL gives a
/// process no chance to clean up): `ipc-tour-fifo-<pid>-*` owned by this user whose `<pid>`
/// is gone. Returns the paths it removed.
pub fn remove_stale_dirs() -> Vec<PathBuf> {
    let temp = temp_dir();
    PrivateDir::sweep_stale(DIR_PREFIX)
        .into_iter()
        .map(|name| temp.join(name))
        .collect()
}

/// Opens both ends of the FIFO at `path` in this process, with no open that blocks: the read
/// end with O_NONBLOCK first (a read-only open never waits), then the write end (a reader
/// exists, so it returns at once), then the read end is made blocking again.
pub fn open_both_ends(path: &Path) -> io::Result<(File, File)> {
    let rx = OpenOptions::new()
        .read(true)
        .custom_flags(OFlag::O_NONBLOCK.bits())
        .open(path)
        .map_err(|e| with_path("open O_RDONLY|O_NONBLOCK", path, e))?;
    let tx = OpenOptions::new()
        .write(true)
        .open(path)
        .map_err(|e| with_path("open O_WRONLY", path, e))?;
    let flags =
        fcntl(&rx, FcntlArg::F_GETFL).map_err(|e| with_path("fcntl F_GETFL", path, e.into()))?;
    let blocking = OFlag::from_bits_truncate(flags) - OFlag::O_NONBLOCK;
    fcntl(&rx, FcntlArg::F_SETFL(blocking))
        .map_err(|e| with_path("fcntl F_SETFL", path, e.into()))?;
    Ok((rx, tx))
}

/// One end of a [`duplex`] pair: reads from one FIFO, writes to the other.
pub type End = plumbing::two_way::End<File, File>;

/// A connected pair of endpoints carrying messages of `msg_size` bytes both ways, made of two
/// FIFOs (one per direction). Called before fork(); after fork the parent drops `.1`, the
/// child drops `.0`. When the peer process dies, a blocked read returns EOF and a write fails
/// with EPIPE at once: the kernel knows that no other process holds that end. Both names are
/// removed before this returns, so a crash leaks nothing.
///
/// A FIFO is a byte stream, so every `msg_size` can be carried; messages above PIPE_BUF
/// (4096 bytes on Linux) are not atomic, which does not matter with one writer per FIFO.
pub fn duplex(msg_size: usize) -> io::Result<(End, End)> {
    let _ = msg_size; // a byte stream has no message-size limit
    let dir = FifoDir::create()?;
    duplex_in(dir.path())
    // `dir` drops here: every end is open, so the names are no longer needed
}

/// The named setup `compare` times: two FIFOs made in `dir` (a private directory), `to-a` and
/// `to-b`, exclusively and mode 0600 ([`make_fifo`]); both ends of each opened here
/// ([`open_both_ends`]); each name removed once its ends are open. Returns the two connected
/// ends, as [`duplex`] does.
pub fn duplex_in(dir: &Path) -> io::Result<(End, End)> {
    let (a_rx, b_tx) = open_unlinked(&dir.join("to-a"))?;
    let (b_rx, a_tx) = open_unlinked(&dir.join("to-b"))?;
    Ok((End { rx: a_rx, tx: a_tx }, End { rx: b_rx, tx: b_tx }))
}

/// A new FIFO at `path` with both ends open, and the name removed.
fn open_unlinked(path: &Path) -> io::Result<(File, File)> {
    make_fifo(path)?;
    let ends = open_both_ends(path);
    fs::remove_file(path).map_err(|e| with_path("unlink", path, e))?;
    ends
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use std::io::{Read, Write};

    #[test]
    fn duplex_carries_both_ways_and_leaves_no_name() {
        let (mut a, mut b) = duplex(100_000).expect("duplex");
        let ours = format!("{DIR_PREFIX}{}-", std::process::id());
        let left = std::fs::read_dir(temp_dir()).expect("read temp dir");
        assert!(
            !left
                .flatten()
                .any(|e| e.file_name().to_string_lossy().starts_with(&ours))
        );
        let msg: Vec<u8> = (0..100_000u32).map(|i| (i % 251) as u8).collect();
        // 100 000 bytes exceed the pipe capacity, so the writer needs a concurrent reader.
        let writer = std::thread::spawn(move || {
            a.write_all(&msg).expect("write a->b");
            a
        });
        let mut got = vec![0; 100_000];
        b.read_exact(&mut got).expect("read at b");
        let mut a = writer.join().expect("writer thread");
        assert!(got.iter().enumerate().all(|(i, &v)| v == (i % 251) as u8));
        b.write_all(b"pong").expect("write b->a");
        let mut pong = [0; 4];
        a.read_exact(&mut pong).expect("read at a");
        assert_eq!(&pong, b"pong");
        drop(b);
        assert_eq!(a.read(&mut pong).expect("read after peer closed"), 0, "EOF");
        assert_eq!(
            a.write(b"x").expect_err("write after peer closed").kind(),
            io::ErrorKind::BrokenPipe
        );
    }

    #[test]
    fn design_row_fits_its_column() {
        assert!(DESIGN_ROW.fits());
    }
}
