//! The echo server, written once for every address family. Only the address changes: one
//! function binds each family ([`bind_unix`], [`bind_abstract`], [`bind_inet`]), and the one
//! accept loop, [`serve_connections`], serves whichever listener it is given. The conversation
//! with a client is `uds_demo::serve_echo`, generic over the stream. (Step 2 of the tour
//! prints the one line that differs, from `examples/echo_server.rs`.)

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::fd::{AsFd, BorrowedFd};
use std::os::linux::net::SocketAddrExt;
use std::os::unix::net::{self as unix, UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, mpsc};
use std::thread;
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::fcntl::{FcntlArg, OFlag, fcntl};
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use nix::sys::socket::{getsockopt, setsockopt, sockopt};
use nix::sys::time::{TimeVal, TimeValLike};
use nix::unistd::Uid;
use plumbing::{Result, stop};
use uds_demo::{FrameKind, serve_echo, write_frame};

use crate::resources::{accept_starved, thread_limits};
use crate::socket_file::{self, SocketFile};

/// How long a client waits for any one reply.
pub const REPLY_TIMEOUT: Duration = Duration::from_secs(2);

/// Where a server listens or a client connects: the only thing that differs between families.
pub enum Address {
    /// AF_UNIX, a socket file at this path.
    File(PathBuf),
    /// AF_UNIX in the Linux abstract namespace: a name, no file.
    Abstract(String),
    /// AF_INET (or AF_INET6): a numeric IP address and a port.
    Inet(SocketAddr),
}

/// AF_UNIX at a path: the socket file is created mode 0600, and a stale one (left by a killed
/// server) is replaced. Returns the listener, the owner of the file, and whether a stale file
/// was replaced.
pub fn bind_unix(path: &Path) -> Result<(UnixListener, SocketFile, bool)> {
    let replaced = socket_file::remove_if_stale(path)?;
    let listener = socket_file::with_umask_0177(|| UnixListener::bind(path))
        .map_err(|e| format!("bind {}: {e}", path.display()))?;
    Ok((listener, SocketFile::new(path), replaced))
}

/// AF_UNIX in the Linux abstract namespace: a name that starts with a NUL byte, no file at all,
/// gone when the last socket closes. It has no permissions either: anyone in this network
/// namespace may connect, which is why the server checks SO_PEERCRED.
pub fn bind_abstract(name: &str) -> Result<UnixListener> {
    let listener =
        UnixListener::bind_addr(&abstract_addr(name)?).map_err(|e| format!("bind @{name}: {e}"))?;
    Ok(listener)
}

/// AF_INET: the same server over TCP. Returns the address actually bound (port 0: any free one).
pub fn bind_inet(addr: SocketAddr) -> Result<(TcpListener, SocketAddr)> {
    let listener = TcpListener::bind(addr).map_err(|e| format!("bind {addr}: {e}"))?;
    let actual = listener
        .local_addr()
        .map_err(|e| format!("getsockname: {e}"))?;
    Ok((listener, actual))
}

/// The address of an abstract name (no leading '@', no NUL: the library adds the NUL).
pub fn abstract_addr(name: &str) -> Result<unix::SocketAddr> {
    Ok(unix::SocketAddr::from_abstract_name(name.as_bytes())
        .map_err(|e| format!("abstract name @{name}: {e}"))?)
}

/// What the accept loop needs from a listening socket, whatever its family.
pub trait Listener: AsFd {
    /// What accept() returns: `UnixStream` or `TcpStream`.
    type Stream: Read + Write + AsFd + Send + 'static;
    /// accept(2): the next client.
    fn next_client(&self) -> io::Result<Self::Stream>;
    /// Prints who connected (conn `id`); `Err(why)` refuses them.
    fn check_peer(id: u64, client: &Self::Stream) -> std::result::Result<(), String>;
}

impl Listener for UnixListener {
    type Stream = UnixStream;
    fn next_client(&self) -> io::Result<UnixStream> {
        self.accept().map(|(client, _)| client)
    }
    fn check_peer(id: u64, client: &UnixStream) -> std::result::Result<(), String> {
        check_peer_uid(id, client)
    }
}

