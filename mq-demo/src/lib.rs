//! POSIX message queues (mq_overview(7)) as a small library: the queue owner, the limits read
//! from /proc, the `Task` wire format, and the duplex endpoints that `compare` measures.
//!
//! Linux only: here a queue descriptor is a file descriptor, so it can be poll()ed, and the
//! limits live under /proc/sys/fs/mqueue. The tour (src/tour.rs) uses these same items.
#![cfg(target_os = "linux")]

use std::fmt;
use std::io::{self, Read, Write};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::time::Duration;

use nix::errno::Errno;
use nix::fcntl::OFlag;
use nix::mqueue::{
    MQ_OFlag, MqAttr, MqdT, mq_attr_member_t, mq_close, mq_getattr, mq_open, mq_receive, mq_send,
    mq_timedreceive, mq_unlink,
};
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use nix::sys::resource::{Resource, getrlimit};
use nix::sys::stat::Mode;
use nix::sys::time::TimeSpec;
use nix::time::{ClockId, clock_gettime};

/// This mechanism's row of the lecture's design-space table, as (column, value) pairs in the
/// order data, structure, direction, naming, coordination, persistence.
pub const DESIGN_ROW: [(&str, &str); 6] = [
    ("data", "copy through kernel"),
    ("structure", "messages, by priority"),
    ("direction", "bidirectional"),
    ("naming", "/name (mqueue fs)"),
    ("coordination", "kernel blocks and wakes"),
    ("persistence", "until mq_unlink or reboot"),
];

// ---------------------------------------------------------------------------------------------
// Names
// ---------------------------------------------------------------------------------------------

/// Longest name after the leading '/' (NAME_MAX); longer names fail with ENAMETOOLONG.
pub const NAME_MAX: usize = 255;

/// Checks a queue name the way mq_overview(7) defines it: '/', then 1 to 255 characters, none
/// of them '/'. Returns the reason a name is invalid.
pub fn check_name(name: &str) -> Result<(), String> {
    let Some(rest) = name.strip_prefix('/') else {
        return Err("a queue name must start with '/' (e.g. /jobs)".into());
    };
    if rest.is_empty() || rest == "." || rest == ".." {
        return Err("a queue name needs characters after the '/' (e.g. /jobs)".into());
    }
    if rest.contains('/') {
        return Err("a queue name may contain '/' only as its first character".into());
    }
    if rest.len() > NAME_MAX {
        return Err(format!(
            "a queue name is at most {NAME_MAX} bytes after the '/'; this one has {}",
            rest.len()
        ));
    }
    Ok(())
}

/// A name unique to this process and call: `/ipc-tour-mq-<pid>-<4 hex digits>` (<= 25 chars),
/// so two runs never collide and a stale name from a killed run is never reused.
pub fn unique_name() -> String {
    format!(
        "/ipc-tour-mq-{}-{:04x}",
        std::process::id(),
        rand::random::<u16>()
    )
}

/// Removes queues left by killed runs: names made by [`unique_name`] whose pid is no longer
/// running. Needs the mqueue file system mounted on /dev/mqueue to list them (it is not by
/// default); without it this finds nothing. Returns the names removed.
pub fn remove_stale_queues() -> Vec<String> {
    let Ok(dir) = std::fs::read_dir("/dev/mqueue") else {
        return Vec::new();
    };
    let mut removed = Vec::new();
    for entry in dir.flatten() {
        let file = entry.file_name().to_string_lossy().into_owned();
        let Some(pid) = file
            .strip_prefix("ipc-tour-mq-")
            .and_then(|rest| rest.split('-').next())
        else {
            continue;
        };
        let Ok(pid) = pid.parse::<i32>() else {
            continue;
        };
        // kill(pid, 0) sends nothing; ESRCH means no such process (EPERM: alive, another user's).
        let dead =
            nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), None) == Err(Errno::ESRCH);
        let name = format!("/{file}");
        if pid > 0 && dead && mq_unlink(name.as_str()).is_ok() {
            removed.push(name);
        }
    }
    removed
}

// ---------------------------------------------------------------------------------------------
// Limits (/proc/sys/fs/mqueue, RLIMIT_MSGQUEUE)
// ---------------------------------------------------------------------------------------------

const PROC_DIR: &str = "/proc/sys/fs/mqueue";

