//! The `memfd-receive` role of the memfd handoff (step 7, `src/tour/memfd.rs`), the
//! compositor: run by the tour, or by hand in two terminals with `memfd-send`:
//!
//! ```text
//! cargo run -p shm-demo -- memfd-receive          # prints the socket's PATH
//! cargo run -p shm-demo -- memfd-send PATH
//! ```
//!
//! It receives a sealed memfd (SCM_RIGHTS), checks the seals before it maps the frame, then
//! watches a second frame appear in place, and a write-sealed third frame refuse a writable
//! mapping. One byte goes back after each stage, so each side knows where the other is, and a
//! peer that dies is an end of file on the socket, noticed within 100 ms.

use std::fs;
use std::os::fd::AsRawFd;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::Path;
use std::time::{Duration, Instant};

use memmap2::MmapRaw;
use nix::errno::Errno;
use nix::fcntl::{FcntlArg, SealFlag, fcntl};
use nix::sys::socket::{getsockopt, sockopt};
use nix::sys::stat::fstat;
use plumbing::names::PrivateDir;
use plumbing::socket_file::SocketFile;
use plumbing::{Result, stop};
use shm_demo::memfd_frame::{self as frame, FRAME_LEN, Frame};
use shm_demo::memfd_socket::{
    LIMIT, accept, bytes_waiting, next_byte, readable, receive_fd, send_byte,
};

use super::{DONE, MAPPED, SAW_WRITE, SOCKET_DIR_PREFIX};

/// `shm-demo memfd-receive [--socket PATH]`: listen (by default in a new private directory),
/// take one sender, check and map what it sends.
pub fn run(socket: Option<&Path>, indent: &str) -> Result {
    let (mut stream, sender) = accept_one(socket, indent)?;
    let peer = format!("the sender (pid {sender})");
    let first = first_frame(&mut stream, &peer, indent)?;
    // Each line is printed before the byte that lets the other side go on and print its own.
    println!("{indent}receiver: tells the sender; watches our mapping for its next frame");
    send_byte(&mut stream, MAPPED, &peer)?;
    await_frame(&first, 2, &mut stream, &peer)?;
    let (number, check) = first.check();
    println!("{indent}receiver: our mapping now shows frame {number}, check value {check:#010x};");
    println!(
        "{indent}  no message came: {} bytes waiting on the socket (FIONREAD)",
        bytes_waiting(&stream)?
    );
    send_byte(&mut stream, SAW_WRITE, &peer)?;
    write_sealed_frame(&mut stream, &peer, indent)?;
    println!("{indent}receiver: waiting for the sender to hang up");
    send_byte(&mut stream, DONE, &peer)?;
    if let Some(byte) = next_byte(&mut stream, LIMIT)? {
        return Err(format!("{peer} sent {byte:#04x}; it was to hang up").into());
    }
    let (number, check) = first.check();
    println!("{indent}receiver: {peer} is gone; our mapping still shows frame {number},");
    println!(
        "{indent}  check value {check:#010x}: memory lives while a descriptor or mapping does"
    );
    Ok(())
}

/// Binds the socket (`socket`, or `sock` in a new private directory), accepts one sender,
/// and removes the name at once. Returns the connection and the sender's pid.
fn accept_one(socket: Option<&Path>, indent: &str) -> Result<(UnixStream, i32)> {
    let me = std::process::id();
    let mut dir = None; // ours to remove when we made it; the tour passes a path in its own
    let path = match socket {
        Some(path) => path.to_path_buf(),
        None => {
            PrivateDir::sweep_stale(SOCKET_DIR_PREFIX); // left by a receiver SIGKILLed early
            let made = PrivateDir::create(SOCKET_DIR_PREFIX)?;
            let path = made.path().join("sock");
            dir = Some(made);
            path
        }
    };
    let listener =
        UnixListener::bind(&path).map_err(|e| format!("bind {}: {e}", path.display()))?;
    let socket_file = SocketFile::new(&path);
    // bind() made the file 0777 & ~umask; only we need to connect to it.
    fs::set_permissions(&path, fs::Permissions::from_mode(0o600))
        .map_err(|e| format!("chmod 0600 {}: {e}", path.display()))?;
    let mode = fs::symlink_metadata(&path)
        .map_err(|e| format!("stat {}: {e}", path.display()))?
        .mode()
        & 0o777;
    println!("{indent}receiver pid {me}: listening on a Unix socket, mode {mode:04o}:");
    println!("{indent}  {}", short_path(&path));
    if indent.is_empty() {
        println!("in another terminal, within {LIMIT:?}: cargo run -p shm-demo -- memfd-send PATH");
    }
    let stream = accept(&listener)?;
    let sender = getsockopt(&stream, sockopt::PeerCredentials)
        .map_err(|e| format!("getsockopt SO_PEERCRED: {e}"))?
        .pid();
    // The connection needs no name: from here on nothing of ours has one.
    drop((listener, socket_file));
    let and_dir = match dir.take() {
        Some(made) => {
            drop(made);
            " and its directory"
        }
        None => "",
    };
    println!("{indent}receiver: accepted pid {sender}; removed the socket file{and_dir}");
    Ok((stream, sender))
}

/// Frame 1: receive the memfd, show it has no name, check its seals and size, map it
/// read-only, and fail to shrink it.
fn first_frame(stream: &mut UnixStream, peer: &str, indent: &str) -> Result<Frame> {
    let (memfd, sent) = receive_fd(stream, peer, "sending frame 1")?;
    describe_fd(&memfd, indent)?;
    let seals = seals_of(&memfd)?;
    println!("{indent}receiver: seals (F_GET_SEALS): {seals}; the size is fixed");
    let first = map_sealed_frame(&memfd)?;
    let (number, check) = first.check();
    println!(
        "{indent}receiver: mapped it read-only: frame {number}, check value {check:#010x}{}",
        as_sent(check, sent)?
    );
    match nix::unistd::ftruncate(&memfd, 0) {
        Err(e) => println!("{indent}receiver: ftruncate(fd, 0) fails: {e}"),
        Ok(()) => return Err("ftruncate to 0 succeeded: the frame was not sealed".into()),
    }
    Ok(first)
}

