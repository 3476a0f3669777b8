//! System V message queues (sysvipc(7)): msgget, msgsnd, msgrcv and msgctl, which nix does
//! not wrap, behind a safe owner. Every message carries a type (> 0), and a receiver picks by
//! type: `msgtyp` 0 takes the oldest message, N > 0 the oldest of type N, -N the oldest of the
//! lowest type <= N. A queue is named by a system-wide integer key (or by nothing, with
//! IPC_PRIVATE) and lives until msgctl(IPC_RMID) or reboot: no descriptor keeps it, so the
//! owner's `Drop` removes it.

use std::ffi::CString;
use std::fs;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use nix::errno::Errno;
use nix::unistd::geteuid;
use plumbing::names::{self, PrivateDir};

pub use libc::{c_long, key_t};

/// The largest message (/proc/sys/kernel/msgmax): a longer msgsnd fails with EINVAL.
pub fn msgmax() -> io::Result<usize> {
    knob("msgmax")
}

/// The bytes one queue holds (/proc/sys/kernel/msgmnb): a msgsnd that would pass it waits.
pub fn msgmnb() -> io::Result<usize> {
    knob("msgmnb")
}

/// The largest message a queue can take: msgmax, or msgmnb if that is smaller.
pub fn largest_message() -> io::Result<usize> {
    Ok(msgmax()?.min(msgmnb()?))
}

fn knob(name: &str) -> io::Result<usize> {
    let value = plumbing::procfs::sys_knob(&format!("kernel/{name}"))?;
    usize::try_from(value).map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))
}

/// A message buffer in the layout msgsnd and msgrcv use: a `long` type, then the text. Kept
/// as `long` words so the type is aligned; the text is a byte view of the words after it.
#[derive(Debug)]
pub struct MsgBuf {
    words: Vec<c_long>,
    capacity: usize,
}

impl MsgBuf {
    /// Room for a text of up to `capacity` bytes.
    pub fn new(capacity: usize) -> MsgBuf {
        let word = size_of::<c_long>();
        MsgBuf {
            words: vec![0; 1 + capacity.div_ceil(word)],
            capacity,
        }
    }

    /// The type of the message last received into this buffer.
    pub fn mtype(&self) -> c_long {
        self.words[0]
    }

    /// The text area, `capacity` bytes.
    pub fn text(&self) -> &[u8] {
        // SAFETY: the words after the first are initialised memory of at least `capacity`
        // bytes, owned by `self` and borrowed with it; u8 has no alignment or invalid values.
        unsafe { std::slice::from_raw_parts(self.words[1..].as_ptr().cast(), self.capacity) }
    }

    /// The text area, to fill before a send.
    pub fn text_mut(&mut self) -> &mut [u8] {
        // SAFETY: as in `text`, borrowed mutably with `self`.
        unsafe {
            std::slice::from_raw_parts_mut(self.words[1..].as_mut_ptr().cast(), self.capacity)
        }
    }
}

/// A System V message queue that this process created. Drop removes it (msgctl IPC_RMID),
/// unless `keep` was called.
#[derive(Debug)]
pub struct SysvQueue {
    id: i32,
    key: key_t,
    remove_on_drop: bool,
}

impl SysvQueue {
    /// msgget(key, IPC_CREAT | IPC_EXCL | 0600): a new queue, never one that exists. The mode
    /// is exactly 0600 whatever the umask: System V IPC does not apply the umask.
    /// `key` is `libc::IPC_PRIVATE` for a queue only its id names.
    pub fn create(key: key_t) -> io::Result<SysvQueue> {
        // SAFETY: msgget takes two integers and touches no memory of ours.
        let id = unsafe { libc::msgget(key, libc::IPC_CREAT | libc::IPC_EXCL | 0o600) };
        let id = Errno::result(id).map_err(|e| {
            let why = match e {
                Errno::EEXIST => "; a queue with this key exists already (ftok keys can collide)",
                Errno::ENOSPC => "; too many queues: /proc/sys/kernel/msgmni is the limit",
                _ => "",
            };
            io::Error::new(
                io::Error::from(e).kind(),
                format!("msgget key {}: {e}{why}", show_key(key)),
            )
        })?;
        Ok(SysvQueue {
            id,
            key,
            remove_on_drop: true,
        })
    }

    pub fn id(&self) -> i32 {
        self.id
    }

    pub fn key(&self) -> key_t {
        self.key
    }

    /// msgsnd of `buf.text()[..len]` as one message of type `mtype` (> 0). `flags` 0 waits
    /// while the queue is full; IPC_NOWAIT fails with EAGAIN instead.
    pub fn send(&self, mtype: c_long, buf: &mut MsgBuf, len: usize, flags: i32) -> nix::Result<()> {
        send_id(self.id, mtype, buf, len, flags)
    }

