//! The subcommands as a user runs them in two terminals: bad input, permissions, stale socket
//! files, peer death, fd passing, SO_PEERCRED refusal.
#![allow(clippy::unwrap_used)]

mod common;

use std::fs;
use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::os::unix::net::UnixListener;
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{BIN, Running, TestDir, connect, is_root, server};
use nix::sys::signal::{Signal, kill};
use uds_demo::echo_once;

const WAIT: Duration = Duration::from_secs(5);

/// Runs `uds-demo ARGS` to completion (bounded), returning (exit code, stdout, stderr).
fn run(args: &[&str]) -> (i32, String, String) {
    let mut r = Running::spawn(BIN, args);
    let status = r.wait_exit(WAIT).unwrap_or_else(|| {
        panic!(
            "uds-demo ({} bytes of arguments) did not exit",
            args.join(" ").len()
        )
    });
    let done = r.finish(WAIT);
    let stdout: String = done.stdout.iter().map(|line| format!("{line}\n")).collect();
    (status.code().unwrap_or(-1), stdout, done.stderr)
}

#[test]
fn bad_input_is_one_line_with_the_right_status_and_leaves_nothing() {
    let dir = TestDir::new("bad");
    let file = dir.join("plain-file");
    fs::write(&file, "not a socket").unwrap();
    let file_s = file.to_str().unwrap().to_string();
    let long = format!("{}/{}", dir.0.display(), "x".repeat(120));
    let missing_dir = dir
        .join("no-such-dir/echo.sock")
        .to_str()
        .unwrap()
        .to_string();
    let missing = dir
        .join("nobody-listens.sock")
        .to_str()
        .unwrap()
        .to_string();
    let huge_msg = "x".repeat(70_000);
    let busy = TcpPort::bound();
    let busy_addr = format!("127.0.0.1:{}", busy.0.local_addr().unwrap().port());
    let cases: Vec<(Vec<&str>, i32, &str)> = vec![
        (vec!["serve", "--timeout-ms", "0"], 2, "--timeout-ms"),
        (vec!["serve", "--timeout-ms", "-5"], 2, "--timeout-ms"),
        (vec!["serve", "--timeout-ms", "soon"], 2, "--timeout-ms"),
        (
            vec!["serve", "--timeout-ms", "99999999999999999999"],
            2,
            "--timeout-ms",
        ),
        (vec!["serve", "--max-clients", "0"], 2, "--max-clients"),
        (vec!["serve", "--idle-ms", "1"], 2, "--idle-ms"),
        (vec!["serve", "--inet", "localhost"], 2, "--inet"),
        (
            vec!["serve", "--inet", "localhost:7878"],
            2,
            "--inet takes a numeric IP:PORT such as 127.0.0.1:7878",
        ),
        (
            vec!["client", "--inet", "localhost:7878"],
            2,
            "--inet takes a numeric IP:PORT",
        ),
        (vec!["serve", "--inet", "127.0.0.1:99999"], 2, "--inet"),
        (
            vec!["serve", "--unix", "a.sock", "--inet", "127.0.0.1:1"],
            2,
            "cannot be used with",
        ),
        (vec!["serve", "--abstract", ""], 2, "abstract name"),
        (vec!["client"], 2, "required"),
        (
            vec!["client", "--unix", &missing, "--count", "0"],
            2,
            "--count",
        ),
        (
            vec!["client", "--unix", &missing, "--interval-ms", "-1"],
            2,
            "--interval-ms",
        ),
        (
            vec!["client", "--unix", &missing, &huge_msg],
            2,
            "at most 65536 bytes",
        ),
        (vec!["teleport"], 2, "unrecognized subcommand"),
        (vec!["fd-send", "--unix", &missing], 2, "required"),
        (vec!["serve", "--unix", &long], 1, "socket path too long"),
        (vec!["serve", "--unix", &missing_dir], 1, "bind"),
        (vec!["serve", "--unix", &file_s], 1, "is not a socket"),
        (vec!["serve", "--inet", &busy_addr], 1, "bind"),
        (vec!["client", "--unix", &missing], 1, ": no such file"),
        (
            vec!["client", "--unix", &file_s],
            1,
            "it exists but is not a socket",
        ),
        (
            vec!["client", "--unix", "/etc/passwd"],
            1,
            "connect /etc/passwd: it exists but is not a socket",
        ),
        (
            vec!["fd-send", "--unix", &file_s, &file_s],
            1,
            "it exists but is not a socket",
        ),
        (vec!["client", "--unix", &long], 1, "socket path too long"),
        (vec!["fd-recv", "--unix", &long], 1, "socket path too long"),
        (
            vec!["fd-send", "--unix", &missing, "/no/such/file"],
            1,
            "open /no/such/file",
        ),
    ];
    let before: Vec<_> = fs::read_dir(&dir.0)
        .unwrap()
        .flatten()
        .map(|e| e.file_name())
        .collect();
    for (args, code, needle) in cases {
        let (got, _, stderr) = run(&args);
        let shown: Vec<&str> = args
            .iter()
            .map(|a| if a.len() > 40 { "<long>" } else { a })
            .collect();
        assert_eq!(got, code, "uds-demo {shown:?}: stderr {stderr}");
        assert_eq!(
            stderr.lines().count(),
            1,
            "uds-demo {shown:?}: not one line: {stderr}"
        );
        assert!(
            stderr.len() < 400,
            "uds-demo {shown:?}: a {}-byte error line",
            stderr.len()
        );
        assert!(
            stderr.starts_with("uds-demo: ") && stderr.contains(needle),
            "uds-demo {shown:?}: {stderr}"
        );
        assert!(!stderr.contains("panicked"));
    }
    let after: Vec<_> = fs::read_dir(&dir.0)
        .unwrap()
        .flatten()
        .map(|e| e.file_name())
        .collect();
    assert_eq!(before, after, "a failed run left something behind");
    assert_eq!(
        fs::read_to_string(&file).unwrap(),
        "not a socket",
        "the non-socket file was touched"
    );
}

