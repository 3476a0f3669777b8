//! The lecture's UnixListener: a server at a filesystem path that echoes each line back, one
//! thread per client; `--tcp` serves the same echo over TCP, and the two differ in one line,
//! the bind. Lecture: "Unix Domain Sockets" and "The One-Line Difference".
//!
//! Run (server first; PATH defaults to $TMPDIR/echo.sock):
//!   terminal 1: cargo run -p uds-demo --example echo_server   # [PATH]
//!   terminal 2: cargo run -p uds-demo --example echo_client   # [PATH]
//! or over TCP (ADDR defaults to 127.0.0.1:7878; port 0: the kernel picks a free one):
//!   terminal 1: cargo run -p uds-demo --example echo_server -- --tcp [ADDR]
//!   terminal 2: cargo run -p uds-demo --example echo_client -- --tcp [ADDR]
//! You will see `listening on ...`; the client prints the echoed line. Ctrl-C or SIGTERM
//! stops the server and removes the socket file.
//!
//! To use it alone: `cargo new echo_server`, put this file in src/main.rs, add these lines
//! under [dependencies] in Cargo.toml, then `cargo run` (or `cargo run -- --tcp`) in
//! terminal 1, and the same in echo_client's own project in terminal 2:
//! ```toml
//! [dependencies]
//! nix = { version = "0.32", features = ["fs"] }
//! signal-hook = "0.4"
//! ```

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::os::unix::fs::FileTypeExt;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};

use nix::sys::stat::{Mode, umask};
use signal_hook::consts::{SIGINT, SIGTERM};

/// The echo itself: it neither knows nor cares which kind of socket it has.
fn echo<S: Read + Write>(stream: S) -> std::io::Result<()> {
    let mut reader = BufReader::new(stream);
    let mut line = String::new();
    while reader.read_line(&mut line)? > 0 {
        reader.get_mut().write_all(line.as_bytes())?;
        line.clear();
    }
    Ok(()) // 0 bytes read: the client closed its end
}

fn spawn_echo<S: Read + Write + Send + 'static>(accepted: std::io::Result<S>) {
    match accepted {
        // A thread per client, so one idle client cannot stall the others.
        Ok(stream) => {
            std::thread::spawn(|| echo(stream).inspect_err(|e| eprintln!("client: {e}")));
        }
        Err(e) => eprintln!("accept: {e}"), // e.g. ECONNABORTED: keep serving
    }
}

/// A socket file outlives a server that crashed, and bind then fails with EADDRINUSE. Remove
/// it only if it is a socket nobody answers on: a blind remove_file would delete whatever a
/// mistyped PATH names, and removing a live server's socket would cut it off from new clients.
fn remove_stale(path: &Path) -> Result<(), String> {
    let shown = path.display();
    match std::fs::symlink_metadata(path) {
        Err(_) => Ok(()), // nothing there; anything stranger, bind reports
        Ok(meta) if !meta.file_type().is_socket() => Err(format!("{shown}: not a socket")),
        Ok(_) if UnixStream::connect(path).is_ok() => Err(format!("{shown}: server running")),
        Ok(_) => std::fs::remove_file(path).map_err(|e| format!("remove stale {shown}: {e}")),
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().is_some_and(|a| a == "--tcp") {
        let addr = args.get(1).map_or("127.0.0.1:7878", String::as_str);
        // The one line that differs from the Unix form below:
        let listener = TcpListener::bind(addr).map_err(|e| format!("bind {addr}: {e}"))?;
        println!("listening on {}", listener.local_addr()?);
        listener.incoming().for_each(spawn_echo);
        return Ok(()); // nothing on disk to clean: Ctrl-C may simply end us
    }
    let default = std::env::temp_dir().join("echo.sock");
    let path = args.first().map_or(default, PathBuf::from);
    let shown = path.display();
    // sun_path in struct sockaddr_un is 108 bytes, one of them the final NUL.
    if path.as_os_str().len() > 107 {
        return Err(format!("{shown}: longer than 107 bytes").into());
    }
    remove_stale(&path)?;
    // Signals caught before bind, handled after: none can skip the removal.
    let mut signals = signal_hook::iterator::Signals::new([SIGINT, SIGTERM])?;
    // bind makes the socket file 0777 minus the umask; connecting needs write: 077, owner-only.
    umask(Mode::from_bits_truncate(0o077));
    // The one line that differs from the TCP form above:
    let listener = UnixListener::bind(&path).map_err(|e| format!("bind {shown}: {e}"))?;
    let socket_file = path.clone();
    std::thread::spawn(move || {
        if let Some(signal) = signals.forever().next() {
            let _ = std::fs::remove_file(&socket_file);
            let _ = signal_hook::low_level::emulate_default_handler(signal);
        }
    });
    println!("listening on {shown}");
    listener.incoming().for_each(spawn_echo); // accept() for ever
    Ok(())
}
