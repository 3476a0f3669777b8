//! The whole tour in one command. The servers are fresh copies of this binary (`uds-demo serve
//! ...`) started with std::process::Command: unrelated processes that inherit no socket, as a
//! server and a client started from two terminals would be. (Spawning rather than fork() also
//! keeps this process free to use threads, and the servers' code path is the one a user runs.)

use std::error::Error;
use std::fs::{self, File, OpenOptions};
use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::os::fd::AsFd;
use std::os::linux::net::SocketAddrExt;
use std::os::unix::fs::{FileTypeExt, OpenOptionsExt, PermissionsExt};
use std::os::unix::net::{self as unix, UnixStream};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, ChildStderr, ChildStdout, Command, Stdio};
use std::time::{Duration, Instant};

use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use nix::sys::signal::{Signal, kill};
use nix::unistd::{Pid, Uid, getpid, getppid};
use uds_demo::{datagram_duplex, echo_once, stream_duplex};

use crate::server::{self, PrivateDir, SUN_PATH_BYTES};
use crate::{REPLY_TIMEOUT, send_fd, sensor_readings, stopped};

type Result<T> = std::result::Result<T, Box<dyn Error>>;

pub fn run() -> Result<()> {
    println!("uds-demo: Unix domain sockets (lecture: \"Unix Domain Sockets\")");
    let swept = server::sweep_stale_dirs();
    if swept > 0 {
        println!("removed {swept} private directories left by killed runs");
    }
    let dir = PrivateDir::create()?;
    let mode = fs::metadata(&dir.path)
        .map_err(ctx("stat private dir"))?
        .permissions()
        .mode()
        & 0o777;
    println!(
        "private directory {} (mode {mode:04o})\n",
        dir.path.display()
    );

    let (unix_lines, unix_us) = step1_unix_echo(&dir.path)?;
    step2_inet_echo(&unix_lines, unix_us)?;
    step3_boundaries()?;
    step4_pass_fd(&dir.path)?;
    step5_abstract_and_peercred()?;
    step6_hostile_clients(&dir.path)?;
    step7_stale_socket(&dir.path)?;

    let path = dir.path.clone();
    drop(dir);
    println!(
        "\ndone: servers stopped and reaped; {} removed: {}",
        path.display(),
        !path.exists()
    );
    Ok(())
}

/// Names the failed call: `.map_err(ctx("setsockopt SO_RCVTIMEO"))`.
fn ctx<E: std::fmt::Display>(what: &'static str) -> impl FnOnce(E) -> String {
    move |e| format!("{what}: {e}")
}

fn check_stop() -> Result<()> {
    if stopped() {
        Err("interrupted".into())
    } else {
        Ok(())
    }
}

/// Sends each sensor reading, returns one line per echo (the part that must not depend on the
/// address family).
fn echo_readings<S: Read + Write>(stream: &mut S) -> Result<Vec<String>> {
    let mut lines = Vec::new();
    for reading in sensor_readings() {
        let echo = echo_once(stream, reading.as_bytes(), REPLY_TIMEOUT)
            .map_err(|e| format!("echo: {e}"))?;
        lines.push(format!(
            "sent {reading:?} ({} bytes) -> echoed {:?} ({} bytes)",
            reading.len(),
            String::from_utf8_lossy(&echo),
            echo.len()
        ));
    }
    Ok(lines)
}

/// Median round trip of `n` echoes of one reading, in microseconds.
fn median_round_trip_us<S: Read + Write>(stream: &mut S, n: usize) -> Result<u128> {
    let mut samples = Vec::with_capacity(n);
    for _ in 0..n {
        check_stop()?;
        let start = Instant::now();
        echo_once(stream, b"temperature: 42", REPLY_TIMEOUT).map_err(|e| format!("echo: {e}"))?;
        samples.push(start.elapsed().as_micros());
    }
    samples.sort_unstable();
    Ok(samples[n / 2])
}

