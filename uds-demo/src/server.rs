//! The server side: naming a socket safely (private directory, stale file, sun_path length,
//! permissions), the echo server for AF_UNIX and AF_INET, SO_PEERCRED, and receiving a file
//! descriptor with SCM_RIGHTS.

use std::fs::{self, DirBuilder, File};
use std::io::{IoSliceMut, Read};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::linux::net::SocketAddrExt;
use std::os::unix::fs::{DirBuilderExt, FileTypeExt, MetadataExt};
use std::os::unix::net::{self as unix, UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread;
use std::time::Duration;

use nix::errno::Errno;
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use nix::sys::socket::{ControlMessageOwned, MsgFlags, getsockopt, recvmsg, sockopt};
use nix::sys::stat::{Mode, umask};
use nix::unistd::{Pid, Uid};
use uds_demo::{FrameKind, serve_echo, write_frame};

use crate::stopped;

type Result<T> = std::result::Result<T, String>;

/// `sun_path` in `struct sockaddr_un` is 108 bytes on Linux, including the terminating NUL.
pub const SUN_PATH_BYTES: usize = 108;

/// A private directory (mode 0700) under the temp dir; `Drop` removes it and what is inside.
pub struct PrivateDir {
    pub path: PathBuf,
}

impl PrivateDir {
    /// Creates `<tmp>/ipc-tour-uds-<pid>-<random>` exclusively (mkdir fails if it exists).
    pub fn create() -> Result<Self> {
        let name = format!(
            "ipc-tour-uds-{}-{:08x}",
            std::process::id(),
            rand::random::<u32>()
        );
        let path = std::env::temp_dir().join(name);
        DirBuilder::new()
            .mode(0o700)
            .create(&path)
            .map_err(|e| format!("mkdir {}: {e}", path.display()))?;
        Ok(PrivateDir { path })
    }
}

impl Drop for PrivateDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.path);
    }
}

/// Removes `ipc-tour-uds-<pid>-*` directories of ours whose pid is gone (a SIGKILLed run cannot
/// clean up after itself). Returns how many were removed.
pub fn sweep_stale_dirs() -> usize {
    let Ok(entries) = fs::read_dir(std::env::temp_dir()) else {
        return 0;
    };
    let mut removed = 0;
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(pid) = name
            .strip_prefix("ipc-tour-uds-")
            .and_then(|rest| rest.split('-').next())
        else {
            continue;
        };
        let Ok(pid) = pid.parse::<i32>() else {
            continue;
        };
        let ours = entry
            .metadata()
            .is_ok_and(|m| m.is_dir() && m.uid() == Uid::current().as_raw());
        let dead = nix::sys::signal::kill(Pid::from_raw(pid), None) == Err(Errno::ESRCH);
        if ours && dead && fs::remove_dir_all(entry.path()).is_ok() {
            removed += 1;
        }
    }
    removed
}

/// The socket file a listener is bound to; `Drop` unlinks it (closing a socket never does).
pub struct SocketFile {
    pub path: PathBuf,
}

impl Drop for SocketFile {
    fn drop(&mut self) {
        let _ = fs::remove_file(&self.path);
    }
}

/// Refuses, before `bind`, a path that does not fit in `sun_path`.
pub fn check_sun_path(path: &Path) -> Result<()> {
    let len = path.as_os_str().len();
    if len + 1 > SUN_PATH_BYTES {
        return Err(format!(
            "socket path too long: {len} bytes, but sun_path holds {SUN_PATH_BYTES} bytes \
             including the NUL (at most {}); choose a shorter path",
            SUN_PATH_BYTES - 1
        ));
    }
    Ok(())
}

/// Binds a listening socket at `path`, mode 0600. A socket file left by a killed server is
/// detected (connect is refused: nobody listens) and replaced; anything else at `path` is an
/// error. Returns the listener, the owner of the file, and whether a stale file was replaced.
pub fn bind_unix(path: &Path) -> Result<(UnixListener, SocketFile, bool)> {
    check_sun_path(path)?;
    let mut replaced_stale = false;
    match fs::symlink_metadata(path) {
        Ok(meta) if !meta.file_type().is_socket() => {
            return Err(format!(
                "{} exists and is not a socket; not replacing it",
                path.display()
            ));
        }
        Ok(_) => match UnixStream::connect(path) {
            Ok(_) => {
                return Err(format!(
                    "{}: another server is listening there",
                    path.display()
                ));
            }
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionRefused => {
                // Stale: the file outlived its server. (Another server could bind between this
                // check and our bind; bind would then fail with EADDRINUSE, which is reported.)
                fs::remove_file(path)
                    .map_err(|e| format!("remove stale {}: {e}", path.display()))?;
                replaced_stale = true;
            }
            Err(e) => {
                return Err(format!(
                    "connect {} (checking for a stale socket): {e}",
                    path.display()
                ));
            }
        },
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(format!("stat {}: {e}", path.display())),
    }
    // bind() creates the file with mode 0777 & !umask. A chmod after bind would leave a window in
    // which any local user may connect, so narrow the umask around bind instead. umask is
    // process-wide: this runs before the server starts any thread.
    let old = umask(Mode::from_bits_truncate(0o177));
    let bound = UnixListener::bind(path);
    umask(old);
    let listener = bound.map_err(|e| format!("bind {}: {e}", path.display()))?;
    Ok((
        listener,
        SocketFile {
            path: path.to_path_buf(),
        },
        replaced_stale,
    ))
}

