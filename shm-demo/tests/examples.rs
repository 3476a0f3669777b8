//! Runs every example in `shm-demo/examples/` end to end, through the binaries
//! `cargo test` builds, each half of a pair in its own process.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};

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
    testkit::unique(&format!("shmex-{tag}"))
}

/// Runs an example to the end (outputs are small: pipes cannot fill).
fn run(name: &str, args: &[&str]) -> Finished {
    Finished::from(testkit::run_example(env!("CARGO_MANIFEST_DIR"), name, args))
}

/// Removes /dev/shm/NAME when the test ends, however it ends.
struct ShmCleanup(String);

impl Drop for ShmCleanup {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(format!("/dev/shm/{}", self.0));
    }
}

/// Removes a socket path when the test ends, so a failing test leaves none.
struct PathCleanup(PathBuf);

impl Drop for PathCleanup {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

fn dev_shm() -> Vec<String> {
    let entries = std::fs::read_dir("/dev/shm").expect("read /dev/shm");
    entries
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect()
}

#[test]
fn shm_write_then_read_then_unlink() {
    let bare = unique("sensor");
    let _cleanup = ShmCleanup(bare.clone());
    let name = format!("/{bare}");
    let object = format!("/dev/shm/{bare}");

    let w = run("shm_write", &[&name]);
    assert!(w.status.success(), "shm_write: {}", w.stderr);
    assert!(w.stdout.contains("wrote temperature: 42"), "{}", w.stdout);
    let pid = w
        .stdout
        .split("writer pid ")
        .nth(1)
        .unwrap()
        .split(')')
        .next()
        .unwrap();

    // The writer has exited and the object is still there, owner-only.
    let meta = std::fs::metadata(&object).expect("object persists after shm_write");
    assert_eq!(meta.permissions().mode() & 0o777, 0o600);

    // O_EXCL: a second writer does not silently reuse it.
    let again = run("shm_write", &[&name]);
    assert!(!again.status.success());
    assert!(
        again.stderr.contains("shm_open") && again.stderr.contains("EEXIST"),
        "{}",
        again.stderr
    );

    let r = run("shm_read", &[&name]);
    assert!(r.status.success(), "shm_read: {}", r.stderr);
    assert_eq!(
        r.stdout.trim(),
        format!("temperature: 42 (writer pid {pid})")
    );

    let u = run("shm_unlink", &[&name]);
    assert!(u.status.success(), "shm_unlink: {}", u.stderr);
    assert!(
        !Path::new(&object).exists(),
        "{object} still there after shm_unlink"
    );

    let gone = run("shm_read", &[&name]);
    assert!(
        gone.stderr.contains("shm_open") && gone.stderr.contains("ENOENT"),
        "{}",
        gone.stderr
    );
}

#[test]
fn shm_read_refuses_short_and_unpublished_objects() {
    for (bytes, expected) in [(2, "2 bytes, need 12"), (12, "no reading published yet")] {
        let bare = unique("short");
        let _cleanup = ShmCleanup(bare.clone());
        let object = format!("/dev/shm/{bare}");
        std::fs::write(&object, vec![0u8; bytes]).expect("create test object");
        std::fs::set_permissions(&object, std::fs::Permissions::from_mode(0o600)).unwrap();

        let r = run("shm_read", &[&format!("/{bare}")]);
        // An error message and exit code 1, not death by SIGBUS.
        assert_eq!(
            r.status.code(),
            Some(1),
            "status {:?}: {}",
            r.status,
            r.stderr
        );
        assert!(r.stderr.contains(expected), "{}", r.stderr);
    }
}

#[test]
fn shm_counter_fetch_add_loses_nothing() {
    let c = run("shm_counter", &["200000"]);
    assert!(c.status.success(), "shm_counter: {}", c.stderr);
    let line = |label: &str| {
        let found = c.stdout.lines().find(|l| l.starts_with(label));
        found
            .unwrap_or_else(|| panic!("no {label} line in:\n{}", c.stdout))
            .to_string()
    };
    // The plain version may or may not lose updates (one CPU: none lost).
    assert!(line("plain load+store").contains("expected 400000, got "));
    assert!(
        line("fetch_add").contains("expected 400000, got 400000 (0 lost)"),
        "{}",
        c.stdout
    );
}

#[test]
fn memfd_pair_passes_a_sealed_frame() {
    let sock = std::env::temp_dir().join(format!("{}.sock", unique("frame")));
    let _cleanup = PathCleanup(sock.clone());
    let sock_arg = sock.to_str().unwrap();
    let before = dev_shm();

    let receiver = Server::start(example("memfd_receive"), &[sock_arg]);
    receiver.wait_for("waiting for a frame");
    assert!(
        sock.exists(),
        "receiver is waiting but {} is missing",
        sock.display()
    );

    let sent = run("memfd_send", &[sock_arg]);
    assert!(sent.status.success(), "memfd_send: {}", sent.stderr);
    let check = sent
        .stdout
        .split("check value ")
        .nth(1)
        .expect("sender's check value")
        .trim();

    let (status, out) = receiver.finish();
    assert!(status.success(), "memfd_receive: {status:?}\n{out}");
    for seal in ["F_SEAL_SEAL", "F_SEAL_SHRINK", "F_SEAL_GROW"] {
        assert!(out.contains(seal), "no {seal} in:\n{out}");
    }
    assert!(
        out.contains(&format!("frame 320x240, check value {check}")),
        "{out}"
    );
    assert!(out.contains("ftruncate to 0 bytes: EPERM"), "{out}");
    assert!(!sock.exists(), "{} left behind", sock.display());

    // A memfd has no name. (Other tests may add their own objects meanwhile.)
    let new: Vec<String> = dev_shm()
        .into_iter()
        .filter(|n| !before.contains(n))
        .collect();
    assert!(
        new.iter().all(|n| !n.contains("frame")),
        "new in /dev/shm: {new:?}"
    );
}

#[test]
fn memfd_receive_removes_its_socket_on_ctrl_c() {
    let sock = std::env::temp_dir().join(format!("{}.sock", unique("ctrlc")));
    let _cleanup = PathCleanup(sock.clone());
    let receiver = Server::start(example("memfd_receive"), &[sock.to_str().unwrap()]);
    receiver.wait_for("waiting for a frame");
    assert!(sock.exists());

    let pid = receiver.child.as_ref().unwrap().id();
    kill(Pid::from_raw(pid as i32), Signal::SIGINT).expect("kill -INT");
    let (status, _) = receiver.finish();
    assert_eq!(status.signal(), Some(Signal::SIGINT as i32), "{status:?}");
    assert!(
        !sock.exists(),
        "{} left behind after SIGINT",
        sock.display()
    );
}

#[test]
fn memfd_send_without_receiver_names_connect() {
    let sock = std::env::temp_dir().join(format!("{}.sock", unique("nobody")));
    let sent = run("memfd_send", &[sock.to_str().unwrap()]);
    assert!(!sent.status.success());
    assert!(sent.stderr.contains("connect"), "{}", sent.stderr);
}

// Fed by the test: input drawn per run, so an example that prints a constant (the 42 of
// shm_write, the fixed frame of memfd_send, a count it did not make) fails.

#[test]
fn shm_read_prints_the_reading_the_object_holds_now() {
    use std::os::unix::fs::FileExt;
    let mut rng = rand::rng();
    let bare = unique("fed");
    let _cleanup = ShmCleanup(bare.clone());
    let name = format!("/{bare}");
    let object = format!("/dev/shm/{bare}");

    let w = run("shm_write", &[&name]);
    assert!(w.status.success(), "shm_write: {}", w.stderr);
    let field = |bytes: &[u8], at: usize| u32::from_le_bytes(bytes[at..at + 4].try_into().unwrap());
    // What shm_write says it wrote is what the object holds: temp, writer_pid, ready.
    let bytes = std::fs::read(&object).expect("read the object");
    let (temp, pid) = (field(&bytes, 0) as i32, field(&bytes, 4));
    assert_eq!(field(&bytes, 8), 1, "ready flag");
    assert_eq!(
        w.stdout,
        format!("wrote temperature: {temp} (writer pid {pid}) to {name}\n")
    );

    // Another process (this test) changes the reading in place; shm_read follows it.
    let file = std::fs::OpenOptions::new()
        .write(true)
        .open(&object)
        .unwrap();
    for _ in 0..3 {
        let temp: i32 = rng.random();
        let pid: u32 = rng.random();
        let mut reading = temp.to_le_bytes().to_vec();
        reading.extend_from_slice(&pid.to_le_bytes());
        file.write_all_at(&reading, 0).expect("write the object");
        let r = run("shm_read", &[&name]);
        assert!(r.status.success(), "shm_read: {}", r.stderr);
        assert_eq!(
            r.stdout,
            format!("temperature: {temp} (writer pid {pid})\n")
        );
    }
}

#[test]
fn shm_counter_adds_as_many_as_it_is_asked() {
    let adds: u64 = rand::rng().random_range(1..=50_000);
    let c = run("shm_counter", &[&adds.to_string()]);
    assert!(c.status.success(), "shm_counter {adds}: {}", c.stderr);
    let lines: Vec<&str> = c.stdout.lines().collect();
    assert_eq!(lines.len(), 2, "{}", c.stdout);
    let expected = 2 * adds;
    let plain = lines[0]
        .strip_prefix(&format!("plain load+store  expected {expected}, got "))
        .and_then(|rest| rest.split_once(" ("))
        .and_then(|(got, lost)| Some((got.parse::<u64>().ok()?, lost)))
        .unwrap_or_else(|| panic!("ADDS {adds}: {}", c.stdout));
    assert!(plain.0 <= expected, "{}", c.stdout);
    assert_eq!(plain.1, format!("{} lost)", expected - plain.0));
    assert_eq!(
        lines[1],
        format!("fetch_add         expected {expected}, got {expected} (0 lost)")
    );
}

#[test]
fn memfd_receive_prints_the_frame_the_test_sent() {
    use nix::fcntl::{FcntlArg, SealFlag, fcntl};
    use nix::sys::memfd::{MFdFlags, memfd_create};
    use nix::sys::socket::{ControlMessage, MsgFlags, sendmsg};
    use std::io::{IoSlice, Write};
    use std::os::fd::AsRawFd;

    let mut rng = rand::rng();
    let (width, height): (u32, u32) = (rng.random_range(1..=64), rng.random_range(1..=64));
    let mut pixels = vec![0u8; (width * height * 4) as usize];
    rng.fill(&mut pixels[..]);
    let check = pixels
        .iter()
        .fold(0u32, |s, &b| s.wrapping_mul(31) ^ u32::from(b));

    let sock = std::env::temp_dir().join(format!("{}.sock", unique("fedframe")));
    let _cleanup = PathCleanup(sock.clone());
    let receiver = Server::start(example("memfd_receive"), &[sock.to_str().unwrap()]);
    receiver.wait_for("waiting for a frame");

    let memfd = memfd_create("fed", MFdFlags::MFD_CLOEXEC | MFdFlags::MFD_ALLOW_SEALING).unwrap();
    let mut frame = std::fs::File::from(memfd);
    frame.write_all(&pixels).expect("write frame");
    let seals = SealFlag::F_SEAL_SHRINK | SealFlag::F_SEAL_GROW | SealFlag::F_SEAL_SEAL;
    fcntl(&frame, FcntlArg::F_ADD_SEALS(seals)).expect("F_ADD_SEALS");
    let stream = std::os::unix::net::UnixStream::connect(&sock).expect("connect");
    let header = [width.to_le_bytes(), height.to_le_bytes()].concat();
    let fds = [frame.as_raw_fd()];
    let cmsgs = [ControlMessage::ScmRights(&fds)];
    let iov = [IoSlice::new(&header)];
    sendmsg::<()>(stream.as_raw_fd(), &iov, &cmsgs, MsgFlags::empty(), None).expect("sendmsg");

    let (status, out) = receiver.finish();
    assert!(status.success(), "memfd_receive: {status:?}\n{out}");
    assert!(
        out.contains(&format!(
            "frame {width}x{height}, check value {check:#010x}"
        )),
        "sent {width}x{height}, check value {check:#010x}:\n{out}"
    );
}
