//! The echo server's defences, the lesson of step 6 of the tour: what keeps one client, or a
//! server short of threads or descriptors, from stopping the server for everyone. The `serve`
//! role shows the lecture's server (bind, listen, accept, echo) and leaves all this to a
//! [`Door`]: a listener polled so a stop signal is noticed, accept() failures that repeat until
//! a client leaves, per-client timeouts, a client limit, the peer's uid (SO_PEERCRED), and a
//! thread that cannot start. The same code for every address family ([`Listener`]).

use std::io::{self, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::fd::AsFd;
use std::os::unix::net::{UnixListener, UnixStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, mpsc};
use std::thread;
use std::time::{Duration, Instant};

use nix::fcntl::{FcntlArg, OFlag, fcntl};
use nix::sys::socket::{getsockopt, sockopt};
use nix::unistd::Uid;
use plumbing::tour::duration;
use plumbing::{Result, stop};

use crate::resources::{accept_starved, thread_limits};
use crate::timeouts::{readable_within_100ms, set_timeouts};
use crate::{FrameKind, write_frame};

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

/// The server's door: who is let in, and what happens when the server cannot let anyone in.
/// A bad client loses only its own connection; running out refuses or delays one client.
pub struct Door<'a, L: Listener> {
    listener: &'a L,
    limits: Limits,
    /// Clients being served now, by their threads.
    active: Arc<AtomicUsize>,
    /// The number of the last client accepted (`conn N` in the log).
    id: u64,
    /// Since when accept() has been failing for want of a descriptor or memory: the kernel
    /// keeps the waiting clients in the backlog and poll() says "ready" at once, so we pause.
    starved: Option<Instant>,
}

impl<'a, L: Listener> Door<'a, L> {
    /// Makes `listener` nonblocking, so a client that vanished between poll and accept cannot
    /// block us there.
    pub fn new(listener: &'a L, limits: Limits) -> Result<Self> {
        let flags =
            fcntl(listener, FcntlArg::F_GETFL).map_err(|e| format!("fcntl F_GETFL: {e}"))?;
        let flags = OFlag::from_bits_truncate(flags) | OFlag::O_NONBLOCK;
        fcntl(listener, FcntlArg::F_SETFL(flags)).map_err(|e| format!("fcntl O_NONBLOCK: {e}"))?;
        Ok(Door {
            listener,
            limits,
            active: Arc::new(AtomicUsize::new(0)),
            id: 0,
            starved: None,
        })
    }

    /// accept(2) once a client waits, and its number. None when no client came within 100 ms
    /// (so the caller can check the stop flag), or none could be taken: out of descriptors or
    /// memory (it pauses, says so once, and says when it accepts again), or the client left.
    pub fn accept(&mut self) -> Result<Option<(u64, L::Stream)>> {
        if !readable_within_100ms(self.listener.as_fd())? {
            return Ok(None);
        }
        match self.listener.next_client() {
            Ok(client) => {
                if let Some(since) = self.starved.take() {
                    let waited = duration(since.elapsed());
                    println!("accepting again after {waited}: a client left");
                }
                self.id += 1;
                Ok(Some((self.id, client)))
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok(None),
            Err(e) => {
                match accept_starved(&e) {
                    Some(why) => {
                        if self.starved.is_none() {
                            println!("{why}; new clients wait until one leaves");
                            self.starved = Some(Instant::now());
                        }
                        stop::pause(Duration::from_millis(100))?;
                    }
                    // ECONNABORTED and the like: that one client is gone, the next may come.
                    None => println!("accept: {e}"),
                }
                Ok(None)
            }
        }
    }

    /// Checks the client (timeouts set, the client limit, its peer), then runs `echo` for it on
    /// a thread of its own; a client refused is told why in an error frame.
    pub fn serve<F>(&self, id: u64, mut client: L::Stream, echo: F)
    where
        F: FnOnce(&mut L::Stream) -> io::Result<u64> + Send + 'static,
    {
        let limits = self.limits;
        // The stream blocks (on Linux accept() does not pass on the listener's O_NONBLOCK). A
        // per-read timeout well below the deadlines lets read_frame notice a stall; the write
        // timeout bounds the refusals below (serve_echo bounds each echo as a whole).
        let read_timeout = (limits.frame.min(limits.idle) / 4).max(Duration::from_millis(5));
        if let Err(e) = set_timeouts(&client, read_timeout, Some(limits.frame)) {
            println!("conn {id}: {e}");
            return;
        }
        let max_clients = limits.max_clients;
        if self.active.load(Ordering::SeqCst) >= max_clients {
            println!("conn {id}: refused: {max_clients} clients already connected");
            let busy = format!("server busy: {max_clients} clients connected");
            let _ = write_frame(&mut client, FrameKind::Error, busy.as_bytes());
            return;
        }
        if let Err(why) = L::check_peer(id, &client) {
            refuse(id, &mut client, &why);
            return;
        }
        self.start_thread(id, client, echo);
    }

    /// The thread starts first and is handed the client after: if it cannot start (threads or
    /// address space ran out), the client is still ours to tell why.
    fn start_thread<F>(&self, id: u64, mut client: L::Stream, echo: F)
    where
        F: FnOnce(&mut L::Stream) -> io::Result<u64> + Send + 'static,
    {
        let (hand_over, take) = mpsc::sync_channel::<L::Stream>(1);
        let counted = Arc::clone(&self.active);
        let started = thread::Builder::new()
            .name(format!("conn {id}"))
            .spawn(move || {
                let Ok(mut client) = take.recv() else { return };
                let result = echo(&mut client);
                counted.fetch_sub(1, Ordering::SeqCst);
                match result {
                    Ok(n) => println!("conn {id}: closed by client after {n} echoes"),
                    Err(e) => println!("conn {id}: dropped: {e}"),
                }
            });
        match started {
            Ok(_) => {
                self.active.fetch_add(1, Ordering::SeqCst);
                if hand_over.send(client).is_err() {
                    // the thread is gone: nothing to serve
                    self.active.fetch_sub(1, Ordering::SeqCst);
                }
            }
            Err(e) => {
                let why = format!("no thread for this client: {e}; {}", thread_limits());
                refuse(id, &mut client, &why);
            }
        }
    }
}

/// Logs the refusal and tells the client why in an error frame (best effort: it may be gone).
fn refuse(id: u64, client: &mut impl Write, why: &str) {
    println!("conn {id}: refused: {why}");
    let _ = write_frame(
        client,
        FrameKind::Error,
        format!("refused: {why}").as_bytes(),
    );
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
