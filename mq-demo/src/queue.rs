//! The queue owner: an open queue descriptor whose Drop closes it and, for the side that
//! created the name, removes the name.

use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd};
use std::time::Duration;

use nix::errno::Errno;
use nix::mqueue::{
    MQ_OFlag, MqAttr, MqdT, mq_attr_member_t, mq_close, mq_getattr, mq_open, mq_receive, mq_send,
    mq_timedreceive, mq_unlink,
};
use nix::sys::stat::{Mode, fchmod};
use nix::sys::time::TimeSpec;
use nix::time::{ClockId, clock_gettime};

use crate::queue_limits::{PROC_DIR, check_size, queues_max, rlimit_msgqueue};

/// An open message queue descriptor. Drop closes it (mq_close) and, if this side created the
/// name and has not unlinked it yet, removes the name (mq_unlink): one owner per queue.
#[derive(Debug)]
pub struct Queue {
    mqd: Option<MqdT>, // None only inside Drop
    name: String,
    msgsize: usize,
    unlink_on_drop: bool,
}

impl Queue {
    /// Creates a new queue exclusively (O_CREAT | O_EXCL, mode exactly 0600 whatever the umask) holding at most `maxmsg`
    /// messages of `msgsize` bytes, after checking both against /proc. Drop removes the name.
    pub fn create(name: &str, flags: MQ_OFlag, maxmsg: usize, msgsize: usize) -> io::Result<Queue> {
        check_size(maxmsg, msgsize)?;
        Queue::create_checked(name, flags, maxmsg, msgsize)
    }

    /// [`Queue::create`] for sizes checked against /proc already (reading it costs more than
    /// making a queue: a setup that is timed checks once).
    pub(crate) fn create_checked(
        name: &str,
        flags: MQ_OFlag,
        maxmsg: usize,
        msgsize: usize,
    ) -> io::Result<Queue> {
        let attr = MqAttr::new(
            0,
            maxmsg as mq_attr_member_t,
            msgsize as mq_attr_member_t,
            0,
        );
        let flags = flags | MQ_OFlag::O_CREAT | MQ_OFlag::O_EXCL;
        let mode = Mode::S_IRUSR | Mode::S_IWUSR;
        let mqd = mq_open(name, flags, mode, Some(&attr))
            .map_err(|e| open_error(name, e, Some((maxmsg, msgsize))))?;
        let queue = Queue {
            mqd: Some(mqd),
            name: name.into(),
            msgsize,
            unlink_on_drop: true,
        };
        // mq_open applies the umask (0277 would leave 0400); fchmod does not. On Linux a queue
        // descriptor is a file descriptor of the mqueue file system.
        fchmod(queue.as_fd(), mode).map_err(|e| queue.error("fchmod 0600", e))?;
        Ok(queue)
    }

    /// Opens an existing queue. Drop only closes it: the name belongs to whoever created it.
    pub fn open(name: &str, flags: MQ_OFlag) -> io::Result<Queue> {
        let mqd =
            mq_open(name, flags, Mode::empty(), None).map_err(|e| open_error(name, e, None))?;
        Queue {
            mqd: Some(mqd),
            name: name.into(),
            msgsize: 0,
            unlink_on_drop: false,
        }
        .with_msgsize()
    }

    fn with_msgsize(mut self) -> io::Result<Queue> {
        let attr = self.attr().map_err(|e| self.error("mq_getattr", e))?;
        self.msgsize = usize::try_from(attr.msgsize()).unwrap_or(0);
        Ok(self)
    }

    fn mqd(&self) -> &MqdT {
        self.mqd
            .as_ref()
            .expect("the descriptor is taken only in Drop")
    }

    /// The queue's name, e.g. `/ipc-tour-mq-4242-1a2b3c4d`.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// mq_msgsize: the largest message, and the smallest buffer mq_receive accepts.
    pub fn msgsize(&self) -> usize {
        self.msgsize
    }

    /// `"<call> <name>: <errno>"`, for errors of calls on this queue.
    pub fn error(&self, call: &str, e: Errno) -> io::Error {
        io::Error::new(
            io::Error::from(e).kind(),
            format!("{call} {}: {e}", self.name),
        )
    }

    /// Removes the name now; the open descriptors keep the queue itself alive. Call it once
    /// every process that needs the queue has it open, so that a crash leaks nothing.
    pub fn unlink(&mut self) -> io::Result<()> {
        mq_unlink(self.name.as_str()).map_err(|e| self.error("mq_unlink", e))?;
        self.unlink_on_drop = false;
        Ok(())
    }

    /// Leaves the name in place when this owner is dropped (`mq-demo create` wants the queue
    /// to outlive the process).
    pub fn keep_name(mut self) {
        self.unlink_on_drop = false;
    }

