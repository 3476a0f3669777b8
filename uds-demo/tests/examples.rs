//! Runs every example in `uds-demo/examples/` end to end, through the binaries
//! `cargo test` builds: server and client as separate processes.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::os::unix::net::UnixListener;
use std::os::unix::process::ExitStatusExt;
use std::path::PathBuf;

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

use rand::RngExt;
use testkit::{Finished, Server};

/// `target/debug/examples/NAME`, no older than its source.
fn example(name: &str) -> PathBuf {
    testkit::example(env!("CARGO_MANIFEST_DIR"), name)
}

/// A name no other run or test uses: pid, a counter and the clock.
fn unique(tag: &str) -> String {
    testkit::unique(&format!("udsex-{tag}"))
}

/// Runs an example to the end (outputs are small: pipes cannot fill).
fn run(name: &str, args: &[&str]) -> Finished {
    Finished::from(testkit::run_example(env!("CARGO_MANIFEST_DIR"), name, args))
}

/// Removes a socket path when the test ends, so a failing test leaves none.
struct PathCleanup(PathBuf);

impl Drop for PathCleanup {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

fn socket_path(tag: &str) -> PathBuf {
    std::env::temp_dir().join(format!("{}.sock", unique(tag)))
}

fn sigterm(server: &Server) {
    let pid = server.child.as_ref().unwrap().id();
    kill(Pid::from_raw(pid as i32), Signal::SIGTERM).expect("kill -TERM");
}

#[test]
fn unix_echo_then_sigterm_removes_the_socket() {
    let sock = socket_path("echo");
    let _cleanup = PathCleanup(sock.clone());
    let sock_arg = sock.to_str().unwrap();

    let server = Server::start(example("echo_server"), &[sock_arg]);
    server.wait_for("listening on");
    assert!(
        sock.exists(),
        "server listening but {} missing",
        sock.display()
    );
    // Two clients in turn: the server keeps serving after the first leaves.
    for _ in 0..2 {
        let c = run("echo_client", &[sock_arg]);
        assert!(c.status.success(), "echo_client: {}", c.stderr);
        assert_eq!(c.stdout, "echo: temperature: 42\n");
    }

    sigterm(&server);
    let (status, _) = server.finish();
    assert_eq!(status.signal(), Some(Signal::SIGTERM as i32), "{status:?}");
    assert!(
        !sock.exists(),
        "{} left behind after SIGTERM",
        sock.display()
    );
}

#[test]
fn tcp_echo_on_a_port_the_kernel_picked() {
    let server = Server::start(example("echo_server"), &["--tcp", "127.0.0.1:0"]);
    let line = server.wait_for("listening on ");
    let addr = line.trim_start_matches("listening on ").trim();
    assert!(
        addr.starts_with("127.0.0.1:") && !addr.ends_with(":0"),
        "{line}"
    );

    let c = run("echo_client", &["--tcp", addr]);
    assert!(c.status.success(), "echo_client --tcp: {}", c.stderr);
    assert_eq!(c.stdout, "echo: temperature: 42\n");

    sigterm(&server);
    let (status, _) = server.finish();
    assert_eq!(status.signal(), Some(Signal::SIGTERM as i32), "{status:?}");
}

#[test]
fn stale_socket_is_replaced_but_files_and_live_servers_are_not() {
    let sock = socket_path("stale");
    let _cleanup = PathCleanup(sock.clone());
    let sock_arg = sock.to_str().unwrap();

    // A regular file at the path: refused, and left alone.
    std::fs::write(&sock, "not a socket").unwrap();
    let refused = run("echo_server", &[sock_arg]);
    assert!(!refused.status.success());
    assert!(
        refused.stderr.contains("not a socket"),
        "{}",
        refused.stderr
    );
    assert_eq!(std::fs::read_to_string(&sock).unwrap(), "not a socket");
    std::fs::remove_file(&sock).unwrap();

    // A live server (this test) at the path: refused, its socket kept.
    let live = UnixListener::bind(&sock).unwrap();
    let refused = run("echo_server", &[sock_arg]);
    assert!(!refused.status.success());
    assert!(
        refused.stderr.contains("server running"),
        "{}",
        refused.stderr
    );
    assert!(sock.exists());

    // The same socket once its server is gone (dropping does not unlink).
    drop(live);
    let server = Server::start(example("echo_server"), &[sock_arg]);
    server.wait_for("listening on");
    let c = run("echo_client", &[sock_arg]);
    assert_eq!(c.stdout, "echo: temperature: 42\n", "{}", c.stderr);
    sigterm(&server);
    let _ = server.finish();
    assert!(!sock.exists());
}

#[test]
fn too_long_a_path_is_refused_before_bind() {
    let long = std::env::temp_dir().join("x".repeat(120));
    let r = run("echo_server", &[long.to_str().unwrap()]);
    assert!(!r.status.success());
    assert!(r.stderr.contains("longer than 107 bytes"), "{}", r.stderr);
    assert!(!long.exists());
}

#[test]
fn dgram_pair_keeps_three_messages_apart() {
    let d = run("dgram_pair", &[]);
    assert!(d.status.success(), "dgram_pair: {}", d.stderr);
    let datagrams: Vec<&str> = d
        .stdout
        .lines()
        .filter(|l| l.starts_with("datagram"))
        .collect();
    assert_eq!(datagrams.len(), 3, "{}", d.stdout);
    for (i, line) in datagrams.iter().enumerate() {
        let want = format!("datagram {}: \"temperature: 4{}\" (15 bytes)", i + 1, i + 1);
        assert_eq!(*line, want);
    }
    // The stream side delivers the same 45 bytes, in order, boundaries gone.
    let quoted = |l: &str| l.split('"').nth(1).unwrap_or_default().to_string();
    let reads: Vec<&str> = d
        .stdout
        .lines()
        .filter(|l| l.starts_with("stream read"))
        .collect();
    let joined: String = reads.iter().map(|l| quoted(l)).collect();
    assert_eq!(joined, "temperature: 41temperature: 42temperature: 43");
    let summary = format!("3 sends: 3 datagrams, but {} stream read(s)", reads.len());
    assert!(d.stdout.contains(&summary), "{}", d.stdout);
}

// Fed by the test: lines and answers drawn per run, so a server that answers a fixed line,
// or a client that prints its own, fails.

/// A line of `len` printable ASCII characters, newline excluded.
fn random_line(rng: &mut impl rand::Rng, len: usize) -> String {
    (0..len)
        .map(|_| char::from(rng.random_range(b' '..=b'~')))
        .collect()
}

#[test]
fn echo_server_answers_each_clients_random_lines() {
    use std::io::{BufRead, BufReader, Write};
    use std::os::unix::net::UnixStream;
    let mut rng = rand::rng();
    let sock = socket_path("fedecho");
    let _cleanup = PathCleanup(sock.clone());
    let server = Server::start(example("echo_server"), &[sock.to_str().unwrap()]);
    server.wait_for("listening on");

    // Two clients at once, their lines interleaved: lines of 0 to 4095 characters.
    let connect = || {
        let stream = UnixStream::connect(&sock).expect("connect");
        stream.set_read_timeout(Some(testkit::LIMIT)).unwrap();
        (BufReader::new(stream.try_clone().unwrap()), stream)
    };
    let mut clients = [connect(), connect()];
    for round in 0..rng.random_range(1..=8) {
        for (reader, writer) in &mut clients {
            let len = rng.random_range(0..=4095);
            let line = random_line(&mut rng, len) + "\n";
            writer.write_all(line.as_bytes()).expect("write");
            let mut echo = String::new();
            reader.read_line(&mut echo).expect("read the echo");
            assert!(echo == line, "round {round}: {len}-byte line not echoed");
        }
    }
    drop(clients);
    sigterm(&server);
    let _ = server.finish();
}

/// The test as the server: reads the client's line and answers another, drawn per run.
fn answer(read: impl std::io::Read, mut write: impl std::io::Write) -> String {
    use std::io::BufRead;
    let mut line = String::new();
    let mut reader = std::io::BufReader::new(read);
    reader.read_line(&mut line).expect("read the client's line");
    assert_eq!(line, "temperature: 42\n", "what the client sent");
    let mut rng = rand::rng();
    let len = rng.random_range(1..=200);
    let reply = random_line(&mut rng, len) + "\n";
    write.write_all(reply.as_bytes()).expect("answer");
    reply
}

/// `accept` on a non-blocking listener, retried until a client comes or LIMIT passes.
fn accept_within<S>(mut accept: impl FnMut() -> std::io::Result<S>) -> S {
    let deadline = std::time::Instant::now() + testkit::LIMIT;
    loop {
        match accept() {
            Ok(stream) => return stream,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                assert!(std::time::Instant::now() < deadline, "no client came");
                std::thread::sleep(std::time::Duration::from_millis(5));
            }
            Err(e) => panic!("accept: {e}"),
        }
    }
}

