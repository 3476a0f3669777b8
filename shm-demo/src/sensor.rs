//! The lecture's `sensor_reading` in a named POSIX shared memory object (`/dev/shm/<name>`).
//!
//! Layout of the object (native byte order: both sides run on this machine):
//!
//! | offset | size | field                                                  |
//! |--------|------|--------------------------------------------------------|
//! | 0      | 8    | magic `b"shmdemo\0"`, written last by the creator       |
//! | 8      | 4    | layout version (1)                                     |
//! | 12     | 4    | payload size: `size_of::<SensorReading>()` (16)        |
//! | 16     | 16   | [`SensorReading`]                                      |
//!
//! A name is global and outlives its creator, so whoever opens it may find an object another
//! program made, a stale one from an older version, or one whose creator died half-way. The
//! header lets a reader say which, instead of reading garbage.

use std::fmt;
use std::fs::{self, File};
use std::io;
use std::os::unix::fs::MetadataExt;
use std::sync::atomic::{AtomicI32, AtomicU32, AtomicU64, Ordering};

use memmap2::{MmapMut, MmapOptions};
use nix::errno::Errno;
use nix::fcntl::OFlag;
use nix::sys::mman::{shm_open, shm_unlink};
use nix::sys::stat::{Mode, fchmod};
use nix::unistd::geteuid;

use crate::diagnosis::{dev_shm_space, sys_error};
// Where they were first written; the refusals of `read` and `unlink` use them.
pub use crate::diagnosis::{user, whose};
use crate::sigbus::Guard;

const MAGIC: [u8; 8] = *b"shmdemo\0";
const VERSION: u32 = 1;

/// The lecture's `struct sensor_reading`. Every field is an atomic because another process may
/// write it while we read it; each field is read whole, but the three together are not one
/// snapshot (that would need a lock or a sequence counter around them).
#[repr(C)]
pub struct SensorReading {
    /// Degrees Celsius, as in the lecture's `shared->temp = 42`.
    pub temp: AtomicI32,
    /// The process that stored the last reading.
    pub writer_pid: AtomicU32,
    /// How many readings have been stored in this object.
    pub updates: AtomicU64,
}

#[repr(C)]
struct Header {
    magic: AtomicU64,
    version: AtomicU32,
    payload_size: AtomicU32,
}

#[repr(C)]
struct Object {
    header: Header,
    reading: SensorReading,
}

/// Bytes of header in front of the reading.
pub const HEADER_LEN: usize = size_of::<Header>();
/// Size of the whole object: header plus [`SensorReading`].
pub const OBJECT_LEN: usize = size_of::<Object>();

/// Why an object is not a sensor object this program can read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LayoutError {
    /// The object is not exactly [`OBJECT_LEN`] bytes.
    WrongSize { found: u64 },
    /// Fewer than [`HEADER_LEN`] header bytes were given to [`decode_header`].
    Truncated { found: usize },
    /// The magic is still zero: the creator has not finished, or died before it did.
    Uninitialised,
    /// The magic is not ours: another program's object.
    NotOurs { magic: [u8; 8] },
    /// Our magic, another layout version.
    Version { found: u32 },
    /// Our magic and version, but a payload size that does not match `SensorReading`.
    PayloadSize { found: u32 },
}

impl fmt::Display for LayoutError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::WrongSize { found } => write!(
                f,
                "object is {found} bytes, not {OBJECT_LEN}: another program's object, \
                 or a stale one"
            ),
            Self::Truncated { found } => {
                write!(f, "header is {found} bytes, expected {HEADER_LEN}")
            }
            Self::Uninitialised => write!(
                f,
                "header is still zero (its creator has not finished, or died before it did)"
            ),
            Self::NotOurs { magic } => write!(
                f,
                "magic is {:?}, not \"shmdemo\" (another program's object)",
                String::from_utf8_lossy(magic)
            ),
            Self::Version { found } => {
                write!(
                    f,
                    "layout version {found}; this program reads version {VERSION}"
                )
            }
            Self::PayloadSize { found } => write!(
                f,
                "header announces a {found}-byte payload; sensor_reading is {} bytes",
                size_of::<SensorReading>()
            ),
        }
    }
}

impl std::error::Error for LayoutError {}

/// Checks a copy of an object's first [`HEADER_LEN`] bytes, and the object's size, against the
/// layout above. Pure and total: any bytes give `Ok` or a [`LayoutError`], never a panic.
pub fn decode_header(header: &[u8], object_len: u64) -> Result<(), LayoutError> {
    if object_len != OBJECT_LEN as u64 {
        return Err(LayoutError::WrongSize { found: object_len });
    }
    let Some(header) = header.first_chunk::<HEADER_LEN>() else {
        return Err(LayoutError::Truncated {
            found: header.len(),
        });
    };
    let (magic, rest) = header.split_at(8);
    let (version, payload_size) = rest.split_at(4);
    let field = |bytes: &[u8]| u32::from_ne_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]);
    if magic == [0; 8] {
        return Err(LayoutError::Uninitialised);
    }
    if magic != MAGIC {
        let mut found = [0; 8];
        found.copy_from_slice(magic);
        return Err(LayoutError::NotOurs { magic: found });
    }
    if field(version) != VERSION {
        return Err(LayoutError::Version {
            found: field(version),
        });
    }
    if field(payload_size) as usize != size_of::<SensorReading>() {
        return Err(LayoutError::PayloadSize {
            found: field(payload_size),
        });
    }
    Ok(())
}

