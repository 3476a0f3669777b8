//! The `serve` role, `uds-demo serve [--unix PATH | --inet IP:PORT | --abstract NAME]`: the
//! lecture's echo server, written once for every address family. socket(2), bind(2) and
//! listen(2) (std's `bind` makes all three calls), then accept(2) and the echo, one thread per
//! client. Only the bind line differs per family; step 2 of the tour shows it.
//!
//! What keeps a hostile client or a server out of threads or descriptors from stopping it
//! (timeouts, a client limit, the peer's uid, EMFILE) is step 6's lesson: one call away, in
//! `uds_demo::defences`.
//!
//! A server on a socket file owns it: SIGINT, SIGTERM, SIGHUP or SIGQUIT ends the server, the
//! file is removed, and it exits 128 + the signal's number. An `--inet` or `--abstract` server
//! owns no file. Across two hosts: `serve --inet 0.0.0.0:7878` on one, `client --inet IP:7878`
//! on the other.

use std::net::TcpListener;
use std::os::unix::net::UnixListener;
use std::path::Path;

use plumbing::names::PrivateDir;
use plumbing::stop::{self, Owns};
use plumbing::{Result, child};
use uds_demo::address::{Address, NAME_PREFIX, abstract_addr};
use uds_demo::defences::{Door, Limits, Listener};
use uds_demo::resources::check_open_files;
use uds_demo::serve_echo;
use uds_demo::socket_file::{self, SocketFile};

/// Binds the address (no address: `echo.sock` in a new private directory), says where it
/// listens, and serves until a stop signal. The owners of the file and the directory live
/// until this returns, so they are removed on Ctrl-C too. A server the tour started (it
/// passes its pid) dies with the tour.
pub fn run(at: Option<Address>, limits: Limits, parent_pid: Option<u32>) -> Result {
    child::die_with_tour(parent_pid)?;
    // An inet or abstract server names no file; one on a socket file does.
    let names_a_file = !matches!(at, Some(Address::Inet(_) | Address::Abstract(_)));
    stop::catch(if names_a_file {
        Owns::Objects
    } else {
        Owns::Nothing
    })?;
    // Refuse now to start a server that would run out of descriptors below its client limit.
    check_open_files(limits.max_clients)?;
    match at {
        Some(Address::Inet(addr)) => {
            // socket(2) + bind(2) + listen(2). The one line that differs from AF_UNIX:
            let listener = TcpListener::bind(addr).map_err(|e| format!("bind {addr}: {e}"))?;
            let actual = listener
                .local_addr()
                .map_err(|e| format!("getsockname: {e}"))?;
            println!("listening on inet:{actual}");
            accept_and_echo(&listener, limits)
        }
        Some(Address::Abstract(name)) => {
            // socket(2) + bind(2) + listen(2), on a name that starts with a NUL byte: no file.
            let listener = UnixListener::bind_addr(&abstract_addr(&name)?)
                .map_err(|e| format!("bind @{name}: {e}"))?;
            println!(
                "listening on abstract:@{name} (no file: the name lives in the network namespace)"
            );
            accept_and_echo(&listener, limits)
        }
        Some(Address::File(path)) => serve_file(&path, limits),
        None => {
            PrivateDir::sweep_stale(NAME_PREFIX);
            let dir = PrivateDir::create(NAME_PREFIX)?;
            serve_file(&dir.path().join("echo.sock"), limits)
        }
    }
}

/// The lecture's server at a path: a socket file, mode 0600, removed when we return.
fn serve_file(path: &Path, limits: Limits) -> Result {
    let shown = path.display();
    // A file a killed server left behind is removed first: step 7's lesson.
    let replaced = socket_file::remove_if_stale(path)?;
    // socket(2) + bind(2) + listen(2); bind creates the file, 0600 from the start (the umask).
    let listener = socket_file::with_umask_0177(|| UnixListener::bind(path))
        .map_err(|e| format!("bind {shown}: {e}"))?;
    let _file = SocketFile::new(path); // unlinks it when we return: closing never does
    if replaced {
        println!("replaced stale socket file {shown} (connect was refused: no server)");
    }
    println!("listening on unix:{shown}");
    println!("in another terminal: cargo run -p uds-demo -- client --unix {shown}");
    accept_and_echo(&listener, limits)
}

/// accept(2) each client and echo its frames back on a thread of its own, until a stop
/// signal. The same code for every family: `L` is a `UnixListener` or a `TcpListener`.
fn accept_and_echo<L: Listener>(listener: &L, limits: Limits) -> Result {
    // Step 6's defences (see `Door`): a bad client loses only its own connection.
    let mut door = Door::new(listener, limits)?;
    loop {
        stop::check()?; // a stop signal ends the loop, so the socket file's owner runs
        // accept(2), once a client is waiting (polled, so the check above keeps running)
        let Some((id, client)) = door.accept()? else {
            continue;
        };
        // The echo: read a frame, write it back, until the client closes (uds_demo::serve_echo)
        door.serve(id, client, move |client| {
            serve_echo(client, limits.idle, limits.frame)
        });
    }
}
