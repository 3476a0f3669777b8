//! A compositor receives a frame's memfd over a Unix socket, checks its seals, maps it and
//! reads the pixels in place. Lecture: "Why Shared Memory Still Exists" (video compositors).
//! Run (this is the server, start it first):
//!   terminal 1: cargo run -p shm-demo --example memfd_receive   # [SOCKET]
//!   terminal 2: cargo run -p shm-demo --example memfd_send      # [SOCKET]
//! SOCKET defaults to $TMPDIR/compositor.sock, removed at exit and on Ctrl-C or SIGTERM (after
//! kill -9, `rm` it or bind fails). You will see the seals, the check value, ftruncate's EPERM.
//!
//! To use it alone: `cargo new memfd_receive`, put this file in src/main.rs, add these lines
//! under [dependencies] in Cargo.toml, `cargo run`, then in terminal 2 memfd_send's `cargo run`:
//! ```toml
//! [dependencies]
//! memmap2 = "0.9"
//! nix = { version = "0.32", features = ["fs", "socket", "uio"] }
//! signal-hook = "0.4"
//! ```

use std::error::Error;
use std::fs::File;
use std::io::IoSliceMut;
use std::os::fd::{AsRawFd, FromRawFd, RawFd};
use std::os::unix::net::UnixListener;

use memmap2::MmapOptions;
use nix::fcntl::{FcntlArg, SealFlag, fcntl};
use nix::sys::socket::{ControlMessageOwned, MsgFlags, recvmsg};
use nix::unistd::ftruncate;
use signal_hook::consts::{SIGINT, SIGTERM};

fn ctx<E: std::fmt::Display>(call: impl std::fmt::Display) -> impl FnOnce(E) -> String {
    move |e| format!("{call}: {e}")
}

fn check_value(bytes: &[u8]) -> u32 {
    bytes.iter().fold(0, |s, &b| s.wrapping_mul(31) ^ b as u32)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let path = std::env::args().nth(1).map(std::path::PathBuf::from);
    let path = path.unwrap_or_else(|| std::env::temp_dir().join("compositor.sock"));
    // Catch signals before bind, handle them after: Ctrl-C cannot skip the rm.
    let mut signals = signal_hook::iterator::Signals::new([SIGINT, SIGTERM])?;
    let listener = UnixListener::bind(&path).map_err(ctx(format!("bind {}", path.display())))?;
    let socket_file = path.clone();
    std::thread::spawn(move || {
        if let Some(signal) = signals.forever().next() {
            let _ = std::fs::remove_file(&socket_file);
            let _ = signal_hook::low_level::emulate_default_handler(signal);
        }
    });
    println!("waiting for a frame at {}", path.display());
    let result = receive_frame(&listener).and_then(show_frame);
    let _ = std::fs::remove_file(&path); // on success and on error alike
    result
}

fn receive_frame(listener: &UnixListener) -> Result<(File, u32, u32), Box<dyn Error>> {
    let (stream, _) = listener.accept().map_err(ctx("accept"))?;
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
    let fd = fd.ok_or("the message carried no descriptor")?;
    // SAFETY: the kernel has just installed this descriptor: the File is its only owner.
    let memfd = unsafe { File::from_raw_fd(fd) };
    Ok((memfd, u32::from_le_bytes(width), u32::from_le_bytes(height)))
}

fn show_frame((frame, width, height): (File, u32, u32)) -> Result<(), Box<dyn Error>> {
    // Map only what cannot shrink: a truncate after our checks would SIGBUS our reads.
    let seals = fcntl(&frame, FcntlArg::F_GET_SEALS).map_err(ctx("F_GET_SEALS"))?;
    let seals = SealFlag::from_bits_truncate(seals);
    println!("seals: {seals:?}");
    if !seals.contains(SealFlag::F_SEAL_SHRINK | SealFlag::F_SEAL_GROW) {
        return Err("frame is not sealed against resizing: refusing to map it".into());
    }
    let len = width as usize * height as usize * 4;
    let size = frame.metadata().map_err(ctx("fstat frame"))?.len();
    if size != len as u64 {
        return Err(format!("frame is {size} bytes, {width}x{height} needs {len}").into());
    }
    // SAFETY: `len` bytes exist and cannot shrink (sealed, checked). The sender may still
    // write (no F_SEAL_WRITE), unknown to &[u8]: we read each byte once, at worst a torn frame.
    let pixels = unsafe { MmapOptions::new().len(len).map(&frame) }.map_err(ctx("mmap frame"))?;
    println!(
        "frame {width}x{height}, check value {:#010x}",
        check_value(&pixels)
    );
    match ftruncate(&frame, 0) {
        Err(e) => println!("ftruncate to 0 bytes: {e} (the size is sealed)"),
        Ok(()) => return Err("ftruncate succeeded: the frame was not sealed".into()),
    }
    Ok(())
}
