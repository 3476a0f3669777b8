//! A zero-filled `MAP_SHARED | MAP_ANONYMOUS` region: shared with every child forked after it
//! was made, visible to no other process, and gone with the last process that maps it.
//!
//! memmap2's anonymous map is `MAP_PRIVATE` (copy-on-write after `fork`), so it would not be
//! shared at all: this is the one place that calls `mmap` directly.

use std::io;
use std::num::NonZeroUsize;
use std::ptr::NonNull;

use nix::sys::mman::{MapFlags, ProtFlags, mmap_anonymous, munmap};

/// Owner of one shared anonymous mapping; `Drop` unmaps it (in this process only).
pub struct SharedMapping {
    ptr: NonNull<u8>,
    len: usize,
}

// SAFETY: the mapping is plain memory owned by this value; moving the owner to another thread
// does not change who may touch it. Every user accesses the bytes through atomics or through
// the ring protocol, which already assumes another process writes concurrently.
unsafe impl Send for SharedMapping {}
// SAFETY: as above; `&SharedMapping` only hands out a raw pointer and the length.
unsafe impl Sync for SharedMapping {}

impl SharedMapping {
    /// Maps `len` zero-filled bytes, page aligned, readable and writable.
    pub fn new(len: usize) -> io::Result<Self> {
        let length = NonZeroUsize::new(len)
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "mmap: length is 0"))?;
        // SAFETY: a fresh anonymous mapping at an address the kernel picks cannot overlap any
        // existing Rust object, so creating it invalidates nothing.
        let ptr = unsafe {
            mmap_anonymous(
                None,
                length,
                ProtFlags::PROT_READ | ProtFlags::PROT_WRITE,
                MapFlags::MAP_SHARED,
            )
        }
        .map_err(|e| io::Error::new(io::Error::from(e).kind(), format!("mmap MAP_SHARED: {e}")))?;
        Ok(Self {
            ptr: ptr.cast(),
            len,
        })
    }

    /// The first byte; page aligned.
    pub fn as_ptr(&self) -> *mut u8 {
        self.ptr.as_ptr()
    }

    /// The length in bytes given to [`SharedMapping::new`].
    pub fn len(&self) -> usize {
        self.len
    }

    /// Always false: a mapping has at least one byte.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

impl Drop for SharedMapping {
    fn drop(&mut self) {
        // SAFETY: `ptr`/`len` came from our own mmap, and no reference into the region is used
        // after this: the ring reaches it through `&self` of an `End` that holds this owner, and
        // every other user makes its references from `as_ptr()` only while the owner is alive
        // (a rule of this type, as for any raw pointer). Another process that shares the region
        // keeps its own mapping; munmap only removes ours.
        let _ = unsafe { munmap(self.ptr.cast(), self.len) };
    }
}
