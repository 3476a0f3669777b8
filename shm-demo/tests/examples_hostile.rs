//! The examples in shm-demo/examples against what a reader's real program meets: a closed or
//! full stdout, inherited signal state, a parent killed mid-way, an object shrunk or swapped
//! for a FIFO under the reader, a hostile frame sender. Each must end with an error or quietly
//! (SIGPIPE), never with a panic, SIGBUS or a hang, and leave nothing behind. Run as the
//! binaries cargo built, as tests/examples.rs does; every wait is bounded.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::fs::File;
use std::io::IoSlice;
use std::os::fd::AsRawFd;
use std::os::unix::fs::FileExt;
use std::os::unix::net::UnixStream;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use nix::fcntl::{FcntlArg, SealFlag, fcntl};
use nix::sys::memfd::{MFdFlags, memfd_create};
use nix::sys::signal::{Signal, kill};
use nix::sys::socket::{ControlMessage, MsgFlags, sendmsg};
use nix::sys::stat::Mode;
use nix::unistd::Pid;
use testkit::Server;
use testkit::hostile::{
    ENDINGS, Stdout, assert_ends_cleanly, bounded, ready_for_ending, run_to_end,
};

fn example(name: &str) -> PathBuf {
    testkit::example(env!("CARGO_MANIFEST_DIR"), name)
}

fn unique(tag: &str) -> String {
    testkit::unique(&format!("shmhostile-{tag}"))
}

/// Removes /dev/shm/NAME and a socket path when the test ends, however it ends.
struct Cleanup(Vec<PathBuf>);

impl Drop for Cleanup {
    fn drop(&mut self) {
        for path in &self.0 {
            let _ = std::fs::remove_file(path);
        }
    }
}

fn socket_path(tag: &str) -> PathBuf {
    std::env::temp_dir().join(format!("{}.sock", unique(tag)))
}

#[test]
fn every_printing_example_ends_cleanly_on_a_closed_or_full_stdout() {
    for stdout in [Stdout::Full, Stdout::Closed] {
        let bare = unique("stdout");
        let name = format!("/{bare}");
        let _cleanup = Cleanup(vec![PathBuf::from(format!("/dev/shm/{bare}"))]);
        for (example_name, args) in [
            ("shm_write", vec![name.as_str()]),
            ("shm_read", vec![name.as_str()]),
            ("shm_unlink", vec![name.as_str()]),
            ("shm_counter", vec!["1000"]),
        ] {
            let what = format!("{example_name}, stdout {stdout:?}");
            assert_ends_cleanly(
                Command::new(example(example_name)).args(&args),
                stdout,
                &what,
            );
        }
        // The object was made, and removed, whatever the prints did.
        assert!(
            !Path::new(&format!("/dev/shm/{bare}")).exists(),
            "{bare} left"
        );
    }
}

#[test]
fn memfd_pair_ends_cleanly_on_a_closed_or_full_stdout() {
    for stdout in [Stdout::Full, Stdout::Closed] {
        // The receiver cannot even say it is waiting: an error, and no socket left behind.
        let sock = socket_path("rxout");
        let _cleanup = Cleanup(vec![sock.clone()]);
        let what = format!("memfd_receive, stdout {stdout:?}");
        assert_ends_cleanly(
            Command::new(example("memfd_receive")).arg(&sock),
            stdout,
            &what,
        );
        assert!(!sock.exists(), "{what}: {} left behind", sock.display());

        // The sender's frame goes through; only its own line fails.
        let receiver = Server::start(example("memfd_receive"), &[sock.to_str().unwrap()]);
        receiver.wait_for("waiting for a frame");
        let what = format!("memfd_send, stdout {stdout:?}");
        assert_ends_cleanly(
            Command::new(example("memfd_send")).arg(&sock),
            stdout,
            &what,
        );
        let (status, rest) = receiver.finish();
        assert!(status.success(), "memfd_receive: {status:?}\n{rest}");
        assert!(rest.contains("frame 320x240, check value"), "{rest}");
    }
}

#[test]
fn shm_counter_waits_for_its_child_even_when_started_with_sigchld_ignored() {
    let mut command = Command::new(example("shm_counter"));
    testkit::start_carelessly(command.arg("1000").stdout(Stdio::piped()));
    let (out, stderr) = run_to_end(&mut command, testkit::LIMIT, "shm_counter, SIGCHLD ignored");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{:?}: {stderr}", out.status);
    assert!(
        stdout.contains("expected 2000, got 2000 (0 lost)"),
        "{stdout}"
    );
}

/// The pids whose parent is `parent` (field 4 of /proc/PID/stat), and are not zombies.
fn live_children(parent: u32) -> Vec<i32> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        let Some(after) = stat.rfind(')').map(|i| &stat[i + 2..]) else {
            continue;
        };
        let fields: Vec<&str> = after.split_whitespace().collect();
        if fields.get(1) == Some(&parent.to_string().as_str()) && fields[0] != "Z" {
            found.push(pid);
        }
    }
    found
}

