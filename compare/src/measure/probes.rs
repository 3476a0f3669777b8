//! The design-space table, observed: a few system calls per mechanism, once, before the timing,
//! each answering one of the lecture's columns for this machine. Direction: a write on a
//! pipe's read end (EBADF), one socket or one queue used both ways. Structure: two writes and
//! one read. Naming: what a process other than the creator needs to reach it. Persistence: the
//! object after its creator has exited (a forked child creates it and exits; this process then
//! looks for it and removes what is left). A column no probe answers is printed "(as
//! documented)". Every object made here is named like the setups' (and swept like them after a
//! killed run), and removed before the probe returns.

use std::fs::OpenOptions;
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::os::fd::AsRawFd;
use std::os::unix::fs::{FileTypeExt, OpenOptionsExt};
use std::os::unix::net::{UnixDatagram, UnixListener, UnixStream};
use std::path::Path;
use std::time::Duration;

use nix::fcntl::OFlag;
use nix::mqueue::MQ_OFlag;
use nix::sys::stat::Mode;
use plumbing::child;
use plumbing::names::{self, PrivateDir};

use crate::measure::bytes::Pair;
use crate::measure::mechanisms::{Entry, Transport};
use crate::measure::setups;
use crate::row::{Fact, Probe};

/// What one probe found, or why it could not look.
type Found = io::Result<(Fact, String)>;

/// Every probe that applies to `entry`'s mechanism, in the lecture's column order.
pub fn of(entry: &Entry) -> Vec<Probe> {
    let key = entry.mechanism.key;
    let mut found = Vec::new();
    let mut add = |column: &'static str, result: Found| {
        found.push(match result {
            Ok((fact, seen)) => Probe { column, fact, seen },
            Err(e) => Probe {
                column,
                fact: Fact::Failed,
                seen: format!("probe failed: {e}"),
            },
        });
    };
    let duplex = match entry.transport {
        Transport::Bytes { duplex, .. } => Some(duplex),
        _ => None,
    };
    // The shm rings keep a message per slot by their own design: the region itself is raw.
    // A peer crate that carries only its own samples (iceoryx2) has no bytes to read.
    if let Some(duplex) = duplex.filter(|_| !key.starts_with("shm")) {
        match boundaries(duplex) {
            Err(e) if e.kind() == io::ErrorKind::Unsupported => {}
            result => add("structure", result),
        }
    }
    let within = |f: fn(&Path) -> Found| PrivateDir::create(DIR_PREFIX).and_then(|d| f(d.path()));
    let private = PrivateDir::create(DIR_PREFIX);
    match key {
        "pipe" => {
            add("direction", pipe_direction());
            add("naming", pipe_naming());
        }
        "fifo" => {
            add("direction", within(fifo_direction));
            let (naming, persistence) = split(private.and_then(|d| fifo_outlives(d.path())));
            add("naming", naming);
            add("persistence", persistence);
        }
        "signal" => add("naming", signal_naming()),
        "mq" => {
            add("direction", own_message(setups::own_queue_message));
            let (naming, persistence) = split(queue_outlives());
            add("naming", naming);
            add("persistence", persistence);
        }
        "sysv-mq" => add("direction", own_message(setups::own_sysv_message)),
        shm if shm.starts_with("shm") => {
            add("direction", shm_direction());
            let (naming, persistence) = split(shm_outlives());
            add("naming", naming);
            add("persistence", persistence);
        }
        "uds-stream" | "uds-datagram" | "tcp" | "udp" => {
            if let Some(duplex) = duplex {
                add("direction", both_ways(duplex));
            }
            match key {
                "uds-stream" => {
                    add("naming", within(uds_naming));
                    add("persistence", within(|d| socket_file_outlives(d, true)));
                }
                "uds-datagram" => {
                    add("naming", within(uds_naming));
                    add("persistence", within(|d| socket_file_outlives(d, false)));
                }
                "tcp" => add("persistence", port_outlives(true)),
                _ => add("persistence", port_outlives(false)),
            }
        }
        _ => {}
    }
    found
}

/// One probe that found two columns, as two results.
fn split(both: io::Result<((Fact, String), (Fact, String))>) -> (Found, Found) {
    match both {
        Ok((one, other)) => (Ok(one), Ok(other)),
        Err(e) => (Err(io::Error::new(e.kind(), e.to_string())), Err(e)),
    }
}

/// Private directories of the probes, swept after a killed run like the setups' own.
const DIR_PREFIX: &str = "ipc-tour-compare-";

fn failed(call: &str, e: impl std::fmt::Display) -> io::Error {
    io::Error::other(format!("{call}: {e}"))
}

/// Structure: two 3-byte writes, then one read with room for 64 bytes.
fn boundaries(duplex: fn(usize) -> io::Result<Pair>) -> Found {
    let (mut a, mut b) = duplex(64)?;
    a.write_all(b"abc")?;
    a.write_all(b"def")?;
    let mut buf = [0u8; 64];
    let n = b.read(&mut buf)?;
    let fact = if n == 6 { Fact::Stream } else { Fact::Messages };
    Ok((fact, format!("2 writes of 3 B: 1 read of {n} B")))
}

