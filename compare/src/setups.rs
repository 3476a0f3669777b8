//! Setup cost, like for like. Each row lists the ways its channel can be made, each one timed
//! from nothing to a two-way channel that has carried one checked 64-byte message, and back to
//! nothing (every descriptor closed, every name removed). A mechanism with names is measured in
//! its named form (the names created exclusively, mode 0600, opened or connected, removed) and,
//! where it has one, in its anonymous form (the peer would inherit it through fork); shared
//! memory also as a sealed memfd handed over a Unix socket. Both halves run in this process and
//! nothing is forked: a fork costs the same for every row.
//!
//! Rows are found by their key ([`of`]), so a row without entries just reports that. The names
//! of path-named objects live in a private directory (0700) made once per measurement, outside
//! the timing: every path-named mechanism needs one, and it costs the same for each.

use std::fs::{self, Permissions};
use std::hash::BuildHasher;
use std::io::{self, IoSlice, IoSliceMut, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::num::NonZeroUsize;
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::{UnixDatagram, UnixListener, UnixStream};
use std::path::Path;
use std::ptr::NonNull;
use std::sync::Once;
use std::time::{Duration, Instant};

use nix::fcntl::{FcntlArg, OFlag, SealFlag, fcntl};
use nix::sys::memfd::{MFdFlags, memfd_create};
use nix::sys::mman::{MapFlags, ProtFlags, mmap, munmap, shm_open, shm_unlink};
use nix::sys::socket::{ControlMessage, ControlMessageOwned, MsgFlags, recvmsg, sendmsg};
use nix::sys::stat::{Mode, fchmod, fstat};
use nix::unistd::{ftruncate, getpid, mkfifo};
use plumbing::names::{self, PrivateDir};
use plumbing::stop;

use crate::harness::{Skip, median_us};
use crate::pattern;

/// One way to make a row's channel.
#[derive(Clone, Copy)]
pub struct Setup {
    /// what is timed, said in its system calls: "named: bind + listen + connect + accept"
    pub label: &'static str,
    /// One setup: from nothing to one checked message across, then everything closed and
    /// removed. `dir` is a private directory for path names, made once outside the timing.
    pub run: fn(dir: &Path) -> io::Result<()>,
}

/// Every way `key`'s channel can be made, the headline first: the named form where the
/// mechanism has names, else its only form. Empty for a row with no entries here.
pub fn of(key: &str) -> &'static [Setup] {
    match key {
        "pipe" => &[Setup {
            label: "anonymous: 2 x pipe",
            run: pipes,
        }],
        "fifo" => &[Setup {
            label: "named: 2 x mkfifo, open both ends",
            run: fifos,
        }],
        "signal" => &[Setup {
            label: "no object: ring ourselves by pid",
            run: ring_ourselves,
        }],
        #[cfg(target_os = "linux")]
        "mq" => &[Setup {
            label: "named: 2 x mq_open + mq_unlink",
            run: queues,
        }],
        "sysv-mq" => &[
            Setup {
                label: "named: 2 x msgget(key) + IPC_RMID",
                run: sysv_named,
            },
            Setup {
                label: "private: 2 x msgget(IPC_PRIVATE) + IPC_RMID",
                run: sysv_private,
            },
        ],
        "uds-stream" => &[
            Setup {
                label: "named: bind + listen + connect + accept",
                run: unix_stream_named,
            },
            Setup {
                label: "anonymous: socketpair",
                run: unix_stream_pair,
            },
        ],
        "uds-datagram" => &[
            Setup {
                label: "named: 2 x bind + 2 x connect",
                run: unix_datagram_named,
            },
            Setup {
                label: "anonymous: socketpair",
                run: unix_datagram_pair,
            },
        ],
        "tcp" => &[Setup {
            label: "named: bind + listen + connect + accept",
            run: tcp_named,
        }],
        shm if shm.starts_with("shm") => &[
            Setup {
                label: "named: shm_open + ftruncate + mmap",
                run: shm_named,
            },
            Setup {
                label: "anonymous: mmap MAP_SHARED",
                run: shm_anonymous,
            },
            Setup {
                label: "memfd: seal, pass (SCM_RIGHTS), mmap",
                run: memfd_handoff,
            },
        ],
        _ => &[],
    }
}

