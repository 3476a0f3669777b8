//! Step 7: a socket file outlives its server. The tour SIGKILLs a server (no chance to unlink
//! its file): the file stays, connecting to it is refused and binding to it fails. The next
//! server on that path tells the stale file from a live one by that refusal and replaces it;
//! stopped with SIGTERM, it removes its file, and a connect then finds no file at all. A TCP
//! server killed the same way leaves nothing: its port takes a new bind at once. Last, a path
//! too long for `sun_path` is refused before bind.
//!
//! Checks two claims of the lecture: that switching AF_UNIX to AF_INET is one line
//! ([`one_line_claim`]), and that the failure modes are the same ([`failures_claim`]).

use std::fs;
use std::io;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::Path;

use nix::errno::Errno;
use plumbing::Result;
use plumbing::tour::heading;
use plumbing::verdict::{self, Verdict, judge};
use uds_demo::echo_once;
use uds_demo::server_child::ServerChild;
use uds_demo::socket_file::{SUN_PATH_BYTES, check_sun_path};
use uds_demo::timeouts::{REPLY_TIMEOUT, set_timeouts};

pub fn run(dir: &Path) -> Result {
    let path = dir.join("stale.sock");
    heading(7, "A socket file outlives its server");
    let (stale_connect, unix_rebind) = kill_a_server(&path)?;
    let reading = super::drawn_reading();
    let (echo, chores, gone_connect) = replace_and_stop(dir, &path, &reading)?;
    let (tcp_echo, tcp_rebind) = tcp_killed_the_same_way(&reading)?;
    let long = dir.join("x".repeat(SUN_PATH_BYTES));
    match check_sun_path(&long) {
        Ok(()) => println!("   a {}-byte path: accepted", long.as_os_str().len()),
        Err(e) => println!(
            "   a {}-byte path is refused before bind:\n   {e}",
            long.as_os_str().len()
        ),
    }
    let alike = echo == reading.as_bytes() && tcp_echo == echo;
    let (v, because) = one_line_claim(alike, &chores);
    verdict::record("one line switches AF_UNIX to AF_INET", v, because);
    let failures = Failures {
        stale_connect: errno(stale_connect.as_ref()),
        unix_rebind: errno(unix_rebind.as_ref()),
        gone_connect: errno(gone_connect.as_ref()),
        tcp_rebind: errno(tcp_rebind.as_ref()),
    };
    let (v, because) = failures_claim(&failures);
    verdict::record("the failure modes are the network's", v, because);
    Ok(())
}

/// SIGKILLs a server on `path` (no chance to unlink its file), then connects to the file it
/// left and binds to it. Returns how each failed.
fn kill_a_server(path: &Path) -> Result<(Option<io::Error>, Option<io::Error>)> {
    let mut first = ServerChild::spawn(&["serve", "--unix", &path.to_string_lossy()])?;
    first.wait_for_line_starting("listening on unix:")?;
    first.kill_hard();
    println!(
        "   SIGKILLed the server (pid {}): socket file still there: {}",
        first.pid(),
        path.exists()
    );
    let stale_connect = UnixStream::connect(path).err();
    match &stale_connect {
        None => println!("   connect: unexpectedly accepted"),
        Some(e) => println!("   connect to it: {e}"),
    }
    // bind(2) does not replace a file: the server must remove a stale one first.
    let unix_rebind = UnixListener::bind(path).err();
    match &unix_rebind {
        None => println!("   bind to it: accepted (no stale file after all)"),
        Some(e) => println!("   bind to it: {e}"),
    }
    Ok((stale_connect, unix_rebind))
}

