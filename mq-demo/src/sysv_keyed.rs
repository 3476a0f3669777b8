//! System V queues named by a key from a private directory, and the sweep that removes what a
//! killed run left: the tour's step 8 uses both. The queue calls themselves are in sysv.rs.

use std::fs;
use std::io::{self, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::Path;

use nix::unistd::geteuid;
use plumbing::names::{self, PrivateDir};

use crate::sysv::{SysvQueue, ftok, key_t, listed, remove};

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
            write_record(&dir.path().join(RECORD), queue.key(), queue.id())?;
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

/// Writes "KEY ID" to a new file of mode 0600, whatever the umask.
fn write_record(path: &Path, key: key_t, id: i32) -> io::Result<()> {
    let failed = |call, e| names::with_path(call, path, e);
    let mut file = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(|e| failed("open", e))?;
    file.set_permissions(fs::Permissions::from_mode(0o600))
        .map_err(|e| failed("fchmod", e))?;
    file.write_all(format!("{key} {id}\n").as_bytes())
        .map_err(|e| failed("write", e))
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