/// Private directories of setup measurements: `<temp dir>/ipc-tour-compare-<pid>-<random>`.
const DIR_PREFIX: &str = "ipc-tour-compare-";

/// Times `setup` `reps` times; the median in microseconds.
pub fn measure(setup: &Setup, reps: usize) -> Result<f64, Skip> {
    static SWEEP: Once = Once::new();
    SWEEP.call_once(|| drop(PrivateDir::sweep_stale(DIR_PREFIX)));
    let failed = |e: io::Error| Skip::Failed(e.to_string());
    let dir = PrivateDir::create(DIR_PREFIX).map_err(failed)?;
    let mut times = Vec::with_capacity(reps);
    for _ in 0..reps {
        if stop::requested().is_some() {
            return Err(Skip::Stopped);
        }
        let t0 = Instant::now();
        (setup.run)(dir.path()).map_err(failed)?;
        times.push(t0.elapsed().as_nanos() as u64);
    }
    median_us(&mut times)
}

const MESSAGE: usize = 64;

/// Sends one 64-byte message from `from` to `to` and checks it.
fn one_message(from: &mut impl Write, to: &mut impl Read) -> io::Result<()> {
    let mut buf = [0u8; MESSAGE];
    pattern::fill(&mut buf, 0);
    from.write_all(&buf)?;
    buf.fill(0);
    to.read_exact(&mut buf)?;
    checked(&buf)
}

fn checked(buf: &[u8]) -> io::Result<()> {
    pattern::check(buf, 0).map_err(|m| io::Error::new(io::ErrorKind::InvalidData, m.to_string()))
}

/// `call` with its error as io::Error, naming the call.
fn sys<T>(call: &str, result: nix::Result<T>) -> io::Result<T> {
    result.map_err(|e| io::Error::new(io::Error::from(e).kind(), format!("{call}: {e}")))
}

/// Mode exactly 0600 on a path, whatever the umask took away when it was created.
fn chmod_600(path: &Path) -> io::Result<()> {
    fs::set_permissions(path, Permissions::from_mode(0o600))
}

fn pipes(_: &Path) -> io::Result<()> {
    let (mut a, mut b) = pipe_demo::duplex(MESSAGE)?;
    one_message(&mut a, &mut b)
}

/// Two FIFOs, one per direction; both ends of each opened here, in fifo_demo's order (the read
/// end without blocking first); the names removed once open.
fn fifos(dir: &Path) -> io::Result<()> {
    let mut ends = Vec::with_capacity(2);
    for name in ["to-a", "to-b"] {
        let path = dir.join(name);
        sys("mkfifo", mkfifo(&path, Mode::S_IRUSR | Mode::S_IWUSR))?;
        chmod_600(&path)?;
        ends.push(fifo_demo::open_both_ends(&path)?);
        fs::remove_file(&path)?;
    }
    let (rx, tx) = &mut ends[0];
    one_message(tx, rx)
}

fn ring_ourselves(_: &Path) -> io::Result<()> {
    signal_demo::block_doorbell()?;
    signal_demo::ring(getpid())?;
    match signal_demo::wait_doorbell(Duration::from_secs(2))? {
        true => Ok(()),
        false => Err(io::Error::other("no ring arrived within 2 s")),
    }
}