/// Holds a TCP port busy for the test's lifetime.
struct TcpPort(std::net::TcpListener);
impl TcpPort {
    fn bound() -> TcpPort {
        TcpPort(std::net::TcpListener::bind("127.0.0.1:0").unwrap())
    }
}

#[test]
fn serve_creates_a_0700_dir_and_0600_socket_and_removes_both_on_sigint_and_sigterm() {
    for signal in [Signal::SIGINT, Signal::SIGTERM] {
        let (mut srv, addr) = server(&["serve"]);
        let path = std::path::PathBuf::from(addr.strip_prefix("unix:").unwrap());
        let dir = path.parent().unwrap().to_path_buf();
        assert_eq!(
            fs::metadata(&dir).unwrap().permissions().mode() & 0o777,
            0o700
        );
        let meta = fs::symlink_metadata(&path).unwrap();
        assert!(meta.file_type().is_socket());
        assert_eq!(meta.permissions().mode() & 0o777, 0o600);
        assert_eq!(
            echo_once(&mut connect(&path), b"temperature: 42", WAIT).unwrap(),
            b"temperature: 42"
        );
        kill(srv.pid(), signal).unwrap();
        let status = srv
            .wait_exit(Duration::from_secs(2))
            .expect("server ignored the signal");
        assert_eq!(status.code(), Some(128 + signal as i32));
        assert!(
            !path.exists() && !dir.exists(),
            "{} left behind after {signal}",
            dir.display()
        );
        assert_eq!(
            srv.stderr(),
            format!("uds-demo: stopped by {signal}; removed everything this run created\n")
        );
    }
}

