//! The `memfd-send` role of the memfd handoff (step 7, `src/tour/memfd.rs`), the client:
//! run by the tour, or by hand with the PATH that `memfd-receive` printed.
//!
//! It draws a frame in a memfd, seals its size, and passes the descriptor over the socket
//! (SCM_RIGHTS); then draws a second frame in place, sending nothing, and makes a third by
//! write() into a memfd sealed against writes. It waits for the receiver's byte after each.

use std::fs;
use std::io::{self, Write};
use std::os::unix::fs::FileTypeExt;
use std::os::unix::net::UnixStream;
use std::path::Path;

use memmap2::MmapRaw;
use nix::errno::Errno;
use nix::fcntl::SealFlag;
use nix::sys::socket::{getsockopt, sockopt};
use nix::sys::stat::fstat;
use plumbing::Result;
use shm_demo::memfd_frame::{self as frame, FRAME_LEN, Frame};
use shm_demo::memfd_socket::{LIMIT, expect_byte, next_byte, send_fd};

use super::{DONE, MAPPED, SAW_WRITE};

/// What to do when PATH is not the receiver's socket.
const START: &str = "start `shm-demo memfd-receive` first and give the PATH it prints";

/// `shm-demo memfd-send PATH`: make the frames and hand them over. With `hold`, stay connected
/// at the end until the receiver hangs up (or we are killed: the tour does that).
pub fn run(path: &Path, hold: bool, indent: &str) -> Result {
    let me = std::process::id();
    let shown = path.display();
    // Checked before any work; the rest is ready before we connect, so that the receiver's
    // lines all come after ours.
    is_a_socket(path)?;
    let memfd = frame::create(FRAME_LEN)?;
    let stat = fstat(&memfd).map_err(|e| format!("fstat frame: {e}"))?;
    let (size, mode) = (stat.st_size, stat.st_mode & 0o777);
    println!("{indent}sender pid {me}: memfd_create(\"frame\"), {size} bytes, mode {mode:04o}");
    let map = MmapRaw::map_raw(&memfd).map_err(|e| format!("mmap frame: {e}"))?;
    let drawn = Frame::new(map)?;
    let check = drawn.draw(1);
    drawn.publish(1);
    println!("{indent}sender: drew frame 1 in a MAP_SHARED mapping, check value {check:#010x}");
    let size = SealFlag::F_SEAL_SHRINK | SealFlag::F_SEAL_GROW;
    frame::add_seals(&memfd, size)?;
    frame::add_seals(&memfd, SealFlag::F_SEAL_SEAL)?;
    println!("{indent}sender: sealed SHRINK|GROW, then SEAL; connects, sends the fd (SCM_RIGHTS)");
    let mut stream = UnixStream::connect(path).map_err(|e| match e.kind() {
        io::ErrorKind::NotFound | io::ErrorKind::ConnectionRefused => {
            format!("connect {shown}: {e}; nobody listens there any more; {START}")
        }
        _ => format!("connect {shown}: {e}"),
    })?;
    let receiver = getsockopt(&stream, sockopt::PeerCredentials)
        .map_err(|e| format!("getsockopt SO_PEERCRED: {e}"))?
        .pid();
    let peer = format!("the receiver (pid {receiver})");
    send_fd(&stream, &memfd, check, &peer)?;
    expect_byte(&mut stream, MAPPED, &peer, "mapping frame 1")?;

    let check = drawn.draw(2);
    println!("{indent}sender: drew frame 2 in place, check value {check:#010x}; sent nothing");
    drawn.publish(2); // after the line above, so it comes before the receiver's
    expect_byte(&mut stream, SAW_WRITE, &peer, "seeing frame 2")?;

    let (sealed, check) = frame::write_sealed(3)?;
    println!("{indent}sender: frame 3 by write() into a new memfd, never mapped, then sealed");
    match (&sealed).write_all(&[0]) {
        Err(e) if e.raw_os_error() == Some(libc::EPERM) => println!(
            "{indent}  SHRINK|GROW|WRITE and SEAL: another write() fails with {:?}",
            Errno::EPERM
        ),
        Err(e) => return Err(format!("write to the sealed frame: {e}").into()),
        Ok(()) => return Err("write to a write-sealed memfd worked".into()),
    }
    send_fd(&stream, &sealed, check, &peer)?;
    expect_byte(&mut stream, DONE, &peer, "checking frame 3")?;
    if !hold {
        println!("{indent}sender: done; exiting closes our descriptors, not the receiver's");
        return Ok(());
    }
    println!("{indent}sender: holding the connection (kill -9 {me}, or wait {LIMIT:?})");
    match next_byte(&mut stream, LIMIT)? {
        None => println!("{indent}sender: {peer} hung up; exiting"),
        Some(byte) => return Err(format!("{peer} sent {byte:#04x}; it was to hang up").into()),
    }
    Ok(())
}

/// A wrong PATH is one line before any work, not a failed connect after the frames are drawn.
fn is_a_socket(path: &Path) -> Result {
    let shown = path.display();
    match fs::symlink_metadata(path) {
        Ok(meta) if meta.file_type().is_socket() => Ok(()),
        Ok(_) => Err(format!("{shown} is not a socket; {START}").into()),
        Err(e) => Err(format!("stat {shown}: {e}; {START}").into()),
    }
}