    /// mq_getattr: flags, maxmsg, msgsize and curmsgs (messages waiting now).
    pub fn attr(&self) -> nix::Result<MqAttr> {
        mq_getattr(self.mqd())
    }

    /// mq_send: one message, whole, at `priority` (higher is received first).
    pub fn send(&self, message: &[u8], priority: u32) -> nix::Result<()> {
        mq_send(self.mqd(), message, priority)
    }

    /// mq_timedsend: like `send`, but a sender blocked on a full queue gives up with ETIMEDOUT
    /// after `timeout`. (nix 0.32 has no wrapper, so this calls libc directly.)
    pub fn send_timeout(
        &self,
        message: &[u8],
        priority: u32,
        timeout: Duration,
    ) -> nix::Result<()> {
        let until = deadline(timeout)?;
        // SAFETY: the pointer and length describe `message`, which outlives the call; the kernel
        // copies the bytes and keeps no pointer. The descriptor is open while `self` lives, and
        // `until` is a valid timespec. Another process can only change the queue's contents,
        // which the kernel serialises.
        let res = unsafe {
            libc::mq_timedsend(
                self.mqd().as_raw_fd(),
                message.as_ptr().cast(),
                message.len(),
                priority,
                until.as_ref(),
            )
        };
        Errno::result(res).map(drop)
    }

    /// mq_receive: the oldest message of the highest priority, whole. `buf` must hold at least
    /// `msgsize()` bytes (else EMSGSIZE, even for a short message). Returns (length, priority).
    pub fn receive(&self, buf: &mut [u8]) -> nix::Result<(usize, u32)> {
        let mut priority = 0;
        let len = mq_receive(self.mqd(), buf, &mut priority)?;
        Ok((len, priority))
    }

    /// mq_timedreceive: like `receive`, but gives up with ETIMEDOUT after `timeout`.
    pub fn receive_timeout(&self, buf: &mut [u8], timeout: Duration) -> nix::Result<(usize, u32)> {
        let mut priority = 0;
        let len = mq_timedreceive(self.mqd(), buf, &mut priority, &deadline(timeout)?)?;
        Ok((len, priority))
    }
}

impl AsFd for Queue {
    /// On Linux a queue descriptor is a file descriptor: poll() reports POLLIN when a message
    /// waits and POLLOUT when there is room.
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.mqd().as_fd()
    }
}

impl Drop for Queue {
    fn drop(&mut self) {
        if let Some(mqd) = self.mqd.take() {
            let _ = mq_close(mqd); // nothing useful to do about a failed close in Drop
        }
        if self.unlink_on_drop {
            let _ = mq_unlink(self.name.as_str());
        }
    }
}

/// Turns an mq_open failure into one line that says which limit was hit and what to do.
fn open_error(name: &str, e: Errno, size: Option<(usize, usize)>) -> io::Error {
    let why = match (e, size) {
        (Errno::EMFILE | Errno::ENOMEM, Some((maxmsg, msgsize))) => {
            let limit = rlimit_msgqueue().map_or("?".into(), |l| l.to_string());
            format!(
                "; a queue of {maxmsg} x {msgsize} bytes does not fit in what is left of this \
                 user's RLIMIT_MSGQUEUE ({limit} bytes for all the user's queues): remove unused \
                 queues or raise it (ulimit -q, prlimit --msgqueue)"
            )
        }
        (Errno::EMFILE, _) => "; too many open files (ulimit -n)".into(),
        (Errno::ENOSPC, _) => {
            let limit = queues_max().map_or("?".into(), |l| l.to_string());
            format!(
                "; {PROC_DIR}/queues_max ({limit}) queues exist already: remove unused ones \
                 or raise it with sysctl fs.mqueue.queues_max=..."
            )
        }
        (Errno::EEXIST, _) => {
            "; the name is taken: pick another or remove it (mq-demo unlink)".into()
        }
        (Errno::ENOENT, _) => "; no queue has that name (`create` makes one)".into(),
        (Errno::EACCES, _) => "; the queue's mode does not let this user open it".into(),
        _ => String::new(),
    };
    // With an explanation of our own, the errno's name is enough ("ENOENT; no queue ...").
    let errno = if why.is_empty() {
        e.to_string()
    } else {
        format!("{e:?}")
    };
    io::Error::new(
        io::Error::from(e).kind(),
        format!("mq_open {name}: {errno}{why}"),
    )
}

/// An absolute CLOCK_REALTIME deadline `timeout` from now, as mq_timedreceive wants it.
fn deadline(timeout: Duration) -> nix::Result<TimeSpec> {
    Ok(clock_gettime(ClockId::CLOCK_REALTIME)? + TimeSpec::from_duration(timeout))
}