/// A TCP or abstract server makes no file, so on a signal it claims to have removed none.
#[test]
fn an_inet_or_abstract_server_stops_without_claiming_to_remove_files() {
    let name = format!("uds-demo-test-nofile-{}", std::process::id());
    for args in [
        &["serve", "--inet", "127.0.0.1:0"][..],
        &["serve", "--abstract", &name],
    ] {
        let (mut srv, _) = server(args);
        kill(srv.pid(), Signal::SIGINT).unwrap();
        let status = srv
            .wait_exit(Duration::from_secs(2))
            .expect("still running");
        assert_eq!(status.code(), Some(130), "{args:?}");
        assert_eq!(srv.stderr(), "uds-demo: stopped by SIGINT\n", "{args:?}");
    }
}

#[test]
fn a_user_chosen_path_gets_mode_0600_regardless_of_umask() {
    let dir = TestDir::new("umask");
    fs::set_permissions(&dir.0, fs::Permissions::from_mode(0o755)).unwrap();
    let path = dir.join("echo.sock");
    let mut cmd = Command::new(BIN);
    cmd.args(["serve", "--unix", path.to_str().unwrap()]);
    testkit::with_umask(&mut cmd, 0);
    let mut srv = Running::start(&mut cmd);
    let first = srv.wait_line("", WAIT).expect("a first line");
    assert!(first.starts_with("listening on unix:"), "{first}");
    assert_eq!(
        fs::symlink_metadata(&path).unwrap().permissions().mode() & 0o777,
        0o600
    );
}

#[test]
fn a_stale_socket_file_is_replaced_and_a_live_one_is_not() {
    let dir = TestDir::new("stale");
    let path = dir.join("echo.sock");
    drop(UnixListener::bind(&path).unwrap()); // a socket file with no server: stale
    let p = path.to_str().unwrap();
    let (mut srv, _) = server(&["serve", "--unix", p]);
    assert!(
        srv.seen()
            .iter()
            .any(|l| l.starts_with("replaced stale socket file")),
        "{:?}",
        srv.seen()
    );
    assert_eq!(
        echo_once(&mut connect(&path), b"temperature: 42", WAIT).unwrap(),
        b"temperature: 42"
    );
    // A second server on the same path must not steal it from the live one.
    let (code, _, stderr) = run(&["serve", "--unix", p]);
    assert_eq!(code, 1);
    assert!(stderr.contains("another server is listening"), "{stderr}");
    assert_eq!(
        echo_once(&mut connect(&path), b"temperature: 43", WAIT).unwrap(),
        b"temperature: 43"
    );
    // Restart after SIGKILL: the file stays behind, the next server replaces it.
    srv.kill();
    assert!(path.exists());
    let (_srv2, _) = server(&["serve", "--unix", p]);
    assert_eq!(
        echo_once(&mut connect(&path), b"temperature: 44", WAIT).unwrap(),
        b"temperature: 44"
    );
}

#[test]
fn a_client_exits_within_2s_when_its_server_is_sigkilled() {
    for family in ["unix", "inet"] {
        let args: Vec<&str> = if family == "unix" {
            vec!["serve"]
        } else {
            vec!["serve", "--inet", "127.0.0.1:0"]
        };
        let (mut srv, addr) = server(&args);
        let (flag, at) = addr.split_once(':').unwrap();
        let mut client = Running::spawn(
            BIN,
            &[
                "client",
                &format!("--{flag}"),
                at,
                "--count",
                "1000",
                "--interval-ms",
                "100",
            ],
        );
        client
            .wait_line("echo: temperature: 42", WAIT)
            .expect("client got an echo");
        srv.kill();
        let killed = Instant::now();
        let status = client
            .wait_exit(Duration::from_secs(3))
            .expect("client still running 3 s after its server died");
        assert!(
            killed.elapsed() < Duration::from_secs(2),
            "{family}: client took {:?}",
            killed.elapsed()
        );
        assert_eq!(status.code(), Some(1));
        let stderr = client.stderr();
        assert_eq!(stderr.lines().count(), 1, "{stderr}");
        assert!(stderr.starts_with("uds-demo: echo over "), "{stderr}");
        if family == "unix" {
            // The SIGKILLed server could not remove its private directory: the next server will.
            let stale = std::path::Path::new(at).parent().unwrap().to_path_buf();
            let _ = fs::remove_dir_all(stale);
        }
    }
}