fn read_proc(knob: &str) -> io::Result<usize> {
    let path = format!("{PROC_DIR}/{knob}");
    let text = std::fs::read_to_string(&path)
        .map_err(|e| io::Error::new(e.kind(), format!("read {path}: {e}")))?;
    text.trim().parse().map_err(|e| {
        io::Error::new(
            io::ErrorKind::InvalidData,
            format!("read {path}: {text:?}: {e}"),
        )
    })
}

/// The largest message an unprivileged process may give a queue (/proc/sys/fs/mqueue/msgsize_max).
pub fn msgsize_max() -> io::Result<usize> {
    read_proc("msgsize_max")
}

/// The most messages an unprivileged process may give a queue (/proc/sys/fs/mqueue/msg_max).
pub fn msg_max() -> io::Result<usize> {
    read_proc("msg_max")
}

/// How many queues may exist system-wide (/proc/sys/fs/mqueue/queues_max).
pub fn queues_max() -> io::Result<usize> {
    read_proc("queues_max")
}

/// This process's soft RLIMIT_MSGQUEUE: the bytes all queues of this user may reserve.
pub fn rlimit_msgqueue() -> io::Result<u64> {
    let (soft, _hard) = getrlimit(Resource::RLIMIT_MSGQUEUE)
        .map_err(|e| io::Error::other(format!("getrlimit RLIMIT_MSGQUEUE: {e}")))?;
    Ok(soft)
}

/// Refuses a queue that an ordinary user could not create. Root (CAP_SYS_RESOURCE) may exceed
/// msg_max and msgsize_max, so we check ourselves: the demo behaves the same for everybody.
pub fn check_size(maxmsg: usize, msgsize: usize) -> io::Result<()> {
    let too_big = |what: String, knob: &str, limit: usize, wanted: usize| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            format!(
                "{what} exceeds {PROC_DIR}/{knob} ({limit}); \
                 raise it with sysctl fs.mqueue.{knob}={wanted}"
            ),
        )
    };
    if maxmsg == 0 || msgsize == 0 {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("a queue needs maxmsg >= 1 and msgsize >= 1 (got {maxmsg} and {msgsize})"),
        ));
    }
    let limit = msgsize_max()?;
    if msgsize > limit {
        return Err(too_big(
            format!("message of {msgsize} bytes"),
            "msgsize_max",
            limit,
            msgsize,
        ));
    }
    let limit = msg_max()?;
    if maxmsg > limit {
        return Err(too_big(
            format!("queue of {maxmsg} messages"),
            "msg_max",
            limit,
            maxmsg,
        ));
    }
    Ok(())
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
        (Errno::ENOENT, _) => "; no queue has that name (mq-demo create makes one)".into(),
        (Errno::EACCES, _) => "; the queue's mode does not let this user open it".into(),
        _ => String::new(),
    };
    io::Error::new(
        io::Error::from(e).kind(),
        format!("mq_open {name}: {e}{why}"),
    )
}

/// An absolute CLOCK_REALTIME deadline `timeout` from now, as mq_timedreceive wants it.
fn deadline(timeout: Duration) -> nix::Result<TimeSpec> {
    Ok(clock_gettime(ClockId::CLOCK_REALTIME)? + TimeSpec::from_duration(timeout))
}

// ---------------------------------------------------------------------------------------------
// The queue owner
// ---------------------------------------------------------------------------------------------

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
    /// Creates a new queue exclusively (O_CREAT | O_EXCL, mode 0600) holding at most `maxmsg`
    /// messages of `msgsize` bytes, after checking both against /proc. Drop removes the name.
    pub fn create(name: &str, flags: MQ_OFlag, maxmsg: usize, msgsize: usize) -> io::Result<Queue> {
        check_size(maxmsg, msgsize)?;
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
        Ok(Queue {
            mqd: Some(mqd),
            name: name.into(),
            msgsize,
            unlink_on_drop: true,
        })
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

    /// The queue's name, e.g. `/ipc-tour-mq-4242-1a2b-d`.
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

// ---------------------------------------------------------------------------------------------
// The Task wire format
// ---------------------------------------------------------------------------------------------

/// A unit of work for a worker, as in the lecture.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Task {
    pub task_type: u32,
    pub payload: String,
}