/// A new server on `path` replaces the stale file and echoes `reading`; stopped by SIGTERM,
/// it removes its file. Returns the echo, what the server had to do, and how a connect
/// failed once the file was gone.
fn replace_and_stop(
    dir: &Path,
    path: &Path,
    reading: &str,
) -> Result<(Vec<u8>, Chores, Option<io::Error>)> {
    let mut second = ServerChild::spawn(&["serve", "--unix", &path.to_string_lossy()])?;
    let replaced = second.wait_for_line_starting("replaced stale socket file")?;
    second.wait_for_line_starting("listening on unix:")?;
    let mut stream = UnixStream::connect(path).map_err(|e| format!("connect stale.sock: {e}"))?;
    set_timeouts(&stream, REPLY_TIMEOUT, None)?;
    let echo = echo_once(&mut stream, reading.as_bytes(), REPLY_TIMEOUT)
        .map_err(|e| format!("echo: {e}"))?;
    let shown = replaced.replace(&dir.to_string_lossy().into_owned(), "DIR");
    println!("   a new server on that path said:\n   {shown}");
    println!("   and echoed {:?}", String::from_utf8_lossy(&echo));
    let meta = fs::symlink_metadata(path).map_err(|e| format!("stat stale.sock: {e}"))?;
    let (mode, path_bytes) = (meta.permissions().mode() & 0o777, path.as_os_str().len());
    println!(
        "   its socket file: mode {mode:04o}, a {path_bytes}-byte path (sun_path holds {} + NUL)",
        SUN_PATH_BYTES - 1
    );
    let ended = second.stop()?;
    let removed_on_exit = !path.exists();
    println!("   SIGTERM to it: it {ended}; its file removed: {removed_on_exit}");
    let gone_connect = UnixStream::connect(path).err();
    match &gone_connect {
        None => println!("   connect now: unexpectedly accepted"),
        Some(e) => println!("   connect now: {e}"),
    }
    let chores = Chores {
        replaced_stale: true, // it said so: the first line waited for above

        path_bytes,
        mode,
        removed_on_exit,
    };
    Ok((echo, chores, gone_connect))
}

/// A TCP server on loopback echoes `reading` through the same function, is SIGKILLed as the
/// Unix one was, and its port is bound again. Returns the echo and how that bind failed.
fn tcp_killed_the_same_way(reading: &str) -> Result<(Vec<u8>, Option<io::Error>)> {
    let mut server = ServerChild::spawn(&["serve", "--inet", "127.0.0.1:0"])?;
    let line = server.wait_for_line_starting("listening on inet:")?;
    let addr: SocketAddr = line["listening on inet:".len()..].trim().parse()?;
    let mut stream = TcpStream::connect(addr).map_err(|e| format!("connect {addr}: {e}"))?;
    set_timeouts(&stream, REPLY_TIMEOUT, None)?;
    let echo = echo_once(&mut stream, reading.as_bytes(), REPLY_TIMEOUT)
        .map_err(|e| format!("echo over TCP: {e}"))?;
    drop(stream);
    println!(
        "   a TCP server (pid {}) echoed {:?} the same way;",
        server.pid(),
        String::from_utf8_lossy(&echo)
    );
    server.kill_hard();
    // std's TcpListener::bind sets SO_REUSEADDR, as servers do.
    let rebind = TcpListener::bind(addr).err();
    match &rebind {
        None => println!("   SIGKILLed, it left nothing: bind to its port: accepted at once"),
        Some(e) => println!("   SIGKILLed, bind to its port: {e}"),
    }
    Ok((echo, rebind))
}

/// The errno's name ("EADDRINUSE") of a failed call, `None` if it did not fail.
fn errno(failed: Option<&io::Error>) -> Option<Errno> {
    failed.map(|e| {
        e.raw_os_error()
            .map_or(Errno::UnknownErrno, Errno::from_raw)
    })
}

/// What the server on a socket file did that a TCP server never has to.
pub struct Chores {
    /// removed a socket file a killed server left
    pub replaced_stale: bool,
    /// the length of its path, which had to fit in `sun_path`
    pub path_bytes: usize,
    /// the socket file's mode (0600: bound under umask 0177)
    pub mode: u32,
    /// the file was gone after SIGTERM
    pub removed_on_exit: bool,
}

