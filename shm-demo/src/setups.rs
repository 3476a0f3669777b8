//! The ways `compare` times making shared memory that two processes see: a named object
//! (shm_open), an anonymous `MAP_SHARED` mapping (the peer would inherit it through fork), and
//! a sealed memfd passed over a Unix socket. Each returns the views a writer and a reader would
//! hold; here both live in one process, and nothing is forked.

use std::io;
use std::os::fd::AsFd;
use std::os::unix::net::UnixStream;
use std::path::Path;

use memmap2::{MmapOptions, MmapRaw};
use nix::fcntl::{FcntlArg, OFlag, SealFlag, fcntl};
use nix::sys::memfd::{MFdFlags, memfd_create};
use nix::sys::mman::{shm_open, shm_unlink};
use nix::sys::stat::{Mode, fchmod, fstat};
use nix::unistd::ftruncate;
use plumbing::fdpass::{self, Received};
use plumbing::names;

use crate::SharedMapping;

/// One side's `MAP_SHARED` view of shared memory; dropping it unmaps it (in this process).
pub struct View {
    map: Mapped,
}

enum Mapped {
    Object(MmapRaw),
    Anonymous(SharedMapping),
}

impl View {
    /// Maps `len` bytes of `fd` shared, readable and writable.
    fn map(fd: impl AsFd, len: usize) -> io::Result<View> {
        let raw = MmapOptions::new()
            .len(len)
            .map_raw(&fd.as_fd())
            .map_err(|e| io::Error::new(e.kind(), format!("mmap MAP_SHARED: {e}")))?;
        Ok(View {
            map: Mapped::Object(raw),
        })
    }

    fn bytes(&self) -> (*mut u8, usize) {
        match &self.map {
            Mapped::Object(raw) => (raw.as_mut_ptr(), raw.len()),
            Mapped::Anonymous(map) => (map.as_ptr(), map.len()),
        }
    }

    /// Copies `data` into the mapping at offset 0.
    pub fn write(&mut self, data: &[u8]) -> io::Result<()> {
        let (ptr, len) = self.bytes();
        if data.len() > len {
            return Err(io::Error::other("more bytes than the mapping holds"));
        }
        // SAFETY: `ptr` is the start of a live mapping of `len` >= data.len() bytes, readable
        // and writable; a raw copy makes no reference into it, so another process writing the
        // same bytes at once could only leave us different bytes, which the reader checks.
        unsafe { std::ptr::copy_nonoverlapping(data.as_ptr(), ptr, data.len()) };
        Ok(())
    }

    /// Copies the first `out.len()` bytes of the mapping into `out`.
    pub fn read(&self, out: &mut [u8]) -> io::Result<()> {
        let (ptr, len) = self.bytes();
        if out.len() > len {
            return Err(io::Error::other("more bytes than the mapping holds"));
        }
        // SAFETY: as in `write`: a raw copy out of a live mapping at least `out.len()` long;
        // u8 has no invalid values, so whatever another process wrote is a valid byte.
        unsafe { std::ptr::copy_nonoverlapping(ptr, out.as_mut_ptr(), out.len()) };
        Ok(())
    }
}

/// Names of the named objects, as /dev/shm lists them: `ipc-tour-cmp-<pid>-<random>` (30
/// characters at most with the leading '/').
const NAME_PREFIX: &str = "ipc-tour-cmp-";

/// Removes the objects a killed run left between its shm_open and shm_unlink (a window of
/// microseconds): ours by uid, with a dead pid in the name.
pub fn remove_stale() {
    names::sweep(Path::new("/dev/shm"), NAME_PREFIX, |path| {
        let name = path.file_name().unwrap_or_default().to_string_lossy();
        shm_unlink(format!("/{name}").as_str()).map_err(|e| sys("shm_unlink", e))
    });
}

/// `call` and its errno as an io::Error of the errno's kind.
fn sys(call: &str, e: nix::errno::Errno) -> io::Error {
    io::Error::new(io::Error::from(e).kind(), format!("{call}: {e}"))
}