/// Two queues, one per direction, created exclusively (0600) and opened once each for reading
/// and writing, as the mq row's ends share them; the names removed at once.
#[cfg(target_os = "linux")]
fn queues(_: &Path) -> io::Result<()> {
    use nix::mqueue::{MQ_OFlag, MqAttr, MqdT, mq_attr_member_t, mq_open};
    use nix::mqueue::{mq_receive, mq_send, mq_unlink};
    /// An open queue descriptor that closes itself (nix's MqdT does not).
    struct Open(MqdT);
    impl Drop for Open {
        fn drop(&mut self) {
            // SAFETY: the descriptor is this owner's alone and is closed once, here.
            unsafe { libc::mq_close(self.0.as_raw_fd()) };
        }
    }
    static MAXMSG: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
    let maxmsg = *MAXMSG.get_or_init(|| mq_demo::msg_max().map_or(1, |n| n.min(10)));
    let attr = MqAttr::new(
        0,
        maxmsg as mq_attr_member_t,
        MESSAGE as mq_attr_member_t,
        0,
    );
    let flags = MQ_OFlag::O_CREAT | MQ_OFlag::O_EXCL | MQ_OFlag::O_RDWR;
    let mode = Mode::S_IRUSR | Mode::S_IWUSR;
    let mut queues = Vec::with_capacity(2);
    for _ in 0..2 {
        let name = mq_demo::unique_name();
        let queue = Open(sys(
            "mq_open",
            mq_open(name.as_str(), flags, mode, Some(&attr)),
        )?);
        let moded = fchmod(queue.0.as_fd(), mode);
        let unlinked = mq_unlink(name.as_str());
        sys("fchmod", moded)?;
        sys("mq_unlink", unlinked)?;
        queues.push(queue);
    }
    let queue = &queues[0].0;
    let mut buf = [0u8; MESSAGE];
    pattern::fill(&mut buf, 0);
    sys("mq_send", mq_send(queue, &buf, 0))?;
    buf.fill(0);
    sys("mq_receive", mq_receive(queue, &mut buf, &mut 0))?;
    checked(&buf)
}

/// A System V queue, removed (IPC_RMID) when dropped.
struct SysvQueue(libc::c_int);

impl SysvQueue {
    /// msgget(key, IPC_CREAT | IPC_EXCL | 0600): the mode is not subject to the umask. A named
    /// key someone else holds (EEXIST) is tried again with another random key.
    fn create(named: bool) -> io::Result<SysvQueue> {
        for _ in 0..8 {
            let key = match named {
                true => rand_key(),
                false => libc::IPC_PRIVATE,
            };
            // SAFETY: msgget takes two integers and touches no memory of ours.
            let id = unsafe { libc::msgget(key, libc::IPC_CREAT | libc::IPC_EXCL | 0o600) };
            if id >= 0 {
                return Ok(SysvQueue(id));
            }
            let e = io::Error::last_os_error();
            if e.kind() != io::ErrorKind::AlreadyExists {
                return Err(io::Error::new(e.kind(), format!("msgget: {e}")));
            }
        }
        Err(io::Error::other("msgget: 8 random keys were all taken"))
    }
}

impl Drop for SysvQueue {
    fn drop(&mut self) {
        // SAFETY: IPC_RMID takes no buffer; the id is this owner's own queue.
        unsafe { libc::msgctl(self.0, libc::IPC_RMID, std::ptr::null_mut()) };
    }
}

/// A random key (never IPC_PRIVATE, which is 0): std's per-instance random hasher seed.
fn rand_key() -> libc::key_t {
    let random = std::hash::RandomState::new().hash_one(std::process::id());
    (random as libc::key_t) | 1
}

/// Two queues, one per direction; one 64-byte message of type 1 sent and received.
fn sysv_queues(named: bool) -> io::Result<()> {
    #[repr(C)]
    struct Message {
        mtype: libc::c_long,
        mtext: [u8; MESSAGE],
    }
    let queues = [SysvQueue::create(named)?, SysvQueue::create(named)?];
    let mut message = Message {
        mtype: 1,
        mtext: [0; MESSAGE],
    };
    pattern::fill(&mut message.mtext, 0);
    let ptr = (&raw mut message).cast::<libc::c_void>();
    // SAFETY: `ptr` points at a Message: a long type, then MESSAGE bytes, as msgsnd reads it.
    if unsafe { libc::msgsnd(queues[0].0, ptr, MESSAGE, 0) } != 0 {
        return Err(io::Error::other(format!(
            "msgsnd: {}",
            io::Error::last_os_error()
        )));
    }
    message.mtext.fill(0);
    // SAFETY: msgrcv writes at most MESSAGE bytes after the type, which `message` holds.
    let got = unsafe { libc::msgrcv(queues[0].0, ptr, MESSAGE, 0, 0) };
    if got != MESSAGE as isize {
        return Err(io::Error::other(format!(
            "msgrcv: {}",
            io::Error::last_os_error()
        )));
    }
    checked(&message.mtext)
}

