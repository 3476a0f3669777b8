//! `uds-demo serve` when a resource runs out: no thread for a client (RLIMIT_NPROC, RLIMIT_AS),
//! no file descriptor for the next connection (RLIMIT_NOFILE), a client that never reads. The
//! server refuses or drops that one client, says why in one line, and keeps serving.
#![allow(clippy::unwrap_used)]

mod common;

use std::net::TcpStream;
use std::process::Command;
use std::time::Duration;

use common::{BIN, Running, TestDir, connect, is_root, server};
use nix::sys::signal::{Signal, kill};
use uds_demo::echo_once;

const WAIT: Duration = Duration::from_secs(5);

/// What one echo attempt got: the echo, or the error (the server's refusal is in it).
fn try_echo<S: std::io::Read + std::io::Write>(
    stream: &mut S,
    msg: &str,
) -> Result<String, String> {
    echo_once(stream, msg.as_bytes(), WAIT)
        .map(|echo| String::from_utf8_lossy(&echo).into_owned())
        .map_err(|e| e.to_string())
}

/// A field of /proc/PID/status in kB ("VmSize").
fn status_kb(pid: u32, field: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let line = status.lines().find(|l| l.starts_with(field)).unwrap();
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

/// `prlimit --pid PID --RESOURCE=SOFT:HARD` on a running server.
fn prlimit(pid: u32, resource: &str, value: u64) {
    let out = Command::new("prlimit")
        .args(["--pid", &pid.to_string(), &format!("--{resource}={value}")])
        .output()
        .expect("run prlimit");
    assert!(
        out.status.success(),
        "prlimit: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Stops the server with SIGTERM and requires a clean stop: status 143, no panic.
fn stop(mut srv: Running) {
    kill(srv.pid(), Signal::SIGTERM).unwrap();
    let status = srv.wait_exit(WAIT).expect("server ignored SIGTERM");
    let stderr = srv.stderr();
    assert_eq!(status.code(), Some(143), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}

/// As an ordinary user limited to one process (`prlimit --nproc=1`), the server cannot start a
/// thread for any client: each is refused with the reason and the limit, and it keeps running.
#[test]
fn no_thread_left_refuses_that_client_and_the_server_keeps_serving() {
    if !is_root() || !testkit::have_setpriv() {
        eprintln!("skipped: running the server as nobody needs root and setpriv");
        return;
    }
    let copy = common::binary_for_nobody();
    let bin = copy.bin.to_str().unwrap().to_string();
    let args = [
        "--reuid=65534",
        "--regid=65534",
        "--clear-groups",
        "prlimit",
        "--nproc=1",
        &bin,
        "serve",
        "--inet",
        "127.0.0.1:0",
    ];
    let mut srv = Running::spawn("setpriv", &args);
    let line = srv
        .wait_line("listening on inet:", WAIT)
        .expect("server started");
    let addr = line["listening on inet:".len()..].trim().to_string();
    for id in 1..=2 {
        let mut client = TcpStream::connect(&addr).unwrap();
        let said = try_echo(&mut client, "temperature: 42").unwrap_err();
        assert!(
            said.contains("refused: no thread for this client") && said.contains("ulimit -u 1"),
            "client {id} got: {said}"
        );
        let logged = srv.wait_line(&format!("conn {id}: refused"), WAIT);
        assert!(logged.is_some(), "server log: {:?}", srv.seen());
    }
    assert!(srv.running(), "the server died");
    stop(srv);
}

/// With its address space capped a few MiB above what it uses (`prlimit --as`), the server
/// runs out of room for thread stacks after a few idle clients: the next one is refused with
/// the reason, and the first is still served.
#[test]
fn no_address_space_for_a_stack_refuses_that_client_and_keeps_the_others() {
    let dir = TestDir::new("as");
    let path = dir.join("echo.sock");
    let (srv, _) = server(&["serve", "--unix", path.to_str().unwrap()]);
    let pid = srv.id();
    let mut first = connect(&path);
    assert_eq!(
        try_echo(&mut first, "temperature: 42").unwrap(),
        "temperature: 42"
    );
    prlimit(pid, "as", (status_kb(pid, "VmSize") + 6 * 1024) * 1024);
    let mut idle = Vec::new();
    let refusal = (0..20).find_map(|_| {
        let mut client = connect(&path);
        match try_echo(&mut client, "humidity: 61%") {
            Ok(_) => {
                idle.push(client);
                None
            }
            Err(said) => Some(said),
        }
    });
    let said = refusal.expect("20 clients served within a 6 MiB margin of address space");
    assert!(
        said.contains("refused: no thread for this client") && said.contains("ulimit -v "),
        "{said}"
    );
    assert_eq!(
        try_echo(&mut first, "temperature: 43").unwrap(),
        "temperature: 43"
    );
    stop(srv);
}

/// CPU time (user + system) the process has used so far, in clock ticks.
fn cpu_ticks(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let after = &stat[stat.rfind(')').unwrap() + 2..];
    let fields: Vec<&str> = after.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of stat(5); `after` starts at field 3.
    fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap()
}

#[test]
fn max_clients_beyond_the_open_file_limit_is_refused_at_start() {
    let mut srv = Running::spawn(
        "prlimit",
        &["--nofile=64", BIN, "serve", "--max-clients", "64"],
    );
    let status = srv.wait_exit(WAIT).expect("the server started anyway");
    let stderr = srv.stderr();
    assert_eq!(status.code(), Some(1), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.starts_with("uds-demo: --max-clients 64 needs ")
            && stderr.contains("the limit is 64")
            && stderr.contains("ulimit -n"),
        "{stderr}"
    );
}

/// Out of descriptors (the limit lowered under a running server), accept() fails with EMFILE
/// for as long as clients wait: the server says so once, pauses instead of spinning, keeps
/// serving the clients it has, and accepts again when one leaves.
#[test]
fn out_of_descriptors_the_server_backs_off_logs_once_and_keeps_serving() {
    let dir = TestDir::new("nofile");
    let path = dir.join("echo.sock");
    let (mut srv, _) = server(&["serve", "--unix", path.to_str().unwrap()]);
    let pid = srv.id();
    let mut first = connect(&path);
    assert_eq!(
        try_echo(&mut first, "temperature: 42").unwrap(),
        "temperature: 42"
    );
    let open = std::fs::read_dir(format!("/proc/{pid}/fd"))
        .unwrap()
        .count() as u64;
    prlimit(pid, "nofile", open + 4);
    // More clients than fit: the kernel queues the rest in the listener's backlog.
    let idle: Vec<_> = (0..12).map(|_| connect(&path)).collect();
    std::thread::sleep(Duration::from_millis(300)); // the episode begins
    let before = cpu_ticks(pid);
    std::thread::sleep(Duration::from_secs(2));
    let spent = cpu_ticks(pid) - before;
    assert_eq!(
        try_echo(&mut first, "temperature: 43").unwrap(),
        "temperature: 43"
    );
    while srv.wait_line("", Duration::from_millis(300)).is_some() {}
    let episodes: Vec<&String> = srv
        .seen()
        .iter()
        .filter(|l| l.starts_with("accept:"))
        .collect();
    assert_eq!(episodes.len(), 1, "server log: {:#?}", srv.seen());
    assert!(
        episodes[0].contains("Too many open files") && episodes[0].contains("ulimit -n"),
        "{}",
        episodes[0]
    );
    // 2 s of wall time: a spinning accept loop burns about 200 ticks, a paused one a few.
    assert!(
        spent < 40,
        "the server used {spent} ticks of CPU in 2 s while starved"
    );
    drop(idle); // clients leave: the server accepts the rest, and new ones
    let mut late = connect(&path);
    assert_eq!(
        try_echo(&mut late, "pressure: 1013 hPa").unwrap(),
        "pressure: 1013 hPa"
    );
    assert!(
        srv.wait_line("accepting again after ", WAIT).is_some()
            || srv
                .seen()
                .iter()
                .any(|l| l.starts_with("accepting again after ")),
        "server log: {:#?}",
        srv.seen()
    );
    stop(srv);
}

/// A client that sends 64 KiB frames and never reads the echoes, until the server hangs up.
/// Returns how long after its last frame went through (the server then stopped reading, stuck
/// writing an echo nobody reads) its next write failed: how long the server waited.
fn never_reads<S: std::io::Write + Send + 'static>(mut stream: S) -> Duration {
    use std::time::Instant;
    let (done, finished) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut frame = vec![b'M'];
        frame.extend_from_slice(&65536u32.to_be_bytes());
        frame.resize(5 + 65536, b'x');
        let mut last = Instant::now();
        while stream.write_all(&frame).is_ok() {
            last = Instant::now();
        }
        let _ = done.send(last.elapsed());
    });
    finished
        .recv_timeout(Duration::from_secs(30))
        .expect("the client that never reads was not dropped within 30 s")
}

/// `--timeout-ms` bounds the whole echo, not each write(2): a client that never reads is
/// dropped about that long after the server began to wait on it (the limit was once applied
/// per call, and a partial write started it again).
#[test]
fn a_client_that_never_reads_is_dropped_after_the_frame_timeout() {
    let dir = TestDir::new("noread");
    let path = dir.join("echo.sock");
    let p = path.to_str().unwrap();
    let (mut unix, _) = server(&["serve", "--unix", p, "--timeout-ms", "2000"]);
    let (mut inet, addr) = server(&["serve", "--inet", "127.0.0.1:0", "--timeout-ms", "2000"]);
    let tcp = TcpStream::connect(addr.strip_prefix("inet:").unwrap()).unwrap();
    for (name, waited, srv) in [
        ("unix", never_reads(connect(&path)), &mut unix),
        ("inet", never_reads(tcp), &mut inet),
    ] {
        eprintln!("{name}: dropped {waited:?} after its last frame went through");
        assert!(
            waited >= Duration::from_millis(1500),
            "{name}: dropped after only {waited:?}"
        );
        assert!(
            waited < Duration::from_millis(3500),
            "{name}: dropped after {waited:?}"
        );
        let dropped = srv.wait_line("conn 1: dropped", WAIT);
        assert!(
            dropped.is_some_and(|l| l.contains("2000 ms")),
            "{name}: {:?}",
            srv.seen()
        );
    }
    stop(unix);
    stop(inet);
}