fn step1_unix_echo(dir: &Path) -> Result<(Vec<String>, u128)> {
    let path = dir.join("echo.sock");
    let mut srv = ServerChild::spawn(&["serve", "--unix", &path.to_string_lossy()])?;
    srv.expect("listening on unix:")?;
    let meta = fs::symlink_metadata(&path).map_err(ctx("stat socket file"))?;
    println!(
        "1. Stream echo over AF_UNIX: `uds-demo serve --unix {}` (pid {})",
        path.display(),
        srv.pid()
    );
    println!(
        "   socket file: is a socket: {}, mode {:04o}, size {} bytes (data never touches it)",
        meta.file_type().is_socket(),
        meta.permissions().mode() & 0o777,
        meta.len()
    );
    let mut stream =
        UnixStream::connect(&path).map_err(|e| format!("connect {}: {e}", path.display()))?;
    stream
        .set_read_timeout(Some(REPLY_TIMEOUT))
        .map_err(ctx("setsockopt SO_RCVTIMEO"))?;
    let lines = echo_readings(&mut stream)?;
    for line in &lines {
        println!("   {line}");
    }
    let us = median_round_trip_us(&mut stream, 200)?;
    println!("   median round trip over 200 echoes: {us} µs\n");
    Ok((lines, us))
}

fn step2_inet_echo(unix_lines: &[String], unix_us: u128) -> Result<()> {
    let mut srv = ServerChild::spawn(&["serve", "--inet", "127.0.0.1:0"])?;
    let line = srv.expect("listening on inet:")?;
    let addr: SocketAddr = line["listening on inet:".len()..].trim().parse()?;
    println!(
        "2. The same echo function over AF_INET: `uds-demo serve --inet 127.0.0.1:0` -> {addr}"
    );
    let mut stream = TcpStream::connect(addr).map_err(|e| format!("connect {addr}: {e}"))?;
    stream
        .set_read_timeout(Some(REPLY_TIMEOUT))
        .map_err(ctx("setsockopt SO_RCVTIMEO"))?;
    stream
        .set_nodelay(true)
        .map_err(ctx("setsockopt TCP_NODELAY"))?;
    let lines = echo_readings(&mut stream)?;
    for line in &lines {
        println!("   {line}");
    }
    let same = lines.iter().zip(unix_lines).filter(|(a, b)| a == b).count();
    println!("   lines identical to AF_UNIX: {same} of {}", lines.len());
    let us = median_round_trip_us(&mut stream, 200)?;
    println!("   median round trip over 200 echoes: {us} µs (AF_UNIX: {unix_us} µs)\n");
    Ok(())
}

fn step3_boundaries() -> Result<()> {
    println!("3. Boundaries: three writes, then reads, on a stream pair and a datagram pair");
    let readings = sensor_readings();
    let sizes: Vec<String> = readings.iter().map(|r| r.len().to_string()).collect();
    let (mut stream_a, mut stream_b) = stream_duplex(64).map_err(ctx("socketpair SOCK_STREAM"))?;
    let (mut dgram_a, mut dgram_b) = datagram_duplex(64).map_err(ctx("socketpair SOCK_DGRAM"))?;
    for reading in &readings {
        stream_a
            .write_all(reading.as_bytes())
            .map_err(ctx("write stream"))?;
        dgram_a
            .write_all(reading.as_bytes())
            .map_err(ctx("send datagram"))?;
    }
    drop(stream_a); // the reader then sees EOF after the data
    drop(dgram_a); // ... and so does the datagram reader (see DatagramEnd)
    println!("   wrote {} bytes into each pair", sizes.join(" + "));
    let stream_reads = read_until_eof(&mut stream_b)?;
    let dgram_reads = read_until_eof(&mut dgram_b)?;
    println!(
        "   stream   (UnixStream):   {} read(s) returned {:?} bytes: boundaries merged",
        stream_reads.len(),
        stream_reads
    );
    println!(
        "   datagram (UnixDatagram): {} read(s) returned {:?} bytes: boundaries kept",
        dgram_reads.len(),
        dgram_reads
    );
    match datagram_duplex(1 << 20) {
        Ok(_) => println!("   a 1 MiB datagram: carried whole on this machine\n"),
        Err(e) => println!("   a 1 MiB datagram: refused: {e}\n"),
    }
    Ok(())
}

/// Reads until EOF, returning the size of each read.
fn read_until_eof<R: Read>(reader: &mut R) -> Result<Vec<usize>> {
    let mut buf = [0u8; 4096];
    let mut sizes = Vec::new();
    loop {
        match reader.read(&mut buf)? {
            0 => return Ok(sizes),
            n => sizes.push(n),
        }
    }
}