/// The lecture: switching from AF_UNIX to AF_INET is a one-line change. Holds when one echo
/// function served both (`alike`); qualified by each thing the Unix server had to do besides.
pub fn one_line_claim(alike: bool, chores: &Chores) -> (Verdict, String) {
    let mut done = Vec::new();
    if chores.replaced_stale {
        done.push("replaced a stale file".to_string());
    }
    if chores.mode == 0o600 {
        done.push("bound it mode 0600".to_string());
    }
    if chores.removed_on_exit {
        done.push("removed it on SIGTERM".to_string());
    }
    let extra = done.len();
    done.push(format!(
        "fit a {}-byte path in sun_path ({})",
        chores.path_bytes,
        SUN_PATH_BYTES - 1
    ));
    let echo = match alike {
        true => "one echo function served both",
        false => "the echoes differed",
    };
    let because = format!(
        "{echo}; the Unix server alone {}",
        done.join(", ")
            .replacen(", fit", " and fit", usize::from(extra > 0))
    );
    (judge(alike, extra > 0), because)
}

/// How each call of the step failed (`None`: it succeeded).
pub struct Failures {
    /// connect to the killed Unix server's file
    pub stale_connect: Option<Errno>,
    /// bind to that file
    pub unix_rebind: Option<Errno>,
    /// connect once the next server had removed its file
    pub gone_connect: Option<Errno>,
    /// bind to the killed TCP server's port
    pub tcp_rebind: Option<Errno>,
}

/// The lecture: the failure modes are those of network sockets. Each failure TCP cannot have
/// counts against it: a dead server's name that refuses a new bind when a dead server's port
/// does not, and a name that can vanish (ENOENT). One of them qualifies the claim, both
/// refute it.
pub fn failures_claim(f: &Failures) -> (Verdict, String) {
    let name = |e: Option<Errno>| e.map_or("accepted".to_string(), |e| format!("{e:?}"));
    let stale_only = f.unix_rebind.is_some() && f.tcp_rebind.is_none();
    let vanished = f.gone_connect == Some(Errno::ENOENT);
    let because = format!(
        "a killed server's file: connect {}, bind {}; its port: bind {}; a removed file: \
         connect {}",
        name(f.stale_connect),
        name(f.unix_rebind),
        name(f.tcp_rebind),
        name(f.gone_connect)
    );
    let verdict = match usize::from(stale_only) + usize::from(vanished) {
        0 => Verdict::Confirmed,
        1 => Verdict::Qualified,
        _ => Verdict::Refuted,
    };
    (verdict, because)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chores(replaced_stale: bool, mode: u32, removed_on_exit: bool) -> Chores {
        Chores {
            replaced_stale,
            path_bytes: 42,
            mode,
            removed_on_exit,
        }
    }

    #[test]
    fn one_line_is_qualified_by_each_chore() {
        let (v, because) = one_line_claim(true, &chores(true, 0o600, true));
        assert_eq!(v, Verdict::Qualified);
        assert_eq!(
            because,
            "one echo function served both; the Unix server alone replaced a stale file, \
             bound it mode 0600, removed it on SIGTERM and fit a 42-byte path in sun_path (107)"
        );
        let (v, because) = one_line_claim(true, &chores(false, 0o755, false));
        assert_eq!(v, Verdict::Confirmed);
        assert!(because.ends_with("alone fit a 42-byte path in sun_path (107)"));
        assert_eq!(
            one_line_claim(true, &chores(false, 0o755, true)).0,
            Verdict::Qualified
        );
        assert_eq!(
            one_line_claim(false, &chores(true, 0o600, true)).0,
            Verdict::Refuted
        );
    }

    #[test]
    fn each_failure_only_af_unix_has_counts() {
        let seen = Failures {
            stale_connect: Some(Errno::ECONNREFUSED),
            unix_rebind: Some(Errno::EADDRINUSE),
            gone_connect: Some(Errno::ENOENT),
            tcp_rebind: None,
        };
        let (v, because) = failures_claim(&seen);
        assert_eq!(v, Verdict::Refuted);
        assert_eq!(
            because,
            "a killed server's file: connect ECONNREFUSED, bind EADDRINUSE; its port: bind \
             accepted; a removed file: connect ENOENT"
        );
        let port_held_too = Failures {
            tcp_rebind: Some(Errno::EADDRINUSE),
            ..seen
        };
        assert_eq!(failures_claim(&port_held_too).0, Verdict::Qualified);
        let refused_instead = Failures {
            gone_connect: Some(Errno::ECONNREFUSED),
            ..port_held_too
        };
        assert_eq!(failures_claim(&refused_instead).0, Verdict::Confirmed);
    }
}