/// Whether `pid` still runs (a zombie counts as gone).
fn running(pid: i32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
        stat.rfind(')')
            .is_some_and(|i| !stat[i + 2..].starts_with('Z'))
    })
}

#[test]
fn a_killed_shm_counter_parent_takes_its_child_along() {
    // 10^12 additions: the pair would spin for hours.
    let mut parent = Command::new(example("shm_counter"))
        .arg("1000000000000")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let ppid = parent.id();
    let deadline = Instant::now() + Duration::from_secs(10);
    let child = loop {
        if let Some(&child) = live_children(ppid).first() {
            break child;
        }
        assert!(Instant::now() < deadline, "shm_counter forked no child");
        std::thread::sleep(Duration::from_millis(20));
    };
    parent.kill().unwrap();
    parent.wait().unwrap();

    let deadline = Instant::now() + Duration::from_secs(5);
    while running(child) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    let orphan = running(child);
    if orphan {
        let _ = kill(Pid::from_raw(child), Signal::SIGKILL); // do not leave it spinning
    }
    assert!(
        !orphan,
        "child {child} still running 5 s after its parent was killed"
    );
}

/// A valid sensor_reading (temperature 42, ready) in /dev/shm/NAME, made by shm_write.
fn write_reading(name: &str) {
    let mut command = Command::new(example("shm_write"));
    let (out, stderr) = run_to_end(
        command.arg(name).stdout(Stdio::null()),
        testkit::LIMIT,
        "shm_write",
    );
    assert!(out.status.success(), "shm_write: {stderr}");
}

#[test]
fn shm_read_never_dies_of_sigbus_when_the_object_shrinks_under_it() {
    let bare = unique("shrink");
    let name = format!("/{bare}");
    let object = format!("/dev/shm/{bare}");
    let _cleanup = Cleanup(vec![PathBuf::from(&object)]);
    write_reading(&name);
    let valid = std::fs::read(&object).unwrap();
    let file = File::options()
        .read(true)
        .write(true)
        .open(&object)
        .unwrap();

    // The hostile program (this test): shrink the object to nothing and give it back, again
    // and again, so that some reads land between shm_read's size check and its loads.
    let stop = Arc::new(AtomicBool::new(false));
    let truncator = {
        let stop = Arc::clone(&stop);
        std::thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                file.set_len(0).unwrap();
                std::thread::sleep(Duration::from_micros(50));
                file.set_len(valid.len() as u64).unwrap();
                file.write_all_at(&valid, 0).unwrap();
                std::thread::sleep(Duration::from_micros(50));
            }
        })
    };
    let deadline = Instant::now() + Duration::from_secs(8);
    let (mut runs, mut failure) = (0, None);
    while runs < 300 && Instant::now() < deadline && failure.is_none() {
        runs += 1;
        let mut command = Command::new(example("shm_read"));
        let (out, stderr) = run_to_end(
            command.arg(&name).stdout(Stdio::piped()),
            testkit::LIMIT,
            "shm_read",
        );
        let known = [
            "shrank while we read it",
            "bytes, need",
            "no reading published",
        ];
        let fine = out.status.success()
            || (out.status.code() == Some(1) && known.iter().any(|k| stderr.contains(k)));
        if !fine {
            failure = Some(format!("run {runs}: {:?}: {stderr}", out.status));
        }
    }
    stop.store(true, Ordering::Relaxed);
    truncator.join().unwrap();
    assert_eq!(failure, None, "after {runs} runs");
}

#[test]
fn shm_read_refuses_a_fifo_in_place_of_the_object_instead_of_blocking() {
    let bare = unique("fifo");
    let object = format!("/dev/shm/{bare}");
    let _cleanup = Cleanup(vec![PathBuf::from(&object)]);
    nix::unistd::mkfifo(object.as_str(), Mode::from_bits_truncate(0o666)).unwrap();
    std::fs::set_permissions(&object, std::os::unix::fs::PermissionsExt::from_mode(0o666)).unwrap();
    let name = format!("/{bare}");
    let check = |command: &mut Command, who: &str| {
        let what = format!("shm_read of a FIFO, as {who}");
        let (out, stderr) = run_to_end(
            command.stdout(Stdio::piped()),
            Duration::from_secs(5),
            &what,
        );
        assert_eq!(
            out.status.code(),
            Some(1),
            "{what}: {:?}: {stderr}",
            out.status
        );
        assert!(stderr.contains("not a regular file"), "{what}: {stderr}");
    };
    check(Command::new(example("shm_read")).arg(&name), "root");
    if testkit::have_setpriv() {
        let copy = testkit::NobodyCopy::of(example("shm_read").to_str().unwrap());
        check(copy.command().arg(&name), "nobody");
    }
}

