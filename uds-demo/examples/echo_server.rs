//! The lecture's UnixListener: a server at a filesystem path echoing each line back, a thread
//! per client; `--tcp` serves the same over TCP, and only the bind differs. Lecture: "Unix
//! Domain Sockets" and "The One-Line Difference". Run (server first):
//!   terminal 1: cargo run -p uds-demo --example echo_server   # [PATH] or -- --tcp [ADDR]
//!   terminal 2: cargo run -p uds-demo --example echo_client   # the same arguments
//! PATH defaults to $TMPDIR/echo.sock, ADDR to 127.0.0.1:7878 (port 0: the kernel picks one).
//! You will see `listening on ...`; the client prints the echoed line. Ctrl-C, SIGTERM, SIGHUP
//! or SIGQUIT stops the server and removes the socket file. A line over 4 KiB, or a client
//! beyond the threads or descriptors we can have, is refused; the others are served on.
//!
//! To use it alone: `cargo new echo_server`, put this file in src/main.rs, add these lines
//! under [dependencies] in Cargo.toml, `cargo run` (or `cargo run -- --tcp`); echo_client alike:
//! ```toml
//! [dependencies]
//! nix = { version = "0.32", features = ["fs", "signal"] }
//! signal-hook = "0.4"
//! ```

use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::{fs::FileTypeExt, net::UnixListener, net::UnixStream};
use std::{net::TcpListener, path::Path, path::PathBuf};

use nix::sys::{signal::SigSet, stat::Mode, stat::umask};
use signal_hook::consts::{SIGHUP, SIGINT, SIGQUIT, SIGTERM};

/// The echo, over any socket. A client gone is an EPIPE error here (Rust ignores SIGPIPE).
fn echo<S: Read + Write>(stream: S) -> std::io::Result<()> {
    let (mut reader, mut line) = (BufReader::new(stream), String::new());
    // take: a line with no newline ends at 4097 bytes instead of filling our memory.
    while reader.by_ref().take(4097).read_line(&mut line)? > 0 {
        if line.len() > 4096 {
            return Err(std::io::Error::other("a line over 4 KiB: refused"));
        }
        reader.get_mut().write_all(line.as_bytes())?;
        line.clear();
    }
    Ok(()) // 0 bytes read: the client closed its end
}

fn spawn_echo<S: Read + Write + Send + 'static>(accepted: std::io::Result<S>) {
    let Ok(stream) = accepted.inspect_err(|e| eprintln!("accept: {e}")) else {
        // EMFILE (out of descriptors) fails again at once until a client leaves: wait, don't spin.
        return std::thread::sleep(std::time::Duration::from_millis(100));
    };
    // A thread per client, so one idle client cannot stall the others. No thread to be had
    // (ulimit -u, memory): this client is refused (dropping the stream closes it).
    let echoing = move || echo(stream).inspect_err(|e| eprintln!("client: {e}"));
    if let Err(e) = std::thread::Builder::new().spawn(echoing) {
        eprintln!("client refused: no thread: {e}");
    }
}

/// A crashed server's socket file makes bind fail (EADDRINUSE). Remove it only if it is a socket
/// nobody answers on: not whatever a mistyped PATH names, nor a live server's socket.
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
    // A parent may have blocked every signal, and then Ctrl-C never reaches us: unblock all.
    SigSet::empty().thread_set_mask()?;
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().is_some_and(|a| a == "--tcp") {
        let addr = args.get(1).map_or("127.0.0.1:7878", String::as_str);
        // The one line that differs from the Unix form below:
        let listener = TcpListener::bind(addr).map_err(|e| format!("bind {addr}: {e}"))?;
        writeln!(std::io::stdout(), "listening on {}", listener.local_addr()?)?;
        listener.incoming().for_each(spawn_echo);
        return Ok(()); // nothing on disk to clean: Ctrl-C may simply end us
    }
    let default = std::env::temp_dir().join("echo.sock");
    let path = args.first().map_or(default, PathBuf::from);
    let shown = path.display();
    if path.as_os_str().len() > 107 {
        return Err(format!("{shown}: longer than 107 bytes (sun_path: 108 with the NUL)").into());
    }
    remove_stale(&path)?;
    // Signals caught before bind, handled after: none can skip the removal.
    let mut signals = signal_hook::iterator::Signals::new([SIGINT, SIGTERM, SIGHUP, SIGQUIT])?;
    let socket_file = path.clone(); // (a thread that cannot start is an error before bind)
    std::thread::Builder::new().spawn(move || {
        let signal = signals.forever().next(); // the first of them
        let _ = std::fs::remove_file(&socket_file);
        signal.map(signal_hook::low_level::emulate_default_handler) // and die of it
    })?;
    umask(Mode::from_bits_truncate(0o077)); // bind: 0777 - umask; 077: only we can connect
    // The one line that differs from the TCP form above:
    let listener = UnixListener::bind(&path).map_err(|e| format!("bind {shown}: {e}"))?;
    if let Err(e) = writeln!(std::io::stdout(), "listening on {shown}") {
        eprintln!("stdout: {e}"); // closed or full: no reason to stop serving
    }
    listener.incoming().for_each(spawn_echo); // accept() for ever
    Ok(())
}