/// Direction of a pipe: a write on its read end.
fn pipe_direction() -> Found {
    let (read_end, _write_end) = nix::unistd::pipe().map_err(|e| failed("pipe", e))?;
    match nix::unistd::write(&read_end, b"x") {
        Err(nix::errno::Errno::EBADF) => Ok((Fact::OneWay, "write on read end: EBADF".into())),
        Ok(_) => Ok((Fact::BothWays, "write on read end went through".into())),
        Err(e) => Err(failed("write on the read end", e)),
    }
}

/// Naming of a pipe: what /proc says its descriptor is.
fn pipe_naming() -> Found {
    let (read_end, _write_end) = nix::unistd::pipe().map_err(|e| failed("pipe", e))?;
    let link = std::fs::read_link(format!("/proc/self/fd/{}", read_end.as_raw_fd()))?;
    let link = link.to_string_lossy();
    match link.starts_with('/') {
        true => Ok((Fact::ByName, format!("fd is {link}"))),
        false => Ok((Fact::NoName, format!("no path: fd is {link}"))),
    }
}

/// Direction of a FIFO: a write on the end opened for reading.
fn fifo_direction(dir: &Path) -> Found {
    let path = dir.join("direction");
    fifo_demo::make_fifo(&path)?;
    let reader = OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(&path)?;
    match (&reader).write(b"x") {
        Err(e) if e.raw_os_error() == Some(libc::EBADF) => {
            Ok((Fact::OneWay, "write on read end: EBADF".into()))
        }
        Ok(_) => Ok((Fact::BothWays, "write on read end went through".into())),
        Err(e) => Err(failed("write on the read end", e)),
    }
}

/// Forks a child that runs `create` and exits; Ok once it exited cleanly.
fn created_by_a_child(create: impl FnOnce() -> io::Result<()>) -> io::Result<()> {
    let mut made = child::fork(|| create().map_err(Into::into)).map_err(|e| failed("fork", e))?;
    made.wait_ok(Duration::from_secs(5))
        .map_err(|e| failed("the creating child", e))
}

/// Naming and persistence of a FIFO: a child makes it and exits; this process opens the path.
fn fifo_outlives(dir: &Path) -> io::Result<((Fact, String), (Fact, String))> {
    let path = dir.join("outlives");
    created_by_a_child(|| fifo_demo::make_fifo(&path))?;
    let opened = OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(&path);
    let is_fifo = std::fs::symlink_metadata(&path).is_ok_and(|m| m.file_type().is_fifo());
    Ok(match (opened, is_fifo) {
        (Ok(_), true) => (
            (Fact::ByName, "another process opened its path".into()),
            (Fact::Outlived, "path stayed after creator exit".into()),
        ),
        _ => (
            (Fact::Failed, "its path could not be opened".into()),
            (Fact::Gone, "path gone with its creator".into()),
        ),
    })
}

/// Naming of a signal's target: kill(pid, 0) reaches a process by its pid alone.
fn signal_naming() -> Found {
    nix::sys::signal::kill(nix::unistd::getpid(), None).map_err(|e| failed("kill(pid, 0)", e))?;
    Ok((Fact::ByName, "kill(pid) with signal 0 got it".into()))
}

/// Direction of a queue: one queue used both ways (`send_and_take` sends on it and receives
/// from it). compare's queue rows use one queue each way, as the pipe row uses two pipes.
fn own_message(send_and_take: fn() -> io::Result<()>) -> Found {
    send_and_take()?;
    Ok((Fact::NoEnds, "sender got its own message".into()))
}

/// Naming and persistence of a POSIX queue: a child creates it and exits; this process opens
/// it by name, then removes it.
fn queue_outlives() -> io::Result<((Fact, String), (Fact, String))> {
    let name = mq_demo::unique_name();
    let owner_rw = Mode::S_IRUSR | Mode::S_IWUSR;
    let made = created_by_a_child(|| {
        let flags = MQ_OFlag::O_CREAT | MQ_OFlag::O_EXCL | MQ_OFlag::O_RDWR;
        let attr = nix::mqueue::MqAttr::new(0, 1, 64, 0); // one 64-byte message
        nix::mqueue::mq_open(name.as_str(), flags, owner_rw, Some(&attr))
            .map(drop)
            .map_err(|e| failed("mq_open", e))
    });
    let opened = nix::mqueue::mq_open(name.as_str(), MQ_OFlag::O_RDONLY, Mode::empty(), None);
    let _ = nix::mqueue::mq_unlink(name.as_str()); // whatever the child got to make
    made?;
    Ok(match opened {
        Ok(_) => (
            (Fact::ByName, "another process: mq_open(/name)".into()),
            (Fact::Outlived, "queue stayed after creator exit".into()),
        ),
        Err(e) => (
            (Fact::Failed, format!("mq_open(/name): {e}")),
            (Fact::Gone, "queue gone with its creator".into()),
        ),
    })
}