/// Sends `header` and the descriptor of `frame` to the receiver at `sock`, as memfd_send does.
fn send_frame(sock: &Path, header: [u32; 2], frame: &File) {
    let stream = UnixStream::connect(sock).unwrap();
    let bytes = [header[0].to_le_bytes(), header[1].to_le_bytes()].concat();
    let fds = [frame.as_raw_fd()];
    let cmsgs = [ControlMessage::ScmRights(&fds)];
    let iov = [IoSlice::new(&bytes)];
    sendmsg::<()>(stream.as_raw_fd(), &iov, &cmsgs, MsgFlags::empty(), None).unwrap();
}

/// A memfd of `len` bytes, never written (sparse), sealed against shrinking and growing.
fn sealed_memfd(len: u64) -> File {
    let flags = MFdFlags::MFD_CLOEXEC | MFdFlags::MFD_ALLOW_SEALING;
    let frame = File::from(memfd_create("hostile", flags).unwrap());
    frame.set_len(len).unwrap();
    let seals = SealFlag::F_SEAL_SHRINK | SealFlag::F_SEAL_GROW | SealFlag::F_SEAL_SEAL;
    fcntl(&frame, FcntlArg::F_ADD_SEALS(seals)).unwrap();
    frame
}

/// memfd_receive at a fresh socket, its memory and CPU bounded; ready for a sender.
fn start_receiver(sock: &Path) -> Child {
    let mut command = Command::new(example("memfd_receive"));
    bounded(&mut command, 512 << 20, 10);
    let mut child = command
        .arg(sock)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + testkit::LIMIT;
    while !sock.exists() {
        if Instant::now() > deadline || child.try_wait().unwrap().is_some() {
            let _ = child.kill();
            panic!("memfd_receive never bound {}", sock.display());
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    child
}

#[test]
fn memfd_receive_refuses_a_frame_size_the_sender_made_up() {
    // (width, height, memfd size): a sealed sparse 1 GiB frame that says so (it used to be
    // mapped and read whole: 628 MB of memory), and a header whose size wraps to 0 bytes.
    for (width, height, len) in [(16384, 16384, 1u64 << 30), (1 << 31, 1 << 31, 0)] {
        let sock = socket_path("bigframe");
        let _cleanup = Cleanup(vec![sock.clone()]);
        let receiver = start_receiver(&sock);
        send_frame(&sock, [width, height], &sealed_memfd(len));
        let what = format!("memfd_receive of a {width}x{height} frame");
        let out = testkit::output_within(receiver, testkit::LIMIT, &what);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(
            out.status.code(),
            Some(1),
            "{what}: {:?}: {stderr}",
            out.status
        );
        assert!(stderr.contains("over 64 MiB"), "{what}: {stderr}");
        assert!(!sock.exists(), "{what}: socket left behind");
    }
}

#[test]
fn memfd_receive_gives_up_on_a_silent_or_vanished_sender() {
    // One connects and says nothing; one connects and dies (closes) before sending.
    for silent in [true, false] {
        let sock = socket_path("silent");
        let _cleanup = Cleanup(vec![sock.clone()]);
        let receiver = start_receiver(&sock);
        let stream = UnixStream::connect(&sock).unwrap();
        let _held = silent.then_some(stream); // the vanished one is closed here
        let what = format!("memfd_receive, sender silent: {silent}");
        let out = testkit::output_within(receiver, Duration::from_secs(15), &what);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(
            out.status.code(),
            Some(1),
            "{what}: {:?}: {stderr}",
            out.status
        );
        assert!(!sock.exists(), "{what}: socket left behind");
    }
}

#[test]
fn memfd_receive_removes_its_socket_on_sighup_sigquit_and_when_started_with_signals_blocked() {
    for (signal, blocked) in ENDINGS {
        let sock = socket_path("signal");
        let _cleanup = Cleanup(vec![sock.clone()]);
        let mut command = Command::new(example("memfd_receive"));
        let mut child = ready_for_ending(&mut command, blocked)
            .arg(&sock)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut lines =
            std::io::BufRead::lines(std::io::BufReader::new(child.stdout.take().unwrap()));
        let first = lines.next().unwrap().unwrap();
        assert!(first.contains("waiting for a frame"), "{first}");
        kill(testkit::pid(&child), signal).unwrap();
        let what = format!("memfd_receive, {signal} (blocked at start: {blocked})");
        let status = testkit::exit_within(&mut child, Duration::from_secs(5), &what);
        assert_eq!(status.signal(), Some(signal as i32), "{what}: {status:?}");
        assert!(!sock.exists(), "{what}: {} left behind", sock.display());
    }
}

#[test]
fn memfd_receive_says_how_to_clear_a_socket_a_killed_run_left() {
    let sock = socket_path("stale");
    let _cleanup = Cleanup(vec![sock.clone()]);
    drop(std::os::unix::net::UnixListener::bind(&sock).unwrap()); // as kill -9 leaves it
    let mut command = Command::new(example("memfd_receive"));
    let (out, stderr) = run_to_end(
        command.arg(&sock).stdout(Stdio::null()),
        testkit::LIMIT,
        "memfd_receive",
    );
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("rm it"), "{stderr}");
}
