//! Runs every example in `uds-demo/examples/` end to end, through the binaries
//! `cargo test` builds: server and client as separate processes.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::os::unix::net::UnixListener;
use std::os::unix::process::ExitStatusExt;
use std::path::PathBuf;

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

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