/// Binds in the Linux abstract namespace: a name that starts with a NUL byte, no file at all,
/// gone when the last socket closes. It has no permissions either: anyone in this network
/// namespace may connect, which is why the server checks SO_PEERCRED.
pub fn bind_abstract(name: &str) -> Result<UnixListener> {
    let addr = unix::SocketAddr::from_abstract_name(name.as_bytes())
        .map_err(|e| format!("abstract name @{name}: {e}"))?;
    UnixListener::bind_addr(&addr).map_err(|e| format!("bind @{name}: {e}"))
}

/// Where the echo server listens.
pub enum Listener {
    Unix(UnixListener),
    Inet(TcpListener),
}

impl Listener {
    fn fd(&self) -> std::os::fd::BorrowedFd<'_> {
        match self {
            Listener::Unix(l) => l.as_fd(),
            Listener::Inet(l) => l.as_fd(),
        }
    }
}

/// Binds `addr` for TCP (the only line that differs from AF_UNIX).
pub fn bind_inet(addr: SocketAddr) -> Result<(TcpListener, SocketAddr)> {
    let listener = TcpListener::bind(addr).map_err(|e| format!("bind {addr}: {e}"))?;
    let actual = listener
        .local_addr()
        .map_err(|e| format!("getsockname: {e}"))?;
    Ok((listener, actual))
}

/// Waits up to 100 ms for `fd` to become readable. Ok(false) on timeout or EINTR.
fn readable_within_100ms(fd: std::os::fd::BorrowedFd<'_>) -> Result<bool> {
    let mut fds = [PollFd::new(fd, PollFlags::POLLIN)];
    match poll(&mut fds, PollTimeout::from(100u16)) {
        Ok(n) => Ok(n > 0),
        Err(Errno::EINTR) => Ok(false),
        Err(e) => Err(format!("poll: {e}")),
    }
}

/// What one client may cost the server.
#[derive(Clone, Copy)]
pub struct Limits {
    /// Longest wait for a frame to begin.
    pub idle: Duration,
    /// Longest time one frame may take once it began (defeats slowloris).
    pub frame: Duration,
    /// Most clients served at once.
    pub max_clients: usize,
}

/// Accepts clients until SIGINT/SIGTERM, one thread per client, within `limits`; a bad client
/// loses only its own connection.
pub fn serve(listener: Listener, limits: Limits) -> Result<()> {
    let nonblocking = match &listener {
        Listener::Unix(l) => l.set_nonblocking(true),
        Listener::Inet(l) => l.set_nonblocking(true),
    };
    nonblocking.map_err(|e| format!("fcntl O_NONBLOCK: {e}"))?;
    let active = Arc::new(AtomicUsize::new(0));
    let mut id = 0u64;
    while !stopped() {
        if !readable_within_100ms(listener.fd())? {
            continue;
        }
        id += 1;
        let accepted = match &listener {
            Listener::Unix(l) => l.accept().map(|(s, _)| Client::Unix(s)),
            Listener::Inet(l) => l.accept().map(|(s, _)| Client::Inet(s)),
        };
        match accepted {
            Ok(client) => client.start(id, limits, &active),
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
            Err(e) => println!("conn {id}: accept: {e}"),
        }
    }
    Ok(())
}

enum Client {
    Unix(UnixStream),
    Inet(TcpStream),
}

impl Client {
    /// Checks the peer, then runs the shared echo code on a thread of its own.
    fn start(self, id: u64, limits: Limits, active: &Arc<AtomicUsize>) {
        // A per-read timeout well below the deadlines lets read_frame notice a stall; the write
        // timeout stops a client that never reads from blocking our thread forever.
        let read_timeout = Some((limits.frame.min(limits.idle) / 4).max(Duration::from_millis(5)));
        let write_timeout = Some(limits.frame);
        let set = match &self {
            Client::Unix(s) => s
                .set_nonblocking(false)
                .and(s.set_read_timeout(read_timeout))
                .and(s.set_write_timeout(write_timeout)),
            Client::Inet(s) => s
                .set_nonblocking(false)
                .and(s.set_read_timeout(read_timeout))
                .and(s.set_write_timeout(write_timeout)),
        };
        if let Err(e) = set {
            println!("conn {id}: setsockopt: {e}");
            return;
        }
        let max_clients = limits.max_clients;
        if active.load(Ordering::SeqCst) >= max_clients {
            println!("conn {id}: refused: {max_clients} clients already connected");
            let _ = self.send_error(&format!("server busy: {max_clients} clients connected"));
            return;
        }
        match &self {
            Client::Unix(s) => {
                if let Err(why) = check_peer(id, s) {
                    println!("conn {id}: refused: {why}");
                    let _ = self.send_error(&format!("refused: {why}"));
                    return;
                }
            }
            Client::Inet(s) => match s.peer_addr() {
                Ok(peer) => println!("conn {id}: peer {peer}"),
                Err(e) => println!("conn {id}: peer unknown: {e}"),
            },
        }
        active.fetch_add(1, Ordering::SeqCst);
        let active = Arc::clone(active);
        thread::spawn(move || {
            // The same generic function serves both address families.
            let result = match self {
                Client::Unix(mut s) => serve_echo(&mut s, limits.idle, limits.frame),
                Client::Inet(mut s) => serve_echo(&mut s, limits.idle, limits.frame),
            };
            active.fetch_sub(1, Ordering::SeqCst);
            match result {
                Ok(n) => println!("conn {id}: closed by client after {n} echoes"),
                Err(e) => println!("conn {id}: dropped: {e}"),
            }
        });
    }

