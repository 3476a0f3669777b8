//! A compositor receives a frame's memfd over a Unix socket, checks its seals and size, maps it
//! and reads the pixels in place. Lecture: "Why Shared Memory Still Exists" (video compositors).
//! Run (this is the server, start it first):
//!   terminal 1: cargo run -p shm-demo --example memfd_receive   # [SOCKET]
//!   terminal 2: cargo run -p shm-demo --example memfd_send      # [SOCKET]
//! SOCKET defaults to $TMPDIR/compositor.sock, removed at exit and on SIGINT, SIGTERM, SIGHUP,
//! SIGQUIT (kill -9 leaves it: `rm` it). You will see the seals, the check value, ftruncate's
//! EPERM. Refused: a frame unsealed, over 64 MiB or unlike its header; a sender silent 5 s.
//!
//! To use it alone: `cargo new memfd_receive`, put this file in src/main.rs, add these lines
//! under [dependencies] in Cargo.toml, `cargo run`, then in terminal 2 memfd_send's `cargo run`:
//! ```toml
//! [dependencies]
//! memmap2 = "0.9"
//! nix = { version = "0.32", features = ["fs", "signal", "socket", "uio"] }
//! signal-hook = "0.4"
//! ```

use std::error::Error;
use std::fs::File;
use std::io::{IoSliceMut, Write};
use std::os::fd::{AsRawFd, FromRawFd, RawFd};
use std::os::unix::net::UnixListener;

use memmap2::MmapOptions;
use nix::fcntl::{FcntlArg, SealFlag, fcntl};
use nix::sys::{signal::SigSet, socket::ControlMessageOwned, socket::MsgFlags, socket::recvmsg};
use nix::unistd::ftruncate;
use signal_hook::consts::{SIGHUP, SIGINT, SIGQUIT, SIGTERM};

const MAX_FRAME: u32 = 64 << 20; // the sender's header sizes the frame; we map and read it all
fn ctx<E: std::fmt::Display>(call: impl std::fmt::Display) -> impl FnOnce(E) -> String {
    move |e| format!("{call}: {e}")
}

fn main() -> Result<(), Box<dyn Error>> {
    // A parent may have blocked every signal, and then Ctrl-C never reaches us: unblock all.
    SigSet::empty().thread_set_mask()?;
    let path = std::env::args().nth(1).map(std::path::PathBuf::from);
    let path = path.unwrap_or_else(|| std::env::temp_dir().join("compositor.sock"));
    // Catch signals before bind, handle them after: none can skip the rm.
    let mut signals = signal_hook::iterator::Signals::new([SIGINT, SIGTERM, SIGHUP, SIGQUIT])?;
    let socket_file = path.clone(); // (a thread that cannot start is an error before bind)
    std::thread::Builder::new().spawn(move || {
        let signal = signals.forever().next(); // the first of them
        let _ = std::fs::remove_file(&socket_file);
        signal.map(signal_hook::low_level::emulate_default_handler) // and die of it
    })?;
    let hint = format!("bind {} (if a killed run left it: rm it)", path.display());
    let listener = UnixListener::bind(&path).map_err(ctx(hint))?;
    let result = receive_frame(&listener, &path); // SIGPIPE stays ignored: the rm below runs
    let _ = std::fs::remove_file(&path); // on success and on error alike
    result
}

fn receive_frame(listener: &UnixListener, path: &std::path::Path) -> Result<(), Box<dyn Error>> {
    let mut out = std::io::stdout().lock();
    writeln!(out, "waiting for a frame at {}", path.display())?;
    let (stream, _) = listener.accept().map_err(ctx("accept"))?;
    stream.set_read_timeout(Some(std::time::Duration::from_secs(5)))?; // a silent sender
    let (mut width, mut height) = ([0u8; 4], [0u8; 4]);
    let mut iov = [IoSliceMut::new(&mut width), IoSliceMut::new(&mut height)];
    let mut space = nix::cmsg_space!([RawFd; 1]);
    let flags = MsgFlags::MSG_CMSG_CLOEXEC;
    let msg = recvmsg::<()>(stream.as_raw_fd(), &mut iov, Some(&mut space), flags)
        .map_err(ctx("recvmsg"))?;
    let fd = msg.cmsgs()?.find_map(|c| match c {
        ControlMessageOwned::ScmRights(fds) => fds.first().copied(),
        _ => None,
    });
    // SAFETY: the kernel has just installed this descriptor: the File is its only owner.
    let frame = unsafe { File::from_raw_fd(fd.ok_or("the message carried no descriptor")?) };
    let (width, height) = (u32::from_le_bytes(width), u32::from_le_bytes(height));
    // Map only what cannot shrink: a truncate after our checks would SIGBUS our reads.
    let seals = fcntl(&frame, FcntlArg::F_GET_SEALS).map_err(ctx("F_GET_SEALS"))?;
    let seals = SealFlag::from_bits_truncate(seals);
    writeln!(out, "seals: {seals:?}")?;
    if !seals.contains(SealFlag::F_SEAL_SHRINK | SealFlag::F_SEAL_GROW) {
        return Err("frame is not sealed against resizing: refusing to map it".into());
    }
    let len = width.checked_mul(height).and_then(|n| n.checked_mul(4)); // None: it would wrap
    let len = len.filter(|&n| n <= MAX_FRAME).ok_or("frame over 64 MiB")?;
    let size = frame.metadata().map_err(ctx("fstat frame"))?.len();
    if size != u64::from(len) {
        return Err(format!("frame is {size} bytes, {width}x{height} needs {len}").into());
    }
    // SAFETY: `len` bytes exist and cannot shrink (sealed, checked). The sender may still
    // write (no F_SEAL_WRITE), unknown to &[u8]: we read each byte once, at worst a torn frame.
    let pixels = unsafe { MmapOptions::new().len(len as usize).map(&frame) };
    let pixels = pixels.map_err(ctx("mmap frame"))?; // the check value of memfd_send:
    let check = pixels
        .iter()
        .fold(0u32, |s, &b| s.wrapping_mul(31) ^ b as u32);
    writeln!(out, "frame {width}x{height}, check value {check:#010x}")?;
    match ftruncate(&frame, 0) {
        Err(e) => writeln!(out, "ftruncate to 0 bytes: {e} (the size is sealed)")?,
        Ok(()) => return Err("ftruncate succeeded: the frame was not sealed".into()),
    }
    Ok(())
}