fn step4_pass_fd(dir: &Path) -> Result<()> {
    println!("4. Passing an open file descriptor (SCM_RIGHTS)");
    let reading_path = dir.join("reading.txt");
    let mut writer = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&reading_path)
        .map_err(|e| format!("create {}: {e}", reading_path.display()))?;
    writer
        .write_all(b"temperature: 42\n")
        .map_err(ctx("write reading.txt"))?;
    let file = File::open(&reading_path).map_err(ctx("open reading.txt"))?;
    fs::remove_file(&reading_path).map_err(ctx("unlink reading.txt"))?; // the name is gone; only our open descriptor remains
    println!(
        "   opened {} and unlinked it: exists now: {}",
        reading_path.display(),
        reading_path.exists()
    );

    let sock = dir.join("fd.sock");
    let mut srv = ServerChild::spawn(&["fd-recv", "--unix", &sock.to_string_lossy()])?;
    srv.expect("listening on unix:")?;
    let stream =
        UnixStream::connect(&sock).map_err(|e| format!("connect {}: {e}", sock.display()))?;
    let text = send_fd(stream, &file)?;
    let said = srv.expect("received fd")?;
    println!("   `uds-demo fd-recv` (pid {}) said: {said}", srv.pid());
    println!(
        "   it replied with the {} bytes it read through the fd: {:?}\n",
        text.len(),
        String::from_utf8_lossy(&text)
    );
    Ok(())
}

fn step5_abstract_and_peercred() -> Result<()> {
    let name = format!(
        "ipc-tour-uds-{}-{:08x}",
        std::process::id(),
        rand::random::<u32>()
    );
    let mut srv = ServerChild::spawn(&["serve", "--abstract", &name])?;
    srv.expect("listening on abstract:")?;
    println!("5. Abstract namespace and SO_PEERCRED: `uds-demo serve --abstract {name}`");
    let listed = fs::read_to_string("/proc/net/unix")
        .unwrap_or_default()
        .lines()
        .any(|l| l.ends_with(&format!("@{name}")));
    let in_tmp = std::env::temp_dir().join(&name).exists();
    println!(
        "   listed in /proc/net/unix as @{name}: {listed}; a file named {name} in the temp dir: {in_tmp}"
    );
    let addr = unix::SocketAddr::from_abstract_name(name.as_bytes())?;
    let mut stream =
        UnixStream::connect_addr(&addr).map_err(|e| format!("connect @{name}: {e}"))?;
    stream
        .set_read_timeout(Some(REPLY_TIMEOUT))
        .map_err(ctx("setsockopt SO_RCVTIMEO"))?;
    let echo = echo_once(&mut stream, b"temperature: 42", REPLY_TIMEOUT).map_err(ctx("echo"))?;
    let cred = srv.expect("conn 1: peer pid=")?;
    println!(
        "   echoed {:?}; the server learned from the kernel: {}",
        String::from_utf8_lossy(&echo),
        cred.trim_start_matches("conn 1: ")
    );
    println!(
        "   (this tour is pid {}, uid {})",
        std::process::id(),
        Uid::current()
    );

    if !Uid::current().is_root() {
        println!(
            "   another uid: skipped (only root can start a client as another user; run as root to see the refusal)\n"
        );
        return Ok(());
    }
    // An abstract socket has no file permissions to stop anyone: SO_PEERCRED is the check.
    let exe = std::env::current_exe().map_err(ctx("locate own binary"))?;
    let spawned = Command::new(&exe)
        .args(["client", "--abstract", &name, "temperature: 42"])
        .uid(65534)
        .gid(65534)
        .stdin(Stdio::null())
        .output();
    let out = match spawned {
        Ok(out) => out,
        // exec as another uid needs search permission on every directory above the binary.
        Err(e) if e.kind() == std::io::ErrorKind::PermissionDenied => {
            println!(
                "   another uid: skipped (uid 65534 cannot execute {}: {e}; build in a directory \
                 every user can enter to see the refusal)\n",
                exe.display()
            );
            return Ok(());
        }
        Err(e) => return Err(format!("spawn client as uid 65534: {e}").into()),
    };
    let refused = srv.expect("conn 2: refused")?;
    println!(
        "   a client running as uid 65534 exited with {}; it printed: {}",
        out.status,
        String::from_utf8_lossy(&out.stderr).trim()
    );
    println!("   the server: {refused}\n");
    Ok(())
}