fn sysv_named(_: &Path) -> io::Result<()> {
    sysv_queues(true)
}

fn sysv_private(_: &Path) -> io::Result<()> {
    sysv_queues(false)
}

fn unix_stream_named(dir: &Path) -> io::Result<()> {
    let path = dir.join("stream");
    let listener = UnixListener::bind(&path)?;
    chmod_600(&path)?;
    let mut client = UnixStream::connect(&path)?;
    let (mut server, _) = listener.accept()?;
    fs::remove_file(&path)?;
    one_message(&mut client, &mut server)
}

fn unix_stream_pair(_: &Path) -> io::Result<()> {
    let (mut a, mut b) = UnixStream::pair()?;
    one_message(&mut a, &mut b)
}

fn unix_datagram_named(dir: &Path) -> io::Result<()> {
    let (a_path, b_path) = (dir.join("a"), dir.join("b"));
    let a = UnixDatagram::bind(&a_path)?;
    chmod_600(&a_path)?;
    let b = UnixDatagram::bind(&b_path)?;
    chmod_600(&b_path)?;
    a.connect(&b_path)?;
    b.connect(&a_path)?;
    fs::remove_file(&a_path)?;
    fs::remove_file(&b_path)?;
    datagram_message(&a, &b)
}

fn unix_datagram_pair(_: &Path) -> io::Result<()> {
    let (a, b) = UnixDatagram::pair()?;
    datagram_message(&a, &b)
}

fn datagram_message(from: &UnixDatagram, to: &UnixDatagram) -> io::Result<()> {
    let mut buf = [0u8; MESSAGE];
    pattern::fill(&mut buf, 0);
    from.send(&buf)?;
    buf.fill(0);
    match to.recv(&mut buf)? {
        MESSAGE => checked(&buf),
        n => Err(io::Error::other(format!(
            "a {n}-byte datagram, sent {MESSAGE}"
        ))),
    }
}

fn tcp_named(_: &Path) -> io::Result<()> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let mut client = TcpStream::connect(listener.local_addr()?)?;
    let (mut server, _) = listener.accept()?;
    one_message(&mut client, &mut server)
}

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

/// Creator: shm_open exclusively (0600), ftruncate, mmap; the peer: shm_open, mmap; then the
/// name is removed.
fn shm_named(_: &Path) -> io::Result<()> {
    let name = names::unique("/ipc-tour-compare-", 8);
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

fn shm_anonymous(_: &Path) -> io::Result<()> {
    let map = shm_demo::SharedMapping::new(SHM_LEN)?;
    // SAFETY: the mapping is SHM_LEN >= MESSAGE bytes and lives until the end of this
    // function; nothing else in this process uses it (a forked peer would share these pages).
    let bytes = unsafe { std::slice::from_raw_parts_mut(map.as_ptr(), MESSAGE) };
    pattern::fill(bytes, 0);
    checked(bytes)
}

/// memfd_create, ftruncate, seals (no shrinking, growing or more seals), mmap; passed over a
/// Unix socket pair (SCM_RIGHTS); the receiver checks the seals and size, then maps it.
fn memfd_handoff(_: &Path) -> io::Result<()> {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_entry_makes_its_channel_and_carries_the_message() {
        // Not "signal": ringing ourselves would reach any thread of the test harness.
        for key in [
            "pipe",
            "fifo",
            "mq",
            "sysv-mq",
            "shm-spin",
            "uds-stream",
            "uds-datagram",
            "tcp",
        ] {
            assert!(!of(key).is_empty(), "{key}");
            for entry in of(key) {
                let us = measure(entry, 3);
                assert!(matches!(us, Ok(us) if us > 0.0), "{key}, {}", entry.label);
            }
        }
        assert!(of("no-such-row").is_empty());
    }
}
