//! Setups of the queue rows: two POSIX message queues, two System V queues (with a key or
//! IPC_PRIVATE).

use std::hash::BuildHasher;
use std::io;
use std::os::fd::{AsFd, AsRawFd};
use std::path::Path;

use nix::sys::stat::{Mode, fchmod};

use super::{MESSAGE, checked, sys};
use crate::measure::pattern;

/// Two queues, one per direction, created exclusively (0600) and opened once each for reading
/// and writing, as the mq row's ends share them; the names removed at once.
#[cfg(target_os = "linux")]
pub(super) fn queues(_: &Path) -> io::Result<()> {
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

pub(super) fn sysv_named(_: &Path) -> io::Result<()> {
    sysv_queues(true)
}

pub(super) fn sysv_private(_: &Path) -> io::Result<()> {
    sysv_queues(false)
}
