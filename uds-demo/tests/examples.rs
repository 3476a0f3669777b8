//! Runs every example in `uds-demo/examples/` end to end, through the binaries
//! `cargo test` builds: server and client as separate processes.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead, BufReader};
use std::os::unix::net::UnixListener;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, channel};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

const LIMIT: Duration = Duration::from_secs(20);

/// target/debug/examples/NAME, found from this test binary (in deps/),
/// and no older than examples/NAME.rs.
fn example(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("current_exe");
    let debug = exe.parent().and_then(Path::parent).expect("target/debug");
    let path = debug.join("examples").join(name);
    assert!(
        path.exists(),
        "{} missing: run `cargo test -p uds-demo` or `cargo build -p uds-demo --examples`",
        path.display()
    );
    // `cargo test --test examples` alone does not rebuild the examples.
    let source = Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("examples/{name}.rs"));
    let modified = |p: &Path| std::fs::metadata(p).and_then(|m| m.modified()).unwrap();
    assert!(
        modified(&path) >= modified(&source),
        "{} is older than its source: run `cargo build -p uds-demo --examples`",
        path.display()
    );
    path
}

/// A name no other run or test uses: pid, a counter and the clock.
fn unique(tag: &str) -> String {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    format!("udsex-{tag}-{}-{n}-{nanos:x}", std::process::id())
}

struct Finished {
    status: ExitStatus,
    stdout: String,
    stderr: String,
}

/// Waits for `child` at most LIMIT; on timeout kills it and fails.
fn finish(mut child: Child, what: &str) -> Finished {
    let deadline = Instant::now() + LIMIT;
    while child.try_wait().expect("try_wait").is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{what} did not finish within {LIMIT:?}: killed");
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let out = child.wait_with_output().expect("collect output");
    Finished {
        status: out.status,
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// Runs an example to the end (outputs are small: pipes cannot fill).
fn run(name: &str, args: &[&str]) -> Finished {
    let child = Command::new(example(name))
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn example");
    finish(child, name)
}

/// A long-running example whose stdout lines arrive on a channel. Dropping
/// it kills and reaps the process, so a failed assertion leaves no process.
struct Server {
    child: Option<Child>,
    lines: Receiver<String>,
}

impl Server {
    fn start(name: &str, args: &[&str]) -> Server {
        let mut child = Command::new(example(name))
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn server");
        let stdout = child.stdout.take().expect("stdout");
        let (tx, lines) = channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        Server {
            child: Some(child),
            lines,
        }
    }

    /// The next stdout line containing `needle` (the readiness handshake).
    fn wait_for(&self, needle: &str) -> String {
        let deadline = Instant::now() + LIMIT;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) if line.contains(needle) => return line,
                Ok(_) => {}
                Err(e) => panic!("no line with {needle:?} from the server: {e}"),
            }
        }
    }

    /// Waits for the exit; returns the status and the rest of stdout.
    fn finish(mut self) -> (ExitStatus, String) {
        let mut child = self.child.take().expect("child");
        child.stdout = None;
        let out = finish(child, "server");
        // The reader thread ends at EOF, which follows the exit.
        let deadline = Instant::now() + LIMIT;
        let mut rest = Vec::new();
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => rest.push(line),
                Err(RecvTimeoutError::Disconnected) => break,
                Err(e) => panic!("server output did not end: {e}"),
            }
        }
        (out.status, rest.join("\n"))
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(child) = &mut self.child {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
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

    let server = Server::start("echo_server", &[sock_arg]);
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
    let server = Server::start("echo_server", &["--tcp", "127.0.0.1:0"]);
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
    let server = Server::start("echo_server", &[sock_arg]);
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
