//! The examples in uds-demo/examples against what a reader's real program meets: a closed or
//! full stdout, inherited signal state, SIGHUP and SIGQUIT, and hostile peers (a line with no
//! end, a flood, a silent server, a server out of threads or descriptors). Each must refuse
//! the one peer, or end with an error or quietly (SIGPIPE), never with a panic, a hang or a
//! spin, and leave no socket behind. Run as the binaries cargo built, as tests/examples.rs
//! does; every wait is bounded, and so are the memory and CPU of the process under test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::fs::File;
use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::net::{UnixListener, UnixStream};
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use nix::sys::resource::Resource;
use nix::sys::signal::{Signal, kill};
use testkit::Running;
use testkit::hostile::{
    ENDINGS, Stdout, assert_ends_cleanly, limited, ready_for_ending, run_to_end,
};

const WAIT: Duration = Duration::from_secs(5);

fn example(name: &str) -> PathBuf {
    testkit::example(env!("CARGO_MANIFEST_DIR"), name)
}

/// A 0700 directory of this test's own, holding the socket; removed at the end.
fn socket_in(dir: &testkit::TempDir) -> PathBuf {
    dir.join("echo.sock")
}

/// Starts `command` (echo_server) and waits for its first line, `listening on ADDR`; returns
/// the server and ADDR.
fn start_server(command: &mut Command) -> (Running, String) {
    let mut server = Running::start(command);
    let line = server.line_where(testkit::LIMIT, |_| true);
    let line =
        line.unwrap_or_else(|e| panic!("no line from the server ({e}): {}", server.stderr()));
    assert!(
        line.starts_with("listening on "),
        "{line:?}: {}",
        server.stderr()
    );
    let addr = line["listening on ".len()..].trim().to_string();
    (server, addr)
}