/// A valid header, as [`SensorObject::create`] writes it (for tests and for the curious).
pub fn valid_header() -> [u8; HEADER_LEN] {
    let mut bytes = [0; HEADER_LEN];
    bytes[..8].copy_from_slice(&MAGIC);
    bytes[8..12].copy_from_slice(&VERSION.to_ne_bytes());
    bytes[12..].copy_from_slice(&(size_of::<SensorReading>() as u32).to_ne_bytes());
    bytes
}

/// A mapped sensor object. Dropping it unmaps it; the name stays (see [`ShmName`]).
///
/// Any process of our user may shrink the object while we map it. Every access goes through
/// [`SensorObject::access`], which checks the size first and, through a SIGBUS guard on the
/// mapping (`src/sigbus.rs`), survives a truncation during the access and reports it.
pub struct SensorObject {
    name: String,
    file: File,
    // Fields drop in order: the guard is unregistered before the mapping goes.
    guard: Guard,
    map: MmapMut,
}

impl SensorObject {
    /// `shm_open(name, O_CREAT | O_EXCL | O_RDWR, 0600)`, `fchmod` to exactly 0600,
    /// `ftruncate` to [`OBJECT_LEN`], `posix_fallocate`, map it and write the header. Fails
    /// with `AlreadyExists` if the name is taken, and with `StorageFull` (saying so about
    /// /dev/shm) if /dev/shm is full. On any later failure the half-made object is unlinked.
    pub fn create(name: &str) -> io::Result<Self> {
        let flags = OFlag::O_CREAT | OFlag::O_EXCL | OFlag::O_RDWR;
        let fd = shm_open(name, flags, Mode::S_IRUSR | Mode::S_IWUSR)
            .map_err(|e| sys_error("shm_open", name, e))?;
        let made = Self::set_up(File::from(fd), name).and_then(|object| {
            object.write_header()?;
            Ok(object)
        });
        if made.is_err() {
            let _ = shm_unlink(name); // do not leave a half-made object behind
        }
        made
    }

    /// Gives a new object its mode, its size and its memory, then maps it.
    fn set_up(file: File, name: &str) -> io::Result<Self> {
        // shm_open applies the umask to 0600 (umask 0277 would leave 0400, 0777 leave 0000, and
        // the object unusable by its own user); fchmod is not subject to it.
        fchmod(&file, Mode::S_IRUSR | Mode::S_IWUSR).map_err(|e| sys_error("fchmod", name, e))?;
        let len = OBJECT_LEN as libc::off_t;
        nix::unistd::ftruncate(&file, len).map_err(|e| sys_error("ftruncate", name, e))?;
        // On tmpfs, ftruncate only sets the size: no page is reserved, and the first store to
        // a page a full /dev/shm cannot supply kills the process with SIGBUS. posix_fallocate
        // takes the pages now, so a full /dev/shm is an ENOSPC here instead.
        nix::fcntl::posix_fallocate(&file, 0, len).map_err(|e| match e {
            Errno::ENOSPC => io::Error::new(
                io::ErrorKind::StorageFull,
                format!("posix_fallocate {name}: {e}: {}", dev_shm_space()),
            ),
            _ => sys_error("posix_fallocate", name, e),
        })?;
        Self::map(file, name)
    }

    fn write_header(&self) -> io::Result<()> {
        self.check_size()?;
        let header = &self.object().header;
        header.version.store(VERSION, Ordering::Relaxed);
        header
            .payload_size
            .store(size_of::<SensorReading>() as u32, Ordering::Relaxed);
        // The magic goes last, with Release: a reader that sees it (Acquire) sees the rest.
        header
            .magic
            .store(u64::from_ne_bytes(MAGIC), Ordering::Release);
        self.check_intact()
    }