/// Frame 3, write-sealed: a writable shared mapping is refused, a read-only one works.
fn write_sealed_frame(stream: &mut UnixStream, peer: &str, indent: &str) -> Result {
    let (sealed, sent) = receive_fd(stream, peer, "sending frame 3")?;
    println!(
        "{indent}receiver: frame 3 came in another memfd, seals: {}",
        seals_of(&sealed)?
    );
    match MmapRaw::map_raw(&sealed) {
        Err(e) if e.raw_os_error() == Some(libc::EPERM) => println!(
            "{indent}receiver: mmap(PROT_READ|PROT_WRITE, MAP_SHARED) fails: {:?}",
            Errno::EPERM
        ),
        Err(e) => return Err(format!("mmap frame 3 writable: {e}").into()),
        Ok(_) => return Err("a writable mapping of a write-sealed memfd worked".into()),
    }
    let third = map_sealed_frame(&sealed)?;
    let (number, check) = third.check();
    println!(
        "{indent}receiver: read-only mmap works: frame {number}, check value {check:#010x}{}",
        as_sent(check, sent)?
    );
    Ok(())
}

/// `path` with the temporary directory written `$TMPDIR` when TMPDIR is set (it may be long;
/// a shell expands it back), as it is otherwise.
fn short_path(path: &Path) -> String {
    let tmpdir = std::env::var_os("TMPDIR").filter(|dir| !dir.is_empty());
    match tmpdir.and_then(|dir| path.strip_prefix(dir).ok().map(Path::to_path_buf)) {
        Some(rest) => format!("$TMPDIR/{}", rest.display()),
        None => path.display().to_string(),
    }
}

/// " (as sent)", or an error if the receiver's check value is not the sender's.
fn as_sent(check: u32, sent: u32) -> Result<&'static str> {
    if check == sent {
        Ok(" (as sent)")
    } else {
        Err(format!("check value {check:#010x}, but the sender drew {sent:#010x}").into())
    }
}

/// What /proc and /dev/shm say about the descriptor we were given: it has no name.
fn describe_fd(memfd: &fs::File, indent: &str) -> Result {
    let fd = memfd.as_raw_fd();
    let proc_link = format!("/proc/{}/fd/{fd}", std::process::id());
    let target = fs::read_link(&proc_link).map_err(|e| format!("readlink {proc_link}: {e}"))?;
    println!(
        "{indent}receiver: got fd {fd}: {proc_link} -> {}",
        target.display()
    );
    let stat = fstat(memfd).map_err(|e| format!("fstat: {e}"))?;
    let mut entries = 0;
    let mut same = 0;
    for entry in fs::read_dir("/dev/shm").map_err(|e| format!("read /dev/shm: {e}"))? {
        let Ok(meta) = entry.and_then(|e| e.path().symlink_metadata()) else {
            continue; // removed meanwhile by whoever owns it
        };
        entries += 1;
        if meta.dev() == stat.st_dev as u64 && meta.ino() == stat.st_ino as u64 {
            same += 1;
        }
    }
    println!(
        "{indent}receiver: fstat: {} links; {same} of {entries} entries in /dev/shm are it",
        stat.st_nlink
    );
    Ok(())
}

/// The seals of `memfd`, checked: a frame whose size is not sealed is refused before mapping.
fn seals_of(memfd: &fs::File) -> Result<String> {
    let bits = fcntl(memfd, FcntlArg::F_GET_SEALS).map_err(|e| format!("F_GET_SEALS: {e}"))?;
    let seals = SealFlag::from_bits_truncate(bits);
    if !seals.contains(SealFlag::F_SEAL_SHRINK | SealFlag::F_SEAL_GROW) {
        return Err(
            format!("frame not sealed against resizing ({bits:#x}): not mapping it").into(),
        );
    }
    Ok(frame::seal_names(seals))
}

/// Maps a frame read-only, after checking its size (its seals were checked first).
fn map_sealed_frame(memfd: &fs::File) -> Result<Frame> {
    let size = fstat(memfd)
        .map_err(|e| format!("fstat frame: {e}"))?
        .st_size;
    if size != FRAME_LEN as i64 {
        return Err(format!("the frame is {size} bytes, not {FRAME_LEN}").into());
    }
    let map = memmap2::MmapOptions::new()
        .map_raw_read_only(memfd)
        .map_err(|e| format!("mmap frame: {e}"))?;
    Frame::new(map)
}

/// Waits (at most [`LIMIT`]) until the frame in `frame` has number `number`, watching the
/// socket meanwhile: the sender may die, and it is to send nothing.
fn await_frame(frame: &Frame, number: u64, stream: &mut UnixStream, peer: &str) -> Result {
    let deadline = Instant::now() + LIMIT;
    while frame.number() != number {
        stop::check()?;
        if Instant::now() > deadline {
            return Err(format!("{peer} did not draw frame {number} within {LIMIT:?}").into());
        }
        if readable(stream, Duration::from_millis(1))? {
            return Err(match next_byte(stream, LIMIT)? {
                None => format!("{peer} hung up before drawing frame {number}: it died"),
                Some(b) => format!("{peer} sent {b:#04x} instead of drawing frame {number}"),
            }
            .into());
        }
    }
    Ok(())
}