/// Bytes before the payload in an encoded Task.
pub const TASK_HEADER_LEN: usize = 9;
/// The format version this code writes and accepts.
pub const TASK_VERSION: u8 = 1;

/// Why a message is not a Task.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TaskError {
    /// Fewer bytes than the 9-byte header.
    Short(usize),
    /// A version byte other than 1 (another program's message, or a newer format).
    Version(u8),
    /// The header's payload length does not match the bytes that came after it.
    Length { declared: u32, actual: usize },
    /// The payload is not UTF-8.
    NotUtf8,
}

impl fmt::Display for TaskError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TaskError::Short(n) => write!(
                f,
                "{n}-byte message is shorter than the {TASK_HEADER_LEN}-byte Task header"
            ),
            TaskError::Version(v) => write!(f, "Task format version {v}, expected {TASK_VERSION}"),
            TaskError::Length { declared, actual } => {
                write!(
                    f,
                    "header says {declared} payload bytes, message has {actual}"
                )
            }
            TaskError::NotUtf8 => write!(f, "Task payload is not UTF-8"),
        }
    }
}

impl std::error::Error for TaskError {}

impl Task {
    /// One Task as one message (the priority travels beside it, in the queue):
    ///
    /// | bytes   | field                                        |
    /// |---------|----------------------------------------------|
    /// | 0       | format version, 1                            |
    /// | 1..5    | task_type, u32 little-endian                 |
    /// | 5..9    | payload length N, u32 little-endian          |
    /// | 9..9+N  | payload, UTF-8; the message is exactly 9+N   |
    ///
    /// The queue already keeps the message length; repeating it in the header is what lets
    /// `decode` tell a truncated or foreign message from a Task.
    pub fn encode(&self) -> Vec<u8> {
        let payload = self.payload.as_bytes();
        let len = u32::try_from(payload.len()).unwrap_or(u32::MAX); // any queue is far smaller
        let mut msg = Vec::with_capacity(TASK_HEADER_LEN + payload.len());
        msg.push(TASK_VERSION);
        msg.extend_from_slice(&self.task_type.to_le_bytes());
        msg.extend_from_slice(&len.to_le_bytes());
        msg.extend_from_slice(payload);
        msg
    }

    /// Checks and decodes one message. Allocates at most the message's own length.
    pub fn decode(msg: &[u8]) -> Result<Task, TaskError> {
        let Some((header, payload)) = msg.split_at_checked(TASK_HEADER_LEN) else {
            return Err(TaskError::Short(msg.len()));
        };
        if header[0] != TASK_VERSION {
            return Err(TaskError::Version(header[0]));
        }
        let word = |at: usize| {
            u32::from_le_bytes([header[at], header[at + 1], header[at + 2], header[at + 3]])
        };
        let (task_type, declared) = (word(1), word(5));
        if usize::try_from(declared) != Ok(payload.len()) {
            return Err(TaskError::Length {
                declared,
                actual: payload.len(),
            });
        }
        let payload = std::str::from_utf8(payload).map_err(|_| TaskError::NotUtf8)?;
        Ok(Task {
            task_type,
            payload: payload.to_owned(),
        })
    }
}

// ---------------------------------------------------------------------------------------------
// Duplex endpoints for `compare`
// ---------------------------------------------------------------------------------------------

/// One side of a [`duplex`] pair: sends on one queue, receives on the other, and holds the
/// only write end of a "liveness" pipe whose read end the peer polls: when this side's process
/// dies (even by SIGKILL) the kernel closes it and the peer sees POLLHUP at once.
#[derive(Debug)]
pub struct End {
    tx: Queue,
    rx: Queue,
    msg_size: usize,
    buf: Vec<u8>, // a received message not yet read out, at buf[pos..len]
    pos: usize,
    len: usize,
    _alive: OwnedFd,     // write end: closed when this process dies
    peer_alive: OwnedFd, // read end: POLLHUP when the peer's process has died
}