impl Listener for TcpListener {
    type Stream = TcpStream;
    fn next_client(&self) -> io::Result<TcpStream> {
        self.accept().map(|(client, _)| client)
    }
    /// TCP knows only the peer's address: any host that can reach the port may connect.
    fn check_peer(id: u64, client: &TcpStream) -> std::result::Result<(), String> {
        match client.peer_addr() {
            Ok(peer) => println!("conn {id}: peer {peer}"),
            Err(e) => println!("conn {id}: peer unknown: {e}"),
        }
        Ok(())
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

/// Accepts clients until a stop signal, one thread per client, within `limits`; a bad client
/// loses only its own connection. The same code for every address family.
pub fn serve_connections<L: Listener>(listener: &L, limits: Limits) -> Result {
    // Nonblocking, so a client that vanished between poll and accept cannot block us there.
    let flags = fcntl(listener, FcntlArg::F_GETFL).map_err(|e| format!("fcntl F_GETFL: {e}"))?;
    let flags = OFlag::from_bits_truncate(flags) | OFlag::O_NONBLOCK;
    fcntl(listener, FcntlArg::F_SETFL(flags)).map_err(|e| format!("fcntl O_NONBLOCK: {e}"))?;
    let active = Arc::new(AtomicUsize::new(0));
    let mut id = 0u64;
    // Since when accept() has been failing for want of a descriptor or memory: the kernel keeps
    // the waiting clients in the backlog and poll() says "ready" at once, so we pause instead.
    let mut starved: Option<Instant> = None;
    loop {
        stop::check()?;
        if !readable_within_100ms(listener.as_fd())? {
            continue;
        }
        match listener.next_client() {
            Ok(client) => {
                if let Some(since) = starved.take() {
                    let ms = since.elapsed().as_millis();
                    println!("accepting again after {ms} ms: a client left");
                }
                id += 1;
                start_client::<L>(client, id, limits, &active);
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
            Err(e) => match accept_starved(&e) {
                Some(why) => {
                    if starved.is_none() {
                        println!("{why}; new clients wait until one leaves");
                        starved = Some(Instant::now());
                    }
                    stop::pause(Duration::from_millis(100))?;
                }
                // ECONNABORTED and the like: that one client is gone, the next may come.
                None => println!("accept: {e}"),
            },
        }
    }
}

/// Checks the peer, then runs the shared echo code on a thread of its own.
fn start_client<L: Listener>(
    mut client: L::Stream,
    id: u64,
    limits: Limits,
    active: &Arc<AtomicUsize>,
) {
    // The stream blocks (on Linux accept() does not pass on the listener's O_NONBLOCK). A
    // per-read timeout well below the deadlines lets read_frame notice a stall; the write
    // timeout bounds the refusals below (serve_echo bounds each echo as a whole).
    let read_timeout = (limits.frame.min(limits.idle) / 4).max(Duration::from_millis(5));
    if let Err(e) = set_timeouts(&client, read_timeout, Some(limits.frame)) {
        println!("conn {id}: {e}");
        return;
    }
    let max_clients = limits.max_clients;
    if active.load(Ordering::SeqCst) >= max_clients {
        println!("conn {id}: refused: {max_clients} clients already connected");
        let busy = format!("server busy: {max_clients} clients connected");
        let _ = write_frame(&mut client, FrameKind::Error, busy.as_bytes());
        return;
    }
    if let Err(why) = L::check_peer(id, &client) {
        println!("conn {id}: refused: {why}");
        let _ = write_frame(
            &mut client,
            FrameKind::Error,
            format!("refused: {why}").as_bytes(),
        );
        return;
    }
    // The thread starts first and is handed the client after: if it cannot start (threads or
    // address space ran out), the client is still ours to tell why.
    let (hand_over, take) = mpsc::sync_channel::<L::Stream>(1);
    let counted = Arc::clone(active);
    let started = thread::Builder::new()
        .name(format!("conn {id}"))
        .spawn(move || {
            let Ok(mut client) = take.recv() else { return };
            let result = serve_echo(&mut client, limits.idle, limits.frame);
            counted.fetch_sub(1, Ordering::SeqCst);
            match result {
                Ok(n) => println!("conn {id}: closed by client after {n} echoes"),
                Err(e) => println!("conn {id}: dropped: {e}"),
            }
        });
    match started {
        Ok(_) => {
            active.fetch_add(1, Ordering::SeqCst);
            if hand_over.send(client).is_err() {
                active.fetch_sub(1, Ordering::SeqCst); // the thread is gone: nothing to serve
            }
        }
        Err(e) => {
            let why = format!("no thread for this client: {e}; {}", thread_limits());
            println!("conn {id}: refused: {why}");
            let _ = write_frame(
                &mut client,
                FrameKind::Error,
                format!("refused: {why}").as_bytes(),
            );
        }
    }
}

/// SO_PEERCRED: the kernel tells us who connected (recorded at connect(), cannot be forged).
/// Refuses a peer whose uid differs from ours.
fn check_peer_uid(id: u64, stream: &UnixStream) -> std::result::Result<(), String> {
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

/// SO_RCVTIMEO (and SO_SNDTIMEO when `write` is given): socket options, set the same way on a
/// socket of any family. A read that waits longer fails with EAGAIN.
pub fn set_timeouts(socket: &impl AsFd, read: Duration, write: Option<Duration>) -> Result {
    // A zero timeval would mean "wait for ever": never ask for less than a microsecond.
    let timeval = |d: Duration| {
        TimeVal::microseconds(i64::try_from(d.as_micros()).unwrap_or(i64::MAX).max(1))
    };
    setsockopt(socket, sockopt::ReceiveTimeout, &timeval(read))
        .map_err(|e| format!("setsockopt SO_RCVTIMEO: {e}"))?;
    if let Some(write) = write {
        setsockopt(socket, sockopt::SendTimeout, &timeval(write))
            .map_err(|e| format!("setsockopt SO_SNDTIMEO: {e}"))?;
    }
    Ok(())
}

/// Waits up to 100 ms for `fd` to become readable (so the caller can check the stop flag).
/// Ok(false) on timeout or EINTR.
pub fn readable_within_100ms(fd: BorrowedFd<'_>) -> Result<bool> {
    let mut fds = [PollFd::new(fd, PollFlags::POLLIN)];
    match poll(&mut fds, PollTimeout::from(100u16)) {
        Ok(n) => Ok(n > 0),
        Err(Errno::EINTR) => Ok(false),
        Err(e) => Err(format!("poll: {e}").into()),
    }
}