fn step6_hostile_clients(dir: &Path) -> Result<()> {
    let path = dir.join("framed.sock");
    let mut srv = ServerChild::spawn(&[
        "serve",
        "--unix",
        &path.to_string_lossy(),
        "--timeout-ms",
        "500",
    ])?;
    srv.expect("listening on unix:")?;
    println!(
        "6. Framing: [tag 'M'][u32 length][payload], at most {} bytes; frames must arrive within 500 ms",
        uds_demo::MAX_FRAME
    );
    let connect = || -> Result<UnixStream> {
        let s =
            UnixStream::connect(&path).map_err(|e| format!("connect {}: {e}", path.display()))?;
        s.set_read_timeout(Some(REPLY_TIMEOUT))
            .map_err(ctx("setsockopt SO_RCVTIMEO"))?;
        Ok(s)
    };
    let mut good = connect()?;
    echo_once(&mut good, b"temperature: 42", REPLY_TIMEOUT)
        .map_err(|e| format!("echo (first client): {e}"))?;
    let mut huge = b"M".to_vec();
    huge.extend_from_slice(&u32::MAX.to_be_bytes());
    let cases: [(&str, Vec<u8>, bool); 4] = [
        ("length 4294967295", huge, false),
        ("garbage", b"GET / HTTP/1.0\r\n\r\n".to_vec(), false),
        ("truncated frame", b"M\0\0\0\x0ftemp".to_vec(), true),
        ("stall after 3 bytes", b"M\0\0".to_vec(), false),
    ];
    for (what, bytes, close_write) in cases {
        check_stop()?;
        let mut hostile = connect()?;
        let start = Instant::now();
        hostile
            .write_all(&bytes)
            .map_err(ctx("write (hostile client)"))?;
        if close_write {
            hostile.shutdown(Shutdown::Write).map_err(ctx("shutdown"))?;
        }
        let reply =
            match uds_demo::read_frame(&mut hostile, Some(REPLY_TIMEOUT), Some(REPLY_TIMEOUT)) {
                Ok(Some(frame)) => String::from_utf8_lossy(&frame.payload).into_owned(),
                Ok(None) => "closed without a reply".into(),
                Err(e) => format!("error: {e}"),
            };
        check_stop()?; // a probe cut short by Ctrl-C (the server stops too) has no result
        println!(
            "   {what:<20} -> after {:>3} ms: {reply}",
            start.elapsed().as_millis()
        );
    }
    let mut abrupt = connect()?;
    abrupt
        .write_all(b"M\0\0")
        .map_err(ctx("write (abrupt client)"))?;
    drop(abrupt); // abrupt disconnect in the middle of a frame
    let logged = srv.expect("conn 6: dropped")?;
    println!(
        "   {:<20} -> the server logged: {logged}",
        "abrupt disconnect"
    );
    let echo = echo_once(&mut good, b"temperature: 43", REPLY_TIMEOUT)
        .map_err(|e| format!("echo (first client, after the hostile ones): {e}"))?;
    println!(
        "   the first client, connected all along, still gets its echo: {:?}\n",
        String::from_utf8_lossy(&echo)
    );
    Ok(())
}

fn step7_stale_socket(dir: &Path) -> Result<()> {
    let path = dir.join("stale.sock");
    let arg = path.to_string_lossy().into_owned();
    println!("7. A socket file outlives its server");
    {
        let mut first = ServerChild::spawn(&["serve", "--unix", &arg])?;
        first.expect("listening on unix:")?;
        first.kill_hard()?;
        println!(
            "   SIGKILLed the server (pid {}): socket file still there: {}",
            first.pid(),
            path.exists()
        );
    }
    match UnixStream::connect(&path) {
        Ok(_) => println!("   connect: unexpectedly accepted"),
        Err(e) => println!("   connect to it: {e}"),
    }
    let mut second = ServerChild::spawn(&["serve", "--unix", &arg])?;
    let replaced = second.expect("replaced stale socket file")?;
    second.expect("listening on unix:")?;
    let mut stream = UnixStream::connect(&path).map_err(ctx("connect stale.sock"))?;
    stream
        .set_read_timeout(Some(REPLY_TIMEOUT))
        .map_err(ctx("setsockopt SO_RCVTIMEO"))?;
    let echo = echo_once(&mut stream, b"temperature: 42", REPLY_TIMEOUT).map_err(ctx("echo"))?;
    println!(
        "   a new server: {replaced}; echo {:?}",
        String::from_utf8_lossy(&echo)
    );
    let long = dir.join("x".repeat(SUN_PATH_BYTES));
    match server::check_sun_path(&long) {
        Ok(()) => println!("   a {}-byte path: accepted", long.as_os_str().len()),
        Err(e) => println!(
            "   a {}-byte path is refused before bind: {e}",
            long.as_os_str().len()
        ),
    }
    Ok(())
}