#[test]
fn echo_client_prints_the_answer_it_got() {
    use std::net::TcpListener;
    use std::process::{Command, Stdio};
    let sock = socket_path("fedclient");
    let _cleanup = PathCleanup(sock.clone());
    let unix = UnixListener::bind(&sock).expect("bind");
    let tcp = TcpListener::bind("127.0.0.1:0").expect("bind tcp");
    unix.set_nonblocking(true).unwrap();
    tcp.set_nonblocking(true).unwrap();
    let addr = tcp.local_addr().unwrap().to_string();
    let timeout = Some(testkit::LIMIT);

    for args in [vec![sock.to_str().unwrap()], vec!["--tcp", &addr]] {
        let client = Command::new(example("echo_client"))
            .args(&args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn echo_client");
        let _guard = testkit::KillAfter::new(&client, testkit::LIMIT);
        let reply = if args[0] == "--tcp" {
            let (s, _) = accept_within(|| tcp.accept());
            s.set_nonblocking(false).unwrap();
            s.set_read_timeout(timeout).unwrap();
            answer(s.try_clone().unwrap(), s)
        } else {
            let (s, _) = accept_within(|| unix.accept());
            s.set_nonblocking(false).unwrap();
            s.set_read_timeout(timeout).unwrap();
            answer(s.try_clone().unwrap(), s)
        };
        let c = testkit::finish(client, "echo_client");
        assert!(c.status.success(), "echo_client {args:?}: {}", c.stderr);
        assert_eq!(c.stdout, format!("echo: {reply}"), "{args:?}");
    }
}

#[test]
fn dgram_pair_prints_the_lengths_its_code_defines() {
    // dgram_pair sends only its own READINGS (it takes no input): its lines are checked
    // against that constant, read from its source, and each length against its text.
    let source = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/examples/dgram_pair.rs"
    ))
    .expect("read dgram_pair.rs");
    let list = source
        .split_once("const READINGS")
        .and_then(|(_, rest)| rest.split_once("= ["))
        .and_then(|(_, rest)| rest.split_once("];"))
        .expect("READINGS in dgram_pair.rs")
        .0;
    let readings: Vec<&str> = list.split('"').skip(1).step_by(2).collect();
    let d = run("dgram_pair", &[]);
    assert!(d.status.success(), "dgram_pair: {}", d.stderr);
    let parsed = |line: &str, prefix: &str| -> Option<(String, usize)> {
        let rest = line.strip_prefix(prefix)?;
        let (text, n) = rest.split_once("\" (")?;
        let n = n.strip_suffix(" bytes)")?.parse().ok()?;
        Some((text.strip_prefix('"')?.to_string(), n))
    };
    let mut lines = d.stdout.lines();
    for (i, reading) in readings.iter().enumerate() {
        let line = lines.next().unwrap_or_default();
        let (text, n) = parsed(line, &format!("datagram {}: ", i + 1))
            .unwrap_or_else(|| panic!("not a datagram line: {line:?}"));
        assert_eq!((text.as_str(), n), (*reading, reading.len()), "{line}");
    }
    // Then the stream's reads, and the summary line last.
    let rest: Vec<&str> = lines.collect();
    let (summary, reads) = rest.split_last().expect("a summary line");
    let mut joined = String::new();
    for (i, line) in reads.iter().enumerate() {
        let (text, n) = parsed(line, &format!("stream read {}: ", i + 1))
            .unwrap_or_else(|| panic!("not a stream read line: {line:?}"));
        assert_eq!(n, text.len(), "{line}");
        joined.push_str(&text);
    }
    let n = readings.len();
    let want = format!(
        "{n} sends: {n} datagrams, but {} stream read(s)",
        reads.len()
    );
    assert_eq!(*summary, want);
    assert_eq!(joined, readings.concat(), "the stream's bytes, in order");
}