    fn send_error(mut self, text: &str) -> std::io::Result<()> {
        match &mut self {
            Client::Unix(s) => write_frame(s, FrameKind::Error, text.as_bytes()),
            Client::Inet(s) => write_frame(s, FrameKind::Error, text.as_bytes()),
        }
    }
}

/// SO_PEERCRED: the kernel tells us who connected (recorded at connect(), cannot be forged).
/// Refuses a peer whose uid differs from ours.
fn check_peer(id: u64, stream: &UnixStream) -> std::result::Result<(), String> {
    let cred =
        getsockopt(stream, sockopt::PeerCredentials).map_err(|e| format!("SO_PEERCRED: {e}"))?;
    println!(
        "conn {id}: peer pid={} uid={} gid={}",
        cred.pid(),
        cred.uid(),
        cred.gid()
    );
    let me = Uid::current().as_raw();
    if cred.uid() != me {
        return Err(format!(
            "peer uid {} is not the server's uid {me}",
            cred.uid()
        ));
    }
    Ok(())
}

/// Accepts one client on `listener`, receives one file descriptor from it (SCM_RIGHTS), and
/// returns the sender's pid, the fd number it got here and the open file.
pub fn accept_and_receive_fd(listener: &UnixListener) -> Result<(UnixStream, i32, RawFd, File)> {
    listener
        .set_nonblocking(true)
        .map_err(|e| format!("fcntl O_NONBLOCK: {e}"))?;
    let stream = loop {
        if stopped() {
            return Err("interrupted".into());
        }
        if readable_within_100ms(listener.as_fd())? {
            match listener.accept() {
                Ok((s, _)) => break s,
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                Err(e) => return Err(format!("accept: {e}")),
            }
        }
    };
    stream
        .set_nonblocking(false)
        .map_err(|e| format!("fcntl: {e}"))?;
    stream
        .set_read_timeout(Some(Duration::from_secs(2)))
        .map_err(|e| format!("setsockopt: {e}"))?;
    let sender =
        getsockopt(&stream, sockopt::PeerCredentials).map_err(|e| format!("SO_PEERCRED: {e}"))?;

    // The fd travels as ancillary data next to at least one ordinary byte.
    let mut byte = [0u8; 1];
    let mut iov = [IoSliceMut::new(&mut byte)];
    let mut space = nix::cmsg_space!([RawFd; 1]);
    let msg = recvmsg::<()>(
        stream.as_raw_fd(),
        &mut iov,
        Some(&mut space),
        MsgFlags::MSG_CMSG_CLOEXEC,
    )
    .map_err(|e| format!("recvmsg: {e}"))?;
    let mut received = None;
    for cmsg in msg
        .cmsgs()
        .map_err(|e| format!("recvmsg control data: {e}"))?
    {
        if let ControlMessageOwned::ScmRights(fds) = cmsg {
            for fd in fds {
                // SAFETY: the kernel has just installed `fd` in our fd table for this message;
                // nobody else holds it, so taking ownership (and closing it on drop) is sound.
                let owned = unsafe { OwnedFd::from_raw_fd(fd) };
                received.get_or_insert((fd, owned));
            }
        }
    }
    let (fd, owned) = received.ok_or("recvmsg: the message carried no file descriptor")?;
    Ok((stream, sender.pid(), fd, File::from(owned)))
}

/// Reads at most 4 KiB through a received file. Only a regular file: a sender could pass a
/// terminal, a pipe or a socket, where the read would wait for its writer for ever.
pub fn read_through(mut file: &File) -> Result<Vec<u8>> {
    let meta = file
        .metadata()
        .map_err(|e| format!("fstat the received fd: {e}"))?;
    if !meta.is_file() {
        let kind = meta.file_type();
        let kind = if kind.is_fifo() {
            "a pipe"
        } else if kind.is_socket() {
            "a socket"
        } else if kind.is_char_device() {
            "a character device (a terminal?)"
        } else if kind.is_dir() {
            "a directory"
        } else {
            "a special file"
        };
        return Err(format!(
            "the received fd is {kind}, not a regular file; reading it could block for ever, so \
             fd-recv does not"
        ));
    }
    let mut text = Vec::new();
    file.by_ref()
        .take(4096)
        .read_to_end(&mut text)
        .map_err(|e| format!("read through the received fd: {e}"))?;
    Ok(text)
}