    /// msgrcv: the oldest message that `msgtyp` selects (see the module documentation), into
    /// `buf`; returns its text length (its type is `buf.mtype()`). A message longer than the
    /// buffer fails with E2BIG and stays queued. `flags` 0 waits for one; IPC_NOWAIT fails
    /// with ENOMSG instead. A removed queue gives EIDRM (while waiting) or EINVAL.
    pub fn receive(&self, msgtyp: c_long, buf: &mut MsgBuf, flags: i32) -> nix::Result<usize> {
        receive(self.id, msgtyp, buf, flags)
    }

    /// The id, for an owner that removes the queue itself: this one no longer will.
    pub fn into_id(mut self) -> i32 {
        self.remove_on_drop = false;
        self.id
    }

    /// msgctl(IPC_RMID) now: waiting senders and receivers wake with EIDRM.
    pub fn remove(mut self) -> nix::Result<()> {
        self.remove_on_drop = false;
        remove(self.id)
    }
}

impl Drop for SysvQueue {
    fn drop(&mut self) {
        if self.remove_on_drop {
            let _ = remove(self.id); // nothing useful to do about a failure in Drop
        }
    }
}

/// msgsnd on a queue id (see [`SysvQueue::send`]).
pub(crate) fn send_id(
    id: i32,
    mtype: c_long,
    buf: &mut MsgBuf,
    len: usize,
    flags: i32,
) -> nix::Result<()> {
    if len > buf.capacity {
        return Err(Errno::EINVAL);
    }
    buf.words[0] = mtype;
    // SAFETY: `buf` holds a long type followed by at least `len` bytes, as msgsnd reads them;
    // the kernel copies them and keeps no pointer. Another process can only change the
    // queue's contents, which the kernel serialises.
    let rc = unsafe { libc::msgsnd(id, buf.words.as_ptr().cast(), len, flags) };
    Errno::result(rc).map(drop)
}

/// msgrcv on a queue id (see [`SysvQueue::receive`]).
pub(crate) fn receive(id: i32, msgtyp: c_long, buf: &mut MsgBuf, flags: i32) -> nix::Result<usize> {
    // SAFETY: the kernel writes one long and at most `capacity` bytes after it, which `buf`
    // holds; a longer message fails with E2BIG and writes nothing.
    let rc = unsafe {
        libc::msgrcv(
            id,
            buf.words.as_mut_ptr().cast(),
            buf.capacity,
            msgtyp,
            flags,
        )
    };
    Errno::result(rc).map(|n| n as usize) // a byte count: never negative when Ok
}

/// msgctl(id, IPC_RMID).
pub(crate) fn remove(id: i32) -> nix::Result<()> {
    // SAFETY: IPC_RMID reads no buffer (null is allowed); a wrong id fails with EINVAL.
    let rc = unsafe { libc::msgctl(id, libc::IPC_RMID, std::ptr::null_mut()) };
    Errno::result(rc).map(drop)
}

/// msgget(key, 0): the id of the queue this key names, or `None` (ENOENT).
pub fn find(key: key_t) -> io::Result<Option<i32>> {
    // SAFETY: as in `create`.
    let id = unsafe { libc::msgget(key, 0) };
    match Errno::result(id) {
        Ok(id) => Ok(Some(id)),
        Err(Errno::ENOENT) => Ok(None),
        Err(e) => Err(io::Error::other(format!(
            "msgget key {}: {e}",
            show_key(key)
        ))),
    }
}

/// ftok(path, proj): a key made from the file's inode and device and the low 8 bits of
/// `proj`. Two programs that agree on the path and `proj` get the same key.
pub fn ftok(path: &Path, proj: u8) -> io::Result<key_t> {
    let c_path = CString::new(path.as_os_str().as_bytes())
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
    // SAFETY: `c_path` is a NUL-terminated string that outlives the call; ftok only stat()s it.
    let key = unsafe { libc::ftok(c_path.as_ptr(), i32::from(proj)) };
    if key == -1 {
        let e = io::Error::last_os_error();
        return Err(names::with_path("ftok", path, e));
    }
    Ok(key)
}

/// A key as `ipcs -q` prints it: 0x and 8 hex digits.
pub fn show_key(key: key_t) -> String {
    format!("{:#010x}", key as u32)
}

/// One line of /proc/sysvipc/msg, the file `ipcs -q` reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listed {
    pub key: key_t,
    pub id: i32,
    /// The mode bits, as `ipcs` shows them in octal (600).
    pub perms: u32,
    pub cbytes: u64,
    /// Messages waiting.
    pub qnum: u64,
    /// Last sender's and last receiver's pids (0: none yet).
    pub lspid: i32,
    pub lrpid: i32,
    pub uid: u32,
    /// The creator's uid.
    pub cuid: u32,
}