    /// `shm_open(name, O_RDWR)` an existing object of our own user, check its size before
    /// mapping it and its header after. Another user's object is `PermissionDenied`, naming
    /// its owner; a wrong object is `InvalidData`, saying what is wrong with it.
    pub fn open(name: &str) -> io::Result<Self> {
        let fd = shm_open(name, OFlag::O_RDWR, Mode::empty()).map_err(|e| match e {
            Errno::EACCES => match fs::metadata(format!("/dev/shm{name}")) {
                Ok(meta) => io::Error::new(
                    io::ErrorKind::PermissionDenied,
                    format!("shm_open {name}: {e}; {}", whose(&meta)),
                ),
                Err(_) => sys_error("shm_open", name, e),
            },
            _ => sys_error("shm_open", name, e),
        })?;
        let file = File::from(fd);
        let meta = file
            .metadata()
            .map_err(|e| io::Error::new(e.kind(), format!("fstat {name}: {e}")))?;
        // Root may open anything; the demo still touches only its own user's objects.
        if meta.uid() != geteuid().as_raw() {
            let refusal = format!("{name}: not opened, {}", whose(&meta));
            return Err(io::Error::new(io::ErrorKind::PermissionDenied, refusal));
        }
        let invalid =
            |e: LayoutError| io::Error::new(io::ErrorKind::InvalidData, format!("{name}: {e}"));
        // Check the size before mapping: touching a page past the end would be SIGBUS.
        if meta.len() != OBJECT_LEN as u64 {
            return Err(invalid(LayoutError::WrongSize { found: meta.len() }));
        }
        let object = Self::map(file, name)?;
        let header = &object.object().header;
        let mut copy = [0; HEADER_LEN];
        copy[..8].copy_from_slice(&header.magic.load(Ordering::Acquire).to_ne_bytes());
        copy[8..12].copy_from_slice(&header.version.load(Ordering::Relaxed).to_ne_bytes());
        copy[12..].copy_from_slice(&header.payload_size.load(Ordering::Relaxed).to_ne_bytes());
        if object.guard.faulted() {
            return Err(object.truncated());
        }
        decode_header(&copy, meta.len()).map_err(invalid)?;
        Ok(object)
    }

    fn map(file: File, name: &str) -> io::Result<Self> {
        // SAFETY: MmapMut is unsafe because the file may change under the mapping. It will:
        // that is the point. We never form `&[u8]`/`&mut [u8]` over it; all access goes
        // through the atomics of `Object` (see `object`). A process that shrinks the object
        // makes an access past its new end fault; the guard below absorbs that fault. The
        // length is given, not taken from the file: it may have shrunk since we checked it.
        let map = unsafe { MmapOptions::new().len(OBJECT_LEN).map_mut(&file) }
            .map_err(|e| io::Error::new(e.kind(), format!("mmap {name}: {e}")))?;
        let guard = Guard::new(map.as_ptr(), map.len())?;
        Ok(Self {
            name: name.to_owned(),
            file,
            guard,
            map,
        })
    }

    fn object(&self) -> &Object {
        // SAFETY: the mapping is exactly OBJECT_LEN bytes (checked by ftruncate or fstat) and
        // page aligned, so it holds one `Object`. Its fields are integers and atomics, valid
        // for every bit pattern, so whatever another process wrote is a valid value. Another
        // process may write at any time; atomics make that a value change, not a data race.
        // If it truncates the object, the guard puts a blank page in its place (still valid).
        unsafe { &*self.map.as_ptr().cast::<Object>() }
    }

    /// Runs `f` on the reading in the mapping (store with Release after the other fields, load
    /// with Acquire), then checks that another process did not truncate the object meanwhile.
    /// If it did, the result of `f` is discarded and the error says so.
    pub fn access<T>(&self, f: impl FnOnce(&SensorReading) -> T) -> io::Result<T> {
        self.check_size()?;
        let value = f(&self.object().reading);
        self.check_intact()?;
        Ok(value)
    }

    /// Before an access: the object still has its size (fstat).
    fn check_size(&self) -> io::Result<()> {
        match self.file.metadata() {
            Ok(meta) if meta.len() >= OBJECT_LEN as u64 => Ok(()),
            _ => Err(self.truncated()),
        }
    }

    /// After an access: no access faulted, and the header is still ours (an object truncated
    /// and extended again between two accesses has new, zero pages: no fault, no magic).
    fn check_intact(&self) -> io::Result<()> {
        let magic = self.object().header.magic.load(Ordering::Acquire);
        if self.guard.faulted() || magic != u64::from_ne_bytes(MAGIC) {
            return Err(self.truncated());
        }
        Ok(())
    }

    fn truncated(&self) -> io::Error {
        let now = match self.file.metadata() {
            Ok(meta) => format!("now {} bytes", meta.len()),
            Err(e) => format!("fstat: {e}"),
        };
        io::Error::other(format!(
            "{} was truncated by another process while mapped ({now}); this access is void",
            self.name
        ))
    }
}

/// Owner of a shm name: `Drop` calls `shm_unlink`, so the object goes away once the last
/// process unmaps it. Mappings that exist stay valid.
pub struct ShmName {
    name: String,
}

impl ShmName {
    /// Takes responsibility for removing `name` (which this process created).
    pub fn adopt(name: &str) -> Self {
        Self {
            name: name.to_owned(),
        }
    }

    /// The name, with its leading `/`.
    pub fn as_str(&self) -> &str {
        &self.name
    }
}

impl Drop for ShmName {
    fn drop(&mut self) {
        let _ = shm_unlink(self.name.as_str());
    }
}