/// Direction of shared memory: two views of one region, each writes and each reads.
fn shm_direction() -> Found {
    let (mut one, mut other) = shm_demo::setups::named(4096)?;
    let mut buf = [0u8; 3];
    one.write(b"abc")?;
    other.read(&mut buf)?;
    let there = buf == *b"abc";
    other.write(b"def")?;
    one.read(&mut buf)?;
    match there && buf == *b"def" {
        true => Ok((Fact::BothWays, "2 views: each wrote and read".into())),
        false => Err(io::Error::other("a view did not see the other's write")),
    }
}

/// Naming and persistence of a shm object: a child creates it and exits; this process opens it
/// by name, then removes it.
fn shm_outlives() -> io::Result<((Fact, String), (Fact, String))> {
    use nix::sys::mman::{shm_open, shm_unlink};
    let name = names::unique("/ipc-tour-cmp-", 8); // swept by shm_demo::setups::remove_stale
    let owner_rw = Mode::S_IRUSR | Mode::S_IWUSR;
    let made = created_by_a_child(|| {
        let flags = OFlag::O_CREAT | OFlag::O_EXCL | OFlag::O_RDWR;
        shm_open(name.as_str(), flags, owner_rw)
            .map(drop)
            .map_err(|e| failed("shm_open", e))
    });
    let opened = shm_open(name.as_str(), OFlag::O_RDONLY, Mode::empty());
    let _ = shm_unlink(name.as_str());
    made?;
    Ok(match opened {
        Ok(_) => (
            (Fact::ByName, "another process: shm_open(/name)".into()),
            (Fact::Outlived, "region stayed after creator exit".into()),
        ),
        Err(e) => (
            (Fact::Failed, format!("shm_open(/name): {e}")),
            (Fact::Gone, "region gone with its creator".into()),
        ),
    })
}

/// Direction of a socket: each end of one connected pair sends and receives.
fn both_ways(duplex: fn(usize) -> io::Result<Pair>) -> Found {
    let (mut a, mut b) = duplex(64)?;
    let mut buf = [0u8; 3];
    a.write_all(b"abc")?;
    b.read_exact(&mut buf)?;
    b.write_all(b"def")?;
    a.read_exact(&mut buf)?;
    match buf == *b"def" {
        true => Ok((Fact::BothWays, "each socket sent and received".into())),
        false => Err(io::Error::other("the answer came back changed")),
    }
}

/// Naming of a Unix socket: a client reaches a listening socket by its path.
fn uds_naming(dir: &Path) -> Found {
    let path = dir.join("naming");
    let _listener = UnixListener::bind(&path)?;
    UnixStream::connect(&path)?;
    Ok((Fact::ByName, "connect(path) reached it".into()))
}

/// Persistence of a Unix socket: a child binds it and exits; this process looks at the file
/// and connects to it.
fn socket_file_outlives(dir: &Path, stream: bool) -> Found {
    let path = dir.join("outlives");
    created_by_a_child(|| match stream {
        true => UnixListener::bind(&path).map(drop),
        false => UnixDatagram::bind(&path).map(drop),
    })?;
    let file = std::fs::symlink_metadata(&path).is_ok_and(|m| m.file_type().is_socket());
    let connected = match stream {
        true => UnixStream::connect(&path).map(drop),
        false => UnixDatagram::unbound().and_then(|s| s.connect(&path)),
    };
    Ok(match (file, connected) {
        (false, _) => (Fact::Gone, "file gone with its creator".into()),
        (true, Ok(())) => (Fact::Outlived, "file and socket stayed".into()),
        (true, Err(e)) => (
            Fact::NameOnly,
            format!("file stayed; connect: {}", errno(&e)),
        ),
    })
}

/// Persistence of a TCP listener (`tcp`) or a UDP socket: a child binds a loopback port and
/// exits; this process connects to it (TCP) or binds it itself (UDP).
fn port_outlives(tcp: bool) -> Found {
    // A port the kernel gave out and took back: free, and for the child to bind.
    let addr: SocketAddr = match tcp {
        true => TcpListener::bind("127.0.0.1:0")?.local_addr()?,
        false => UdpSocket::bind("127.0.0.1:0")?.local_addr()?,
    };
    created_by_a_child(|| match tcp {
        true => TcpListener::bind(addr).map(drop),
        false => UdpSocket::bind(addr).map(drop),
    })?;
    let reached = match tcp {
        true => TcpStream::connect(addr).map(drop),
        false => UdpSocket::bind(addr)
            .map(drop)
            .map_err(|_| io::ErrorKind::AddrInUse.into()),
    };
    Ok(match (tcp, reached) {
        (true, Ok(())) => (Fact::Outlived, "port still listening".into()),
        (true, Err(e)) => (Fact::Gone, format!("connect after exit: {}", errno(&e))),
        (false, Ok(())) => (Fact::Gone, "port free again after exit".into()),
        (false, Err(_)) => (Fact::Outlived, "port still taken after exit".into()),
    })
}

/// "ECONNREFUSED", or the error as it says itself.
fn errno(e: &io::Error) -> String {
    match e.raw_os_error() {
        Some(libc::ECONNREFUSED) => "ECONNREFUSED".into(),
        Some(libc::ENOENT) => "ENOENT".into(),
        _ => e.to_string(),
    }
}