/// A server started from this binary; `Drop` stops it (SIGTERM, so it removes its socket file)
/// and reaps it, SIGKILL if it does not exit within a second.
struct ServerChild {
    child: Child,
    out: ChildStdout,
    err: ChildStderr,
    pending: Vec<u8>,
}

impl ServerChild {
    fn spawn(args: &[&str]) -> Result<Self> {
        let exe = std::env::current_exe().map_err(ctx("locate own binary"))?;
        let parent = getpid();
        let mut command = Command::new(exe);
        // Its stdout is our readiness handshake; its stderr is shown only if it fails.
        command
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        // SAFETY: runs in the child between fork and exec, where only async-signal-safe calls
        // are sound (another thread may have held a lock at the fork): prctl and getppid are,
        // and nothing here allocates (an Errno becomes an io::Error without a heap message).
        unsafe {
            command.pre_exec(move || {
                // Die with the tour, even when it is SIGKILLed (no orphan server).
                nix::sys::prctl::set_pdeathsig(Signal::SIGTERM)?;
                if getppid() != parent {
                    // The tour exited before its server started: ESRCH, "No such process".
                    return Err(nix::errno::Errno::ESRCH.into());
                }
                Ok(())
            });
        }
        let mut child = command
            .spawn()
            .map_err(|e| format!("spawn uds-demo {}: {e}", args.join(" ")))?;
        let out = child.stdout.take().ok_or("spawn: no stdout pipe")?;
        let err = child.stderr.take().ok_or("spawn: no stderr pipe")?;
        Ok(ServerChild {
            child,
            out,
            err,
            pending: Vec::new(),
        })
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Waits (at most 3 s, waking every 50 ms to notice Ctrl-C) for a line starting with
    /// `prefix`; skips other lines. This is the readiness handshake: no sleeps.
    fn expect(&mut self, prefix: &str) -> Result<String> {
        let deadline = Instant::now() + Duration::from_secs(3);
        loop {
            while let Some(end) = self.pending.iter().position(|&b| b == b'\n') {
                let line: Vec<u8> = self.pending.drain(..=end).collect();
                let line = String::from_utf8_lossy(&line).trim_end().to_string();
                if line.starts_with(prefix) {
                    return Ok(line);
                }
            }
            check_stop()?;
            if Instant::now() >= deadline {
                return Err(
                    format!("server pid {}: no line {prefix:?} within 3 s", self.pid()).into(),
                );
            }
            let mut fds = [PollFd::new(self.out.as_fd(), PollFlags::POLLIN)];
            if poll(&mut fds, PollTimeout::from(50u16)).unwrap_or(0) == 0 {
                continue;
            }
            let mut buf = [0u8; 1024];
            match self.out.read(&mut buf) {
                Ok(0) => {
                    let status = self.child.wait().map_err(ctx("waitpid"))?;
                    let mut said = String::new();
                    let _ = self.err.read_to_string(&mut said);
                    return Err(format!(
                        "server pid {} exited ({status}): {}",
                        self.pid(),
                        said.trim()
                    )
                    .into());
                }
                Ok(n) => self.pending.extend_from_slice(&buf[..n]),
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(format!("read server output: {e}").into()),
            }
        }
    }

    fn kill_hard(&mut self) -> Result<()> {
        self.child.kill().map_err(ctx("kill SIGKILL"))?;
        self.child.wait().map_err(ctx("waitpid"))?;
        Ok(())
    }
}

impl Drop for ServerChild {
    fn drop(&mut self) {
        if let Ok(Some(_)) = self.child.try_wait() {
            return;
        }
        let pid = Pid::from_raw(self.child.id() as i32);
        let _ = kill(pid, Signal::SIGTERM);
        let deadline = Instant::now() + Duration::from_secs(1);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