/// A connected pair of endpoints carrying messages of `msg_size` bytes both ways. Called before
/// fork(); after fork the parent drops `.1`, the child drops `.0`. One message = one
/// `write_all(&buf[..msg_size])` on one end, one `read_exact(&mut buf[..msg_size])` on the other.
/// Two queues (one per direction) whose names are unlinked before this returns, so nothing
/// named is left behind. When the peer process has died, a read that would block returns EOF
/// (after any messages still queued) and a write that would block returns BrokenPipe, at once.
/// A `msg_size` above msgsize_max is an Err naming the limit and the knob.
pub fn duplex(msg_size: usize) -> io::Result<(End, End)> {
    let maxmsg = msg_max()?.min(10);
    let base = unique_name();
    let flags = MQ_OFlag::O_NONBLOCK;
    let mut ab = Queue::create(
        &format!("{base}-ab"),
        flags | MQ_OFlag::O_WRONLY,
        maxmsg,
        msg_size,
    )?;
    let mut ba = Queue::create(
        &format!("{base}-ba"),
        flags | MQ_OFlag::O_WRONLY,
        maxmsg,
        msg_size,
    )?;
    let ab_rx = Queue::open(ab.name(), flags | MQ_OFlag::O_RDONLY)?;
    let ba_rx = Queue::open(ba.name(), flags | MQ_OFlag::O_RDONLY)?;
    ab.unlink()?;
    ba.unlink()?;
    let pipe = || {
        nix::unistd::pipe2(OFlag::O_CLOEXEC).map_err(|e| io::Error::other(format!("pipe2: {e}")))
    };
    let (a_alive_r, a_alive_w) = pipe()?;
    let (b_alive_r, b_alive_w) = pipe()?;
    let end = |tx, rx, alive, peer_alive| End {
        tx,
        rx,
        msg_size,
        buf: vec![0; msg_size],
        pos: 0,
        len: 0,
        _alive: alive,
        peer_alive,
    };
    Ok((
        end(ab, ba_rx, a_alive_w, b_alive_r),
        end(ba, ab_rx, b_alive_w, a_alive_r),
    ))
}

impl End {
    /// Blocks until `queue` is ready for `events` (true) or the peer has died (false).
    fn wait(&self, queue: &Queue, events: PollFlags) -> io::Result<bool> {
        let mut fds = [
            PollFd::new(queue.as_fd(), events),
            PollFd::new(self.peer_alive.as_fd(), PollFlags::POLLIN),
        ];
        poll(&mut fds, PollTimeout::NONE).map_err(io::Error::from)?; // EINTR -> Interrupted
        let ready = |fd: &PollFd| fd.revents().is_some_and(|r| !r.is_empty());
        Ok(ready(&fds[0]) || !ready(&fds[1]))
    }
}

impl Read for End {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        if self.pos == self.len {
            // No leftover: take the next message, straight into `out` when it is big enough.
            loop {
                let direct = out.len() >= self.msg_size;
                let target = if direct { &mut *out } else { &mut self.buf[..] };
                match self.rx.receive(target) {
                    Ok((n, _)) if direct => return Ok(n),
                    Ok((n, _)) => (self.pos, self.len) = (0, n),
                    Err(Errno::EAGAIN) => {
                        if self.wait(&self.rx, PollFlags::POLLIN)? {
                            continue;
                        }
                        // The peer is gone; take what it sent before dying, then EOF.
                        match self.rx.receive(&mut self.buf) {
                            Ok((n, _)) => (self.pos, self.len) = (0, n),
                            Err(Errno::EAGAIN) => return Ok(0),
                            Err(e) => return Err(self.rx.error("mq_receive", e)),
                        }
                    }
                    Err(e) => return Err(self.rx.error("mq_receive", e)),
                }
                break;
            }
        }
        let n = out.len().min(self.len - self.pos);
        out[..n].copy_from_slice(&self.buf[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

impl Write for End {
    /// Sends up to `msg_size` bytes of `data` as one message.
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        let message = &data[..data.len().min(self.msg_size)];
        if message.is_empty() {
            return Ok(0);
        }
        loop {
            match self.tx.send(message, 0) {
                Ok(()) => return Ok(message.len()),
                Err(Errno::EAGAIN) => {
                    if !self.wait(&self.tx, PollFlags::POLLOUT)? {
                        return Err(io::Error::new(
                            io::ErrorKind::BrokenPipe,
                            format!("mq_send {}: the receiving process has died", self.tx.name()),
                        ));
                    }
                }
                Err(e) => return Err(self.tx.error("mq_send", e)),
            }
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}