/// Every queue on the system, as /proc/sysvipc/msg lists it (columns: key msqid perms cbytes
/// qnum lspid lrpid uid gid cuid cgid ...; the key in decimal, perms in octal).
pub fn listed() -> io::Result<Vec<Listed>> {
    let path = "/proc/sysvipc/msg";
    let text = fs::read_to_string(path)
        .map_err(|e| io::Error::new(e.kind(), format!("read {path}: {e}")))?;
    let bad = |line: &str| io::Error::new(io::ErrorKind::InvalidData, format!("{path}: {line:?}"));
    let mut queues = Vec::new();
    for line in text.lines().skip(1) {
        let f: Vec<&str> = line.split_whitespace().collect();
        let parse = |i: usize| {
            f.get(i)
                .and_then(|v| v.parse::<i64>().ok())
                .ok_or_else(|| bad(line))
        };
        let perms = f
            .get(2)
            .and_then(|p| u32::from_str_radix(p, 8).ok())
            .ok_or_else(|| bad(line))?;
        queues.push(Listed {
            key: parse(0)? as key_t,
            id: parse(1)? as i32,
            perms,
            cbytes: parse(3)? as u64,
            qnum: parse(4)? as u64,
            lspid: parse(5)? as i32,
            lrpid: parse(6)? as i32,
            uid: parse(7)? as u32,
            cuid: parse(9)? as u32,
        });
    }
    Ok(queues)
}

/// The /proc/sysvipc/msg line of queue `id`, if it exists.
pub fn listed_id(id: i32) -> io::Result<Option<Listed>> {
    Ok(listed()?.into_iter().find(|q| q.id == id))
}

/// What every private directory of ours starts with (under $TMPDIR or /tmp): the pid that made
/// it and a random part follow.
pub const DIR_PREFIX: &str = "ipc-tour-mq-sysv-";
/// The file in that directory recording the queue made from its key: "KEY ID".
const RECORD: &str = "queue";
/// The ftok project ids tried in turn: any byte but 0; b'K' for "key" first.
pub const PROJ: u8 = b'K';
const TRIES: u8 = 8;

/// A queue named by a key that ftok makes from a private directory (0700) of this run: a
/// path nobody else can reach or replace, though another path may still give the same key
/// (see `taken`). The directory also records the queue's key and id, which is how the next
/// run recognises a queue that a killed run left (one killed between msgget and that write
/// leaves a queue nobody recognises: `ipcrm -q ID`). Drop removes the queue, then the
/// directory.
#[derive(Debug)]
pub struct KeyedQueue {
    pub queue: SysvQueue,
    pub dir: PrivateDir,
    /// The ftok project id that gave a free key.
    pub proj: u8,
    /// Keys tried first that a queue already had (EEXIST): ftok keeps only the low 16 bits
    /// of the inode and 8 of the device, so two paths can give one key.
    pub taken: Vec<key_t>,
}

impl KeyedQueue {
    pub fn create() -> io::Result<KeyedQueue> {
        let dir = PrivateDir::create(DIR_PREFIX)?;
        let mut taken = Vec::new();
        for proj in PROJ..PROJ + TRIES {
            let key = ftok(dir.path(), proj)?;
            let queue = match SysvQueue::create(key) {
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                    taken.push(key);
                    continue;
                }
                result => result?,
            };
            let record = dir.path().join(RECORD);
            fs::write(&record, format!("{} {}\n", queue.key(), queue.id()))
                .map_err(|e| names::with_path("write", &record, e))?;
            // Fields drop in order: the queue first, then the directory with its record.
            return Ok(KeyedQueue {
                queue,
                dir,
                proj,
                taken,
            });
        }
        Err(io::Error::new(
            io::ErrorKind::AlreadyExists,
            format!(
                "msgget: the {TRIES} keys ftok gave for {} are all taken",
                dir.path().display()
            ),
        ))
    }
}

/// A queue that a killed run left and the sweep removed.
#[derive(Debug)]
pub struct Stale {
    pub key: key_t,
    pub id: i32,
    /// The pid of the run that made it (gone), from its directory's name.
    pub pid: i32,
}

/// Removes what killed runs left: our private directories whose pid is gone, and the queue each
/// one records, only if /proc/sysvipc/msg still lists that id with that key, owned and created
/// by us. (A queue has no creator-pid field, unlike shared memory's shm_cpid: the pid comes
/// from the directory's name.) Another user's queue is never touched.
pub fn remove_stale() -> Vec<Stale> {
    let me = geteuid().as_raw();
    let mut removed = Vec::new();
    names::sweep(&names::temp_dir(), DIR_PREFIX, |path| {
        if !path.symlink_metadata()?.is_dir() {
            return Err(io::ErrorKind::InvalidInput.into());
        }
        let name = path.file_name().unwrap_or_default().to_string_lossy();
        let pid = names::tagged_pid(&name, DIR_PREFIX).unwrap_or(0);
        if let Some((key, id)) = read_record(&path.join(RECORD)) {
            let ours = listed().ok().and_then(|all| {
                all.into_iter()
                    .find(|q| q.id == id && q.key == key && q.uid == me && q.cuid == me)
            });
            if ours.is_some() && remove(id).is_ok() {
                removed.push(Stale { key, id, pid });
            }
        }
        fs::remove_dir_all(path)
    });
    removed
}

fn read_record(path: &Path) -> Option<(key_t, i32)> {
    let text = fs::read_to_string(path).ok()?;
    let (key, id) = text.trim().split_once(' ')?;
    Some((key.parse().ok()?, id.parse().ok()?))
}