#[test]
fn a_server_keeps_serving_when_a_client_is_sigkilled() {
    let (mut srv, addr) = server(&["serve"]);
    let path = addr.strip_prefix("unix:").unwrap().to_string();
    let mut client = Running::spawn(
        BIN,
        &[
            "client",
            "--unix",
            &path,
            "--count",
            "1000",
            "--interval-ms",
            "50",
        ],
    );
    client.wait_line("echo:", WAIT).unwrap();
    client.kill();
    // EOF or, if the dead client left an echo unread, ECONNRESET: either way within 2 s.
    let ended = |l: &String| l.contains("closed by client") || l.contains("dropped:");
    let deadline = Instant::now() + Duration::from_secs(2);
    while !srv.seen().iter().any(ended) {
        let left = deadline.saturating_duration_since(Instant::now());
        let line = srv.wait_line("conn 1: ", left);
        assert!(
            line.is_some(),
            "server did not notice within 2 s: {:?}",
            srv.seen()
        );
    }
    assert!(srv.running(), "the server exited with its client");
    assert_eq!(
        echo_once(&mut connect(path.as_ref()), b"temperature: 42", WAIT).unwrap(),
        b"temperature: 42"
    );
}

#[test]
fn fd_send_and_fd_recv_in_two_terminals() {
    let dir = TestDir::new("fd");
    let file = dir.join("reading.txt");
    fs::write(&file, "temperature: 42\n").unwrap();
    let (mut recv, addr) = server(&["fd-recv"]);
    let path = addr.strip_prefix("unix:").unwrap().to_string();
    let (code, stdout, stderr) = run(&["fd-send", "--unix", &path, file.to_str().unwrap()]);
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stdout.contains("read 16 bytes through the passed fd: \"temperature: 42\\n\""),
        "{stdout}"
    );
    let said = recv.wait_line("received fd", WAIT).unwrap();
    assert!(said.ends_with("via SCM_RIGHTS"), "{said}");
    let said = recv.wait_line("read 16 bytes", WAIT).unwrap();
    assert!(said.ends_with(": \"temperature: 42\\n\""), "{said}");
    assert!(recv.wait_exit(WAIT).unwrap().success());
    assert!(
        !std::path::Path::new(&path).parent().unwrap().exists(),
        "fd-recv left its directory"
    );
}

#[test]
fn a_peer_of_another_uid_is_refused() {
    if !is_root() {
        println!("skipped: starting a client as another uid needs root");
        return;
    }
    let name = format!("uds-demo-test-peercred-{}", std::process::id());
    let (mut srv, _) = server(&["serve", "--abstract", &name]);
    let copy = common::binary_for_nobody();
    let out = copy
        .command()
        .args(["client", "--abstract", &name])
        .output();
    let out = match out {
        Ok(out) => out,
        // No setpriv: std's Command::uid does the same.
        Err(_) => Command::new(&copy.bin)
            .args(["client", "--abstract", &name])
            .uid(65534)
            .gid(65534)
            .output()
            .unwrap(),
    };
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("refused: peer uid 65534 is not the server's uid 0"),
        "{stderr}"
    );
    assert!(
        srv.wait_line("conn 1: refused", WAIT).is_some(),
        "{:?}",
        srv.seen()
    );
    // Our own uid is still served.
    let (code, stdout, _) = run(&["client", "--abstract", &name]);
    assert_eq!(code, 0);
    assert!(stdout.contains("echo: temperature: 42"));
}

/// `uds-demo client ... | head -0`: a closed stdout ends the client quietly, exit status 141.
#[test]
fn a_client_whose_stdout_is_closed_ends_quietly_with_141() {
    let (_srv, addr) = server(&["serve"]);
    let path = addr.strip_prefix("unix:").unwrap();
    let mut client = Command::new(BIN)
        .args(["client", "--unix", path, "--count", "1000"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(client.stdout.take()); // nobody reads its output any more
    let out = client.wait_with_output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(141),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&out.stderr), "");
}
