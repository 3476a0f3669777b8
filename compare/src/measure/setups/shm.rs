//! Setups of the shared-memory rows: a named object (shm_open) mapped by both sides, an
//! anonymous shared mapping, and a sealed memfd passed over a Unix socket.

use std::io::{self, IoSlice, IoSliceMut};
use std::num::NonZeroUsize;
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::ptr::NonNull;

use nix::fcntl::{FcntlArg, OFlag, SealFlag, fcntl};
use nix::sys::memfd::{MFdFlags, memfd_create};
use nix::sys::mman::{MapFlags, ProtFlags, mmap, munmap, shm_open, shm_unlink};
use nix::sys::socket::{ControlMessage, ControlMessageOwned, MsgFlags, recvmsg, sendmsg};
use nix::sys::stat::{Mode, fchmod, fstat};
use nix::unistd::ftruncate;
use plumbing::names;

use super::{MESSAGE, checked, sys};
use crate::measure::pattern;

/// What the shm rows map for 64-byte messages: two rings of 64 KiB, each with its 256-byte
/// control block.
const SHM_LEN: usize = 2 * 256 + 2 * (64 << 10);

/// One side's `MAP_SHARED` view of a shared-memory object; `Drop` unmaps it.
struct View {
    ptr: NonNull<libc::c_void>,
}

impl View {
    fn map(fd: impl AsFd) -> io::Result<View> {
        let len = NonZeroUsize::new(SHM_LEN).ok_or_else(|| io::Error::other("length 0"))?;
        let prot = ProtFlags::PROT_READ | ProtFlags::PROT_WRITE;
        // SAFETY: a new mapping at an address the kernel picks overlaps no Rust object. The
        // object is ours alone (made exclusively, mode 0600, or an unnamed memfd sealed against
        // shrinking) and at least SHM_LEN bytes long, so touching it cannot raise SIGBUS.
        let ptr = unsafe { mmap(None, len, prot, MapFlags::MAP_SHARED, fd, 0) };
        sys("mmap", ptr).map(|ptr| View { ptr })
    }

    /// The first 64 bytes.
    fn message(&mut self) -> &mut [u8] {
        // SAFETY: the mapping is SHM_LEN >= MESSAGE bytes, readable and writable, and alive
        // while `self` is; only this process maps it, and `&mut self` makes the slice unique
        // among this view's users (a second view of the same object is written and read in
        // turn by this one thread, never at once).
        unsafe { std::slice::from_raw_parts_mut(self.ptr.as_ptr().cast(), MESSAGE) }
    }
}

impl Drop for View {
    fn drop(&mut self) {
        // SAFETY: `ptr` and SHM_LEN are this view's own mapping, and no slice from `message`
        // outlives the `&mut self` borrow that made it.
        let _ = unsafe { munmap(self.ptr, SHM_LEN) };
    }
}

/// A message written through one view and checked through the other.
fn across(from: &mut View, to: &mut View) -> io::Result<()> {
    pattern::fill(from.message(), 0);
    checked(to.message())
}

/// Names of the named objects, as /dev/shm lists them: `ipc-tour-cmp-<pid>-<random>` (30
/// characters at most with the leading '/').
const NAME_PREFIX: &str = "ipc-tour-cmp-";

/// Removes the objects a killed run left between its shm_open and shm_unlink (a window of
/// microseconds): ours by uid, with a dead pid in the name.
pub(super) fn remove_stale() {
    names::sweep(Path::new("/dev/shm"), NAME_PREFIX, |path| {
        let name = path.file_name().unwrap_or_default().to_string_lossy();
        sys("shm_unlink", shm_unlink(format!("/{name}").as_str()))
    });
}

