//! A client hands a compositor its frame without copying a pixel: the frame
//! lives in a sealed memfd, and only the descriptor crosses a Unix socket.
//! Lecture: "Why Shared Memory Still Exists" (video compositors receive
//! frame buffers from every running application).
//!
//! Run (the receiver is the server, start it first):
//!   terminal 1: cargo run -p shm-demo --example memfd_receive   # [SOCKET]
//!   terminal 2: cargo run -p shm-demo --example memfd_send      # [SOCKET]
//! SOCKET defaults to $TMPDIR/compositor.sock (/tmp/compositor.sock).
//!
//! You will see `sent frame 320x240, check value 0x...` here and the same
//! check value in terminal 1. A memfd has no name: `ls /dev/shm` shows nothing.
//!
//! To use it alone: `cargo new memfd_send`, put this file in src/main.rs, add
//! these lines under [dependencies] in Cargo.toml, then `cargo run` in terminal
//! 2, once memfd_receive's own project runs `cargo run` in terminal 1:
//! ```toml
//! [dependencies]
//! libc = "0.2"
//! nix = { version = "0.32", features = ["fs", "socket", "uio"] }
//! ```

use std::fs::File;
use std::io::{IoSlice, Write};
use std::os::fd::AsRawFd;
use std::os::unix::net::UnixStream;
use std::path::PathBuf;

use nix::fcntl::{FcntlArg, SealFlag, fcntl};
use nix::sys::memfd::{MFdFlags, memfd_create};
use nix::sys::socket::{ControlMessage, MsgFlags, sendmsg};
use nix::unistd::ftruncate;

const WIDTH: u32 = 320;
const HEIGHT: u32 = 240;

/// A cheap check value that any one changed byte changes; memfd_receive computes the same.
/// (Rotating instead of multiplying gave 0 for this frame, as for a frame of zeros.)
fn check_value(bytes: &[u8]) -> u32 {
    bytes.iter().fold(0, |s, &b| s.wrapping_mul(31) ^ b as u32)
}

fn ctx<E: std::fmt::Display>(call: impl std::fmt::Display) -> impl FnOnce(E) -> String {
    move |e| format!("{call}: {e}")
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // SAFETY: before any thread exists. Rust ignores SIGPIPE; the default makes a closed
    // stdout (`| head -1`) end us quietly, as a C program. (MSG_NOSIGNAL below: a receiver
    // that has gone away is an EPIPE error from sendmsg, not a silent death.)
    unsafe { libc::signal(libc::SIGPIPE, libc::SIG_DFL) };
    let path = std::env::args().nth(1).map(PathBuf::from);
    let path = path.unwrap_or_else(|| std::env::temp_dir().join("compositor.sock"));

    // Anonymous memory behind a file descriptor: nothing in /dev/shm, and it
    // is freed when the last descriptor and mapping are gone.
    let flags = MFdFlags::MFD_CLOEXEC | MFdFlags::MFD_ALLOW_SEALING;
    let memfd = memfd_create("frame", flags).map_err(ctx("memfd_create frame"))?;
    let len = WIDTH * HEIGHT * 4;
    ftruncate(&memfd, len.into()).map_err(ctx("ftruncate frame"))?;

    // An RGBA gradient; a real client would draw into a mapping instead.
    let pixels: Vec<u8> = (0..HEIGHT)
        .flat_map(|y| (0..WIDTH).flat_map(move |x| [x as u8, y as u8, (x ^ y) as u8, 255]))
        .collect();
    let mut frame = File::from(memfd);
    frame.write_all(&pixels).map_err(ctx("write frame"))?;

    // The receiver maps the frame; if we could shrink it afterwards, its reads past the new
    // end would die with SIGBUS. SHRINK|GROW fix the size, then SEAL freezes the set so no
    // one can add seals (such as WRITE) later. Seals can never be removed, not even by us.
    let size_seals = SealFlag::F_SEAL_SHRINK | SealFlag::F_SEAL_GROW;
    fcntl(&frame, FcntlArg::F_ADD_SEALS(size_seals)).map_err(ctx("F_ADD_SEALS"))?;
    fcntl(&frame, FcntlArg::F_ADD_SEALS(SealFlag::F_SEAL_SEAL))
        .map_err(ctx("F_ADD_SEALS F_SEAL_SEAL"))?;

    let shown = path.display();
    let stream = UnixStream::connect(&path).map_err(ctx(format!("connect {shown}")))?;
    // SCM_RIGHTS: the kernel installs a new descriptor for the same open
    // memfd in the receiver. The bytes (width, height) ride along; a
    // descriptor needs at least one byte of ordinary data to travel with.
    let header = [WIDTH.to_le_bytes(), HEIGHT.to_le_bytes()].concat();
    let fds = [frame.as_raw_fd()];
    let cmsgs = [ControlMessage::ScmRights(&fds)];
    sendmsg::<()>(
        stream.as_raw_fd(),
        &[IoSlice::new(&header)],
        &cmsgs,
        MsgFlags::MSG_NOSIGNAL,
        None,
    )
    .map_err(ctx(format!("sendmsg {shown}")))?;

    let check = check_value(&pixels);
    writeln!(
        std::io::stdout(),
        "sent frame {WIDTH}x{HEIGHT}, check value {check:#010x}"
    )?;
    Ok(())
}