/// Sends `signal` and requires death by it within WAIT, without a panic.
fn stop_with(mut server: Running, signal: Signal) {
    kill(server.pid(), signal).unwrap();
    let status = server.wait_exit(WAIT);
    let status = status.unwrap_or_else(|| panic!("echo_server did not exit within {WAIT:?}"));
    let stderr = server.stderr();
    assert_eq!(status.signal(), Some(signal as i32), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}

/// One echo over a fresh Unix connection, each step bounded.
fn echo_over(sock: &Path, line: &str) -> std::io::Result<String> {
    let mut stream = UnixStream::connect(sock)?;
    stream.set_read_timeout(Some(WAIT))?;
    stream.write_all(line.as_bytes())?;
    let mut echo = String::new();
    BufReader::new(stream).read_line(&mut echo)?;
    Ok(echo)
}

/// CPU time (user + system) `pid` has used so far, in clock ticks (fields 14, 15 of stat).
fn cpu_ticks(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let after = &stat[stat.rfind(')').unwrap() + 2..];
    let fields: Vec<&str> = after.split_whitespace().collect();
    fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap()
}

#[test]
fn echo_server_serves_on_with_a_closed_or_full_stdout_and_leaves_no_socket() {
    for stdout in [Stdout::Full, Stdout::Closed] {
        let dir = testkit::TempDir::new("udshostile-out");
        let sock = socket_in(&dir);
        let errors = std::env::temp_dir().join(testkit::unique("udshostile-err"));
        let mut child = Command::new(example("echo_server"))
            .arg(&sock)
            .stdin(Stdio::null())
            .stdout(stdout.stdio())
            .stderr(File::create(&errors).unwrap())
            .spawn()
            .unwrap();
        let deadline = Instant::now() + testkit::LIMIT;
        while !std::fs::read_to_string(&errors).unwrap().contains("stdout") {
            let ended = child.try_wait().unwrap();
            if ended.is_some() || Instant::now() > deadline {
                let _ = child.kill();
                let said = std::fs::read_to_string(&errors).unwrap();
                let _ = std::fs::remove_file(&errors);
                panic!("stdout {stdout:?}: {ended:?}: {said}");
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        let said = std::fs::read_to_string(&errors).unwrap();
        let _ = std::fs::remove_file(&errors);
        assert!(!said.contains("panicked"), "{said}");
        let echo = echo_over(&sock, "temperature: 42\n");
        kill(testkit::pid(&child), Signal::SIGTERM).unwrap();
        let status = testkit::exit_within(&mut child, WAIT, "echo_server");
        assert_eq!(echo.unwrap(), "temperature: 42\n", "stdout {stdout:?}");
        assert_eq!(status.signal(), Some(15), "stdout {stdout:?}");
        dir.assert_empty();
    }
}

#[test]
fn echo_server_stops_on_sighup_sigquit_and_when_started_with_signals_blocked() {
    for (signal, blocked) in ENDINGS.into_iter().chain([(Signal::SIGINT, true)]) {
        let dir = testkit::TempDir::new("udshostile-sig");
        let sock = socket_in(&dir);
        let mut command = Command::new(example("echo_server"));
        ready_for_ending(command.arg(&sock), blocked);
        let (server, _) = start_server(&mut command);
        stop_with(server, signal);
        dir.assert_empty();
    }
}

#[test]
fn echo_server_refuses_a_line_without_end_and_serves_the_next_client() {
    let dir = testkit::TempDir::new("udshostile-line");
    let sock = socket_in(&dir);
    let mut command = Command::new(example("echo_server"));
    limited(
        command.arg(&sock),
        vec![(Resource::RLIMIT_AS, 1 << 30), (Resource::RLIMIT_CPU, 20)],
    );
    let (server, _) = start_server(&mut command);

    // 64 MiB with no newline, written by a thread: the server must hang up long before.
    let mut flood = UnixStream::connect(&sock).unwrap();
    flood.set_read_timeout(Some(WAIT)).unwrap();
    let mut writer = flood.try_clone().unwrap();
    let sender = std::thread::spawn(move || {
        let chunk = vec![b'x'; 64 << 10];
        let mut sent = 0usize;
        while sent < 64 << 20 && writer.write_all(&chunk).is_ok() {
            sent += chunk.len();
        }
        sent
    });
    let mut rest = Vec::new();
    let got = flood.read_to_end(&mut rest);
    let sent = sender.join().unwrap();
    assert!(
        matches!(got, Ok(0))
            || got
                .as_ref()
                .is_err_and(|e| e.kind() != std::io::ErrorKind::WouldBlock),
        "the server kept reading a line with no end: {got:?} after {sent} bytes"
    );
    assert!(sent < 64 << 20, "all 64 MiB were taken in");
    let rss_kb: u64 = std::fs::read_to_string(format!("/proc/{}/status", server.id()))
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap();
    assert!(rss_kb < 32 << 10, "server RSS {rss_kb} kB after the flood");
    assert!(server.running(), "{}", server.stderr());
    assert_eq!(
        echo_over(&sock, "temperature: 42\n").unwrap(),
        "temperature: 42\n"
    );
    stop_with(server, Signal::SIGTERM);
}

#[test]
fn echo_server_out_of_descriptors_waits_instead_of_spinning_and_recovers() {
    let dir = testkit::TempDir::new("udshostile-emfile");
    let sock = socket_in(&dir);
    let mut command = Command::new(example("echo_server"));
    // 16 descriptors: the listener, the signal pipe and a few clients, then EMFILE.
    limited(
        command.arg(&sock),
        vec![(Resource::RLIMIT_NOFILE, 16), (Resource::RLIMIT_CPU, 20)],
    );
    let (server, _) = start_server(&mut command);
    let idle: Vec<UnixStream> = (0..24)
        .map(|_| UnixStream::connect(&sock).unwrap())
        .collect();
    let deadline = Instant::now() + WAIT;
    while !server.stderr().contains("accept: ") && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    assert!(
        server.stderr().contains("accept: "),
        "no EMFILE: {}",
        server.stderr()
    );
    let pid = server.id();
    let (before, lines_before) = (cpu_ticks(pid), server.stderr().lines().count());
    std::thread::sleep(Duration::from_secs(2));
    let (after, lines_after) = (cpu_ticks(pid), server.stderr().lines().count());
    // A clock tick is 10 ms: a spinning server burns most of the 200, a waiting one a few.
    assert!(
        after - before < 40,
        "{} ticks of CPU in 2 s of EMFILE",
        after - before
    );
    assert!(
        lines_after - lines_before < 60,
        "{} lines of log in 2 s",
        lines_after - lines_before
    );
    drop(idle);
    let deadline = Instant::now() + WAIT;
    let echo = loop {
        match echo_over(&sock, "temperature: 42\n") {
            Ok(echo) if !echo.is_empty() => break echo,
            _ if Instant::now() > deadline => panic!("no echo after the clients left"),
            _ => std::thread::sleep(Duration::from_millis(50)),
        }
    };
    assert_eq!(echo, "temperature: 42\n");
    assert!(server.running());
    stop_with(server, Signal::SIGTERM);
}

#[test]
fn echo_server_without_threads_refuses_the_client_or_fails_before_bind() {
    if !testkit::have_setpriv() || !nix::unistd::Uid::effective().is_root() {
        eprintln!("skipped: running as nobody needs root and setpriv");
        return;
    }
    let copy = testkit::NobodyCopy::of(example("echo_server").to_str().unwrap());
    // As nobody with RLIMIT_NPROC 1 the process can start no thread at all (root is exempt).
    let nproc = vec![(Resource::RLIMIT_NPROC, 1), (Resource::RLIMIT_CPU, 20)];

    // TCP has no signal thread: it starts, and refuses each client it has no thread for.
    let mut command = copy.command();
    limited(command.args(["--tcp", "127.0.0.1:0"]), nproc.clone());
    let (server, addr) = start_server(&mut command);
    for _ in 0..2 {
        let mut client = std::net::TcpStream::connect(&addr).unwrap();
        client.set_read_timeout(Some(WAIT)).unwrap();
        let _ = client.write_all(b"temperature: 42\n");
        let mut echo = Vec::new();
        let got = client.read_to_end(&mut echo);
        assert!(echo.is_empty(), "echoed without a thread? {got:?}");
        assert!(
            got.is_ok()
                || got
                    .as_ref()
                    .is_err_and(|e| e.kind() != std::io::ErrorKind::WouldBlock),
            "a refused client was left waiting: {got:?}"
        );
    }
    assert!(server.running(), "{}", server.stderr());
    assert!(
        server.stderr().contains("client refused"),
        "{}",
        server.stderr()
    );
    stop_with(server, Signal::SIGTERM);

    // Unix: the signal thread cannot start, which fails before bind: no socket is left.
    let sock = copy.dir.join("echo.sock");
    let mut command = copy.command();
    limited(command.arg(&sock), nproc);
    let (out, stderr) = run_to_end(command.stdout(Stdio::null()), testkit::LIMIT, "echo_server");
    assert_eq!(out.status.code(), Some(1), "{:?}: {stderr}", out.status);
    assert!(!sock.exists(), "{} left behind", sock.display());
}

#[test]
fn echo_client_gives_up_on_a_silent_server_and_on_a_flood() {
    let dir = testkit::TempDir::new("udshostile-client");
    let sock = socket_in(&dir);
    let listener = UnixListener::bind(&sock).unwrap();

    // Silent: the connection waits in the backlog, never accepted, never answered.
    let mut command = Command::new(example("echo_client"));
    let (out, stderr) = run_to_end(
        command.arg(&sock).stdout(Stdio::null()),
        Duration::from_secs(15),
        "echo_client, silent server",
    );
    assert_eq!(out.status.code(), Some(1), "{:?}: {stderr}", out.status);
    assert!(stderr.contains("no echo within"), "{stderr}");

    // Flood: the server answers with bytes and never a newline.
    let server = std::thread::spawn(move || {
        let _ = listener.accept(); // the silent round's connection
        let (mut stream, _) = listener.accept().unwrap();
        let chunk = vec![b'x'; 64 << 10];
        let mut sent = 0usize;
        while sent < 256 << 20 && stream.write_all(&chunk).is_ok() {
            sent += chunk.len();
        }
    });
    let mut command = Command::new(example("echo_client"));
    limited(
        command.arg(&sock).stdout(Stdio::null()),
        vec![(Resource::RLIMIT_AS, 256 << 20), (Resource::RLIMIT_CPU, 20)],
    );
    let (out, stderr) = run_to_end(&mut command, testkit::LIMIT, "echo_client, flood");
    assert_eq!(out.status.code(), Some(1), "{:?}: {stderr}", out.status);
    assert!(stderr.contains("over 4 KiB"), "{stderr}");
    server.join().unwrap();
}

#[test]
fn echo_client_and_dgram_pair_end_cleanly_on_a_closed_or_full_stdout() {
    for stdout in [Stdout::Full, Stdout::Closed] {
        let dir = testkit::TempDir::new("udshostile-cout");
        let sock = socket_in(&dir);
        let listener = UnixListener::bind(&sock).unwrap();
        let server = std::thread::spawn(move || {
            let (stream, _) = listener.accept().unwrap();
            stream.set_read_timeout(Some(WAIT)).unwrap();
            let mut line = String::new();
            let mut reader = BufReader::new(stream);
            reader.read_line(&mut line).unwrap();
            reader.get_mut().write_all(line.as_bytes()).unwrap();
        });
        let what = format!("echo_client, stdout {stdout:?}");
        assert_ends_cleanly(
            Command::new(example("echo_client")).arg(&sock),
            stdout,
            &what,
        );
        server.join().unwrap();

        let what = format!("dgram_pair, stdout {stdout:?}");
        assert_ends_cleanly(&mut Command::new(example("dgram_pair")), stdout, &what);
    }
}