/// Creator: shm_open exclusively (0600), ftruncate, mmap; the peer: shm_open, mmap; then the
/// name is removed.
pub(super) fn shm_named(_: &Path) -> io::Result<()> {
    let name = names::unique(&format!("/{NAME_PREFIX}"), 8);
    let flags = OFlag::O_CREAT | OFlag::O_EXCL | OFlag::O_RDWR;
    let owner = sys(
        "shm_open",
        shm_open(name.as_str(), flags, Mode::S_IRUSR | Mode::S_IWUSR),
    )?;
    let made = sys("fchmod", fchmod(&owner, Mode::S_IRUSR | Mode::S_IWUSR))
        .and_then(|()| sys("ftruncate", ftruncate(&owner, SHM_LEN as libc::off_t)))
        .and_then(|()| View::map(&owner))
        .and_then(|ours| {
            let peer = sys(
                "shm_open",
                shm_open(name.as_str(), OFlag::O_RDWR, Mode::empty()),
            )?;
            Ok((ours, View::map(peer)?))
        });
    let unlinked = sys("shm_unlink", shm_unlink(name.as_str()));
    let (mut ours, mut theirs) = made?;
    unlinked?;
    across(&mut ours, &mut theirs)
}

pub(super) fn shm_anonymous(_: &Path) -> io::Result<()> {
    let map = shm_demo::SharedMapping::new(SHM_LEN)?;
    // SAFETY: the mapping is SHM_LEN >= MESSAGE bytes and lives until the end of this
    // function; nothing else in this process uses it (a forked peer would share these pages).
    let bytes = unsafe { std::slice::from_raw_parts_mut(map.as_ptr(), MESSAGE) };
    pattern::fill(bytes, 0);
    checked(bytes)
}

/// memfd_create, ftruncate, seals (no shrinking, growing or more seals), mmap; passed over a
/// Unix socket pair (SCM_RIGHTS); the receiver checks the seals and size, then maps it.
pub(super) fn memfd_handoff(_: &Path) -> io::Result<()> {
    let (sender, receiver) = UnixStream::pair()?;
    let flags = MFdFlags::MFD_CLOEXEC | MFdFlags::MFD_ALLOW_SEALING;
    let memfd = sys("memfd_create", memfd_create(c"ipc-tour-compare", flags))?;
    sys("ftruncate", ftruncate(&memfd, SHM_LEN as libc::off_t))?;
    let seals = SealFlag::F_SEAL_SHRINK | SealFlag::F_SEAL_GROW | SealFlag::F_SEAL_SEAL;
    sys(
        "fcntl F_ADD_SEALS",
        fcntl(&memfd, FcntlArg::F_ADD_SEALS(seals)),
    )?;
    let mut ours = View::map(&memfd)?;
    let fds = [memfd.as_raw_fd()];
    let passed = [ControlMessage::ScmRights(&fds)];
    let sent = sendmsg::<()>(
        sender.as_raw_fd(),
        &[IoSlice::new(b"M")],
        &passed,
        MsgFlags::empty(),
        None,
    );
    sys("sendmsg SCM_RIGHTS", sent)?;
    let received = receive_fd(&receiver)?;
    let got = sys("fcntl F_GET_SEALS", fcntl(&received, FcntlArg::F_GET_SEALS))?;
    let size = sys("fstat", fstat(&received))?.st_size;
    if !SealFlag::from_bits_truncate(got).contains(seals) || size != SHM_LEN as libc::off_t {
        return Err(io::Error::other(
            "the memfd arrived without its seals or size",
        ));
    }
    let mut theirs = View::map(&received)?;
    across(&mut ours, &mut theirs)
}

/// recvmsg(2) of one byte and the descriptor that rides with it.
fn receive_fd(socket: &UnixStream) -> io::Result<OwnedFd> {
    let mut byte = [0u8; 1];
    let mut iov = [IoSliceMut::new(&mut byte)];
    let mut space = nix::cmsg_space!([RawFd; 1]);
    let msg = recvmsg::<()>(
        socket.as_raw_fd(),
        &mut iov,
        Some(&mut space),
        MsgFlags::MSG_CMSG_CLOEXEC,
    );
    let msg = sys("recvmsg", msg)?;
    let mut received = None;
    for cmsg in sys("recvmsg control data", msg.cmsgs())? {
        if let ControlMessageOwned::ScmRights(fds) = cmsg {
            for fd in fds {
                // SAFETY: the kernel has just installed `fd` in our table for this message and
                // nothing else owns it; keeping the first and dropping any other closes them.
                let owned = unsafe { OwnedFd::from_raw_fd(fd) };
                received.get_or_insert(owned);
            }
        }
    }
    received.ok_or_else(|| io::Error::other("recvmsg: the message carried no descriptor"))
}