/// Named: the creator shm_opens exclusively (0600 whatever the umask), ftruncates to `len`
/// and maps; the peer shm_opens the name and maps; then the name is removed. Returns the
/// creator's view and the peer's.
pub fn named(len: usize) -> io::Result<(View, View)> {
    let name = names::unique(&format!("/{NAME_PREFIX}"), 8);
    let flags = OFlag::O_CREAT | OFlag::O_EXCL | OFlag::O_RDWR;
    let owner_rw = Mode::S_IRUSR | Mode::S_IWUSR;
    let owner = shm_open(name.as_str(), flags, owner_rw).map_err(|e| sys("shm_open", e))?;
    let made = fchmod(&owner, owner_rw)
        .map_err(|e| sys("fchmod", e))
        .and_then(|()| ftruncate(&owner, len as libc::off_t).map_err(|e| sys("ftruncate", e)))
        .and_then(|()| View::map(&owner, len))
        .and_then(|ours| {
            let peer = shm_open(name.as_str(), OFlag::O_RDWR, Mode::empty())
                .map_err(|e| sys("shm_open", e))?;
            Ok((ours, View::map(peer, len)?))
        });
    // Removed on every way out, once both sides have it open (or one failed).
    let unlinked = shm_unlink(name.as_str()).map_err(|e| sys("shm_unlink", e));
    let views = made?;
    unlinked?;
    Ok(views)
}

/// Anonymous: one `MAP_SHARED | MAP_ANONYMOUS` mapping of `len` bytes; a peer forked after
/// this would share its pages, so the one view is both sides'.
pub fn anonymous(len: usize) -> io::Result<View> {
    Ok(View {
        map: Mapped::Anonymous(SharedMapping::new(len)?),
    })
}

/// memfd: memfd_create, ftruncate to `len`, seals (no shrinking, growing or more seals),
/// mmap; passed over a Unix socket pair (SCM_RIGHTS); the receiver checks the seals and the
/// size before it maps, so the sender can never make it fault. Returns the sender's view and
/// the receiver's.
pub fn memfd_handoff(len: usize) -> io::Result<(View, View)> {
    let (sender, receiver) = UnixStream::pair()?;
    let flags = MFdFlags::MFD_CLOEXEC | MFdFlags::MFD_ALLOW_SEALING;
    let memfd = memfd_create(c"ipc-tour-compare", flags).map_err(|e| sys("memfd_create", e))?;
    ftruncate(&memfd, len as libc::off_t).map_err(|e| sys("ftruncate", e))?;
    let seals = SealFlag::F_SEAL_SHRINK | SealFlag::F_SEAL_GROW | SealFlag::F_SEAL_SEAL;
    fcntl(&memfd, FcntlArg::F_ADD_SEALS(seals)).map_err(|e| sys("fcntl F_ADD_SEALS", e))?;
    let ours = View::map(&memfd, len)?;
    fdpass::send_fd(&sender, &memfd, b"M").map_err(|e| sys("sendmsg SCM_RIGHTS", e))?;
    let received = match fdpass::receive_fd(&receiver, &mut [0u8; 1])? {
        Received::Fd { fd, .. } => fd,
        Received::End => return Err(io::Error::other("recvmsg: the sender closed")),
    };
    let got = fcntl(&received, FcntlArg::F_GET_SEALS).map_err(|e| sys("fcntl F_GET_SEALS", e))?;
    let size = fstat(&received).map_err(|e| sys("fstat", e))?.st_size;
    if !SealFlag::from_bits_truncate(got).contains(seals) || size != len as libc::off_t {
        return Err(io::Error::other(
            "the memfd arrived without its seals or size",
        ));
    }
    Ok((ours, View::map(&received, len)?))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn every_way_gives_views_of_the_same_bytes() {
        let (mut a, b) = named(4096).unwrap();
        a.write(b"temperature: 42").unwrap();
        let mut got = [0u8; 15];
        b.read(&mut got).unwrap();
        assert_eq!(&got, b"temperature: 42");
        let (mut a, b) = memfd_handoff(4096).unwrap();
        a.write(b"humidity: 61%").unwrap();
        let mut got = [0u8; 13];
        b.read(&mut got).unwrap();
        assert_eq!(&got, b"humidity: 61%");
        let mut one = anonymous(4096).unwrap();
        one.write(b"x").unwrap();
        assert!(one.read(&mut [0u8; 4097]).is_err());
    }
}
