//! The steps that show why shared memory exists and how a frame is handed over without a
//! name: isolation (fork copies, MAP_SHARED does not), zero copies (a pipe against shared
//! memory, counted in /proc/PID/io), and the sealed memfd handoff, each run as a user runs it.
#![allow(clippy::unwrap_used)]

use std::process::{Command, Output};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_shm-demo");

fn run(args: &[&str]) -> Output {
    Command::new(BIN).args(args).output().expect("run shm-demo")
}

/// Stdout of a run that must have succeeded.
fn stdout_ok(out: &Output, what: &str) -> String {
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{what}: {}\n{text}{err}", out.status);
    text
}

/// The line containing `needle`, or a failure that shows the whole output.
fn line<'a>(text: &'a str, needle: &str) -> &'a str {
    text.lines()
        .find(|l| l.contains(needle))
        .unwrap_or_else(|| panic!("no line with {needle:?} in:\n{text}"))
}

/// Every line at most 80 characters (not bytes), naming the first that is longer.
fn assert_80_columns(text: &str, what: &str) {
    for l in text.lines() {
        let n = l.chars().count();
        assert!(n <= 80, "{what}: a line of {n} characters: {l:?}");
    }
}

/// Step 1's readings: the parent's own (in its header line), the child's as the child
/// printed it three times, and what the parent then read in each of the three places.
fn isolation_readings(text: &str) -> (i32, i32, [i32; 3]) {
    let number = |s: &str| -> i32 {
        let digits: String = s.chars().take_while(|c| c.is_ascii_digit()).collect();
        digits
            .parse()
            .unwrap_or_else(|_| panic!("a number at {s:?}"))
    };
    let parent = number(
        line(text, "sensor_reading = ")
            .split("sensor_reading = ")
            .nth(1)
            .unwrap(),
    );
    let child_line = line(text, "child pid");
    let said: Vec<i32> = child_line
        .split(": ")
        .nth(1)
        .unwrap()
        .split(|c: char| !c.is_ascii_digit())
        .filter(|s| !s.is_empty())
        .map(|s| s.parse().unwrap())
        .collect();
    assert_eq!(said.len(), 3, "{child_line:?}");
    assert!(
        said.iter().all(|&v| v == said[0]),
        "the child did not read its own writes back: {child_line:?}"
    );
    let read = |place: &str| number(line(text, place).split(": ").nth(2).unwrap());
    let places = [
        "ordinary variable",
        "MAP_PRIVATE mapping",
        "MAP_SHARED mapping",
    ];
    (parent, said[0], places.map(read))
}

#[test]
fn isolation_only_map_shared_crosses_the_fork() {
    let text = stdout_ok(&run(&["isolation"]), "shm-demo isolation");
    println!("{text}");
    assert!(text.starts_with("\n1. isolation"), "{text}");
    let (parent, child, [variable, private, shared]) = isolation_readings(&text);
    assert_ne!(parent, child, "{text}");
    assert!(
        line(&text, "the child writes ").contains(&format!("writes {child} into each")),
        "{text}"
    );
    // The parent's own value in its copies, the child's through the one shared page.
    assert_eq!([variable, private], [parent, parent], "{text}");
    assert_eq!(shared, child, "{text}");
    let tag = |place: &str| line(&text, place).rsplit(" (").next().unwrap().to_string();
    assert_eq!(tag("ordinary variable"), "copy-on-write)", "{text}");
    assert_eq!(tag("MAP_PRIVATE mapping"), "copy-on-write)", "{text}");
    assert_eq!(tag("MAP_SHARED mapping"), "one page)", "{text}");
    assert!(
        line(&text, "reached the parent").ends_with("in 1 of 3: MAP_SHARED mapping"),
        "{text}"
    );
    assert_80_columns(&text, "shm-demo isolation");
}

/// The row of the zero-copy table that starts with `label`: (sent, received, wchar, rchar).
fn zero_copy_row(text: &str, label: &str) -> (String, String, u64, u64) {
    let row = line(text, &format!("   {label}  "));
    let fields: Vec<&str> = row.split_whitespace().collect();
    let n = fields.len();
    assert!(n >= 8, "row {row:?}");
    let number = |s: &str| {
        s.parse::<u64>()
            .unwrap_or_else(|_| panic!("{s:?} in {row:?}"))
    };
    (
        fields[n - 4].to_string(),
        fields[n - 3].to_string(),
        number(fields[n - 2]),
        number(fields[n - 1]),
    )
}

#[test]
fn zero_copy_pipe_moves_the_frame_twice_and_shared_memory_not_at_all() {
    let text = stdout_ok(&run(&["zero-copy"]), "shm-demo zero-copy");
    println!("{text}");
    assert!(text.starts_with("\n2. zero copies"), "{text}");
    const MIB: u64 = 1 << 20;
    let (sent, received, wchar, rchar) = zero_copy_row(&text, "pipe");
    assert!(sent.starts_with("0x") && sent == received, "pipe: {text}");
    // The 8 MiB frame, written once and read once: about 16 MiB (nothing else is read or
    // written by the two meanwhile, so in practice exactly).
    assert!(
        (8 * MIB..8 * MIB + 4096).contains(&wchar),
        "pipe wchar: {text}"
    );
    assert!(
        (8 * MIB..8 * MIB + 4096).contains(&rchar),
        "pipe rchar: {text}"
    );
    let (sent_shm, received_shm, wchar, rchar) = zero_copy_row(&text, "shared memory");
    assert!(
        sent_shm.starts_with("0x") && sent_shm == received_shm,
        "shm: {text}"
    );
    assert_ne!(
        sent, sent_shm,
        "the two frames were the same: not drawn per run"
    );
    assert!(
        wchar + rchar < 4096,
        "shared memory moved bytes by syscalls: {text}"
    );
    assert!(line(&text, "through read()/write()").contains("the pipe 16.0 MiB"));
    assert_80_columns(&text, "shm-demo zero-copy");
}

/// A fresh, empty directory to give the binary as its TMPDIR, so what it leaves there shows;
/// removed with what it holds when the test ends, passed or failed.
struct TestDir(std::path::PathBuf);

impl TestDir {
    fn new(tag: &str) -> TestDir {
        let random: u32 = rand::random();
        let name = format!("shm-steps-test-{}-{tag}-{random:08x}", std::process::id());
        let dir = std::env::temp_dir().join(name);
        std::fs::create_dir(&dir).unwrap();
        TestDir(dir)
    }

    /// What the binary left in the directory.
    fn left(&self) -> Vec<String> {
        std::fs::read_dir(&self.0)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect()
    }
}

impl Drop for TestDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

impl std::ops::Deref for TestDir {
    type Target = std::path::Path;
    fn deref(&self) -> &std::path::Path {
        &self.0
    }
}

/// Entries of /dev/shm that name a memfd frame or one of `pids`: what our roles could leave.
fn dev_shm_ours(pids: &[u32]) -> Vec<String> {
    std::fs::read_dir("/dev/shm")
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains("frame") || pids.iter().any(|p| n.contains(&p.to_string())))
        .collect()
}

/// The check value ("0x...") that follows `check value ` in `line`.
fn check_value_in(line: &str) -> &str {
    let at = line
        .find("check value ")
        .unwrap_or_else(|| panic!("{line:?}"));
    &line[at + 12..at + 22]
}

#[test]
fn memfd_handoff_has_no_name_keeps_its_seals_and_refuses_writes() {
    let tmp = TestDir::new("memfd");
    let out = Command::new(BIN)
        .arg("memfd")
        .env("TMPDIR", &*tmp)
        .output()
        .unwrap();
    let text = stdout_ok(&out, "shm-demo memfd");
    println!("{text}");
    assert!(text.starts_with("\n7. memfd handoff"), "{text}");
    // Nothing named: a deleted memfd in /proc, no link, no entry in /dev/shm.
    assert!(
        line(&text, "receiver: got fd").ends_with(" -> /memfd:frame (deleted)"),
        "{text}"
    );
    let links = line(&text, "fstat: ");
    assert!(links.contains("fstat: 0 links; 0 of "), "{text}");
    // The size seals, checked before mapping, and the frame as drawn.
    assert!(
        line(&text, "seals (F_GET_SEALS)").contains(": SEAL|SHRINK|GROW; "),
        "{text}"
    );
    let sent = check_value_in(line(&text, "sender: drew frame 1"));
    let got = line(&text, "mapped it read-only: frame 1,");
    assert_eq!(check_value_in(got), sent, "{text}");
    assert!(
        line(&text, "ftruncate(fd, 0) fails: ").contains("EPERM"),
        "{text}"
    );
    // A write after the handoff, seen in place, with no message.
    let drawn = check_value_in(line(&text, "sender: drew frame 2 in place"));
    assert_eq!(
        check_value_in(line(&text, "now shows frame 2")),
        drawn,
        "{text}"
    );
    assert!(
        line(&text, "no message came").contains(": 0 bytes waiting"),
        "{text}"
    );
    // The write seal: no writable mapping, a read-only one works.
    assert!(
        line(&text, "frame 3 came in another memfd").ends_with("seals: SEAL|SHRINK|GROW|WRITE"),
        "{text}"
    );
    assert!(
        line(&text, "mmap(PROT_READ|PROT_WRITE, MAP_SHARED) fails: EPERM").starts_with("   "),
        "{text}"
    );
    let third = check_value_in(line(&text, "read-only mmap works: frame 3"));
    assert!(
        line(&text, "read-only mmap works").ends_with("(as sent)"),
        "{text}"
    );
    assert!(third.starts_with("0x"), "{text}");
    // kill -9 the sender: the receiver still reads frame 2, and nothing is left.
    let gone = text
        .lines()
        .skip_while(|l| !l.contains("still shows frame 2,"))
        .nth(1)
        .unwrap_or_else(|| panic!("no frame 2 after the kill:\n{text}"));
    assert_eq!(check_value_in(gone), drawn, "{text}");
    assert!(line(&text, "the sender died of SIGKILL").contains("status 0"));
    assert!(line(&text, "left behind: ").contains(" 0 \"frame\" entries"));
    assert!(
        line(&text, "no name, so nothing").contains("gone"),
        "{text}"
    );
    assert_eq!(tmp.left(), Vec::<String>::new(), "left in TMPDIR");
    assert_80_columns(&text, "shm-demo memfd");
}

/// A role run by hand, its stdout lines arriving through a channel.
struct Role {
    child: std::process::Child,
    lines: std::sync::mpsc::Receiver<String>,
    seen: String,
}

impl Role {
    fn start(args: &[&str], tmpdir: &std::path::Path) -> Role {
        let mut child = Command::new(BIN)
            .args(args)
            .env("TMPDIR", tmpdir)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, lines) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            use std::io::BufRead;
            for line in std::io::BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Role {
            child,
            lines,
            seen: String::new(),
        }
    }

    /// Waits (at most 10 s) for a line containing `needle` and returns it.
    fn line_with(&mut self, needle: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    self.seen.push_str(&line);
                    self.seen.push('\n');
                    if line.contains(needle) {
                        return line;
                    }
                }
                Err(_) => {
                    self.child.kill().ok();
                    panic!("no line with {needle:?} within 10 s; saw:\n{}", self.seen);
                }
            }
        }
    }

    /// Waits at most `limit` for the role to exit; returns its status and its stderr.
    fn exit_within(&mut self, limit: Duration) -> (std::process::ExitStatus, String) {
        let Some(status) = testkit::wait_within(&mut self.child, limit) else {
            self.child.kill().ok();
            self.child.wait().ok();
            panic!(
                "still running {limit:?} after its peer died; saw:\n{}",
                self.seen
            );
        };
        let mut err = String::new();
        std::io::Read::read_to_string(self.child.stderr.as_mut().unwrap(), &mut err).unwrap();
        (status, err)
    }

    fn sigkill(&mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }
}

impl Drop for Role {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A receiver, and a sender connected to it (with `--hold`), both run by hand.
fn start_pair(tmp: &std::path::Path) -> (Role, Role) {
    let mut receiver = Role::start(&["memfd-receive"], tmp);
    receiver.line_with("listening on a Unix socket");
    let shown = receiver.line_with("/sock");
    let path = shown.trim().replace("$TMPDIR", &tmp.to_string_lossy());
    let sender = Role::start(&["memfd-send", &path, "--hold"], tmp);
    (receiver, sender)
}

/// When to kill: after this line of the receiver, or of the sender.
enum After {
    Receiver(&'static str),
    Sender(&'static str),
}

/// Runs a receiver and a sender, SIGKILLs one after the line `when`, and checks that the
/// other exits within 3 s with one of the `expected` (status, text in its output), leaving
/// nothing behind.
fn kill_one(kill_sender: bool, when: After, expected: &[(i32, &str)]) {
    let tmp = TestDir::new("kill");
    let (mut receiver, mut sender) = start_pair(&tmp);
    let pids = [receiver.child.id(), sender.child.id()];
    let when = match when {
        After::Receiver(line) => receiver.line_with(line),
        After::Sender(line) => sender.line_with(line),
    };
    let what = format!(
        "{} killed at {when:?}",
        if kill_sender { "sender" } else { "receiver" }
    );
    let (survivor, victim) = if kill_sender {
        (&mut receiver, &mut sender)
    } else {
        (&mut sender, &mut receiver)
    };
    victim.sigkill();
    let (status, err) = survivor.exit_within(Duration::from_secs(3));
    // What the survivor printed after the kill, on stdout and stderr.
    while let Ok(line) = survivor.lines.recv_timeout(Duration::from_millis(200)) {
        survivor.seen.push_str(&line);
        survivor.seen.push('\n');
    }
    let said = format!("{}{err}", survivor.seen);
    let matched = expected
        .iter()
        .any(|&(code, text)| status.code() == Some(code) && said.contains(text));
    assert!(
        matched,
        "{what}: {status}, not one of {expected:?}:\n{said}"
    );
    assert!(!said.contains("panicked"), "{what}: {said}");
    assert_eq!(tmp.left(), Vec::<String>::new(), "{what}: left in TMPDIR");
    assert_eq!(
        dev_shm_ours(&pids),
        Vec::<String>::new(),
        "{what}: /dev/shm"
    );
}

#[test]
fn sender_killed_while_holding_the_receiver_keeps_the_frame_and_exits() {
    kill_one(
        true,
        After::Sender("sender: holding the connection"),
        &[(0, "is gone; our mapping still shows frame 2,")],
    );
}

#[test]
fn sender_killed_before_its_second_frame_the_receiver_says_so_and_exits() {
    // The sender is stopped once it has sent frame 1 (it then waits for the receiver), so it
    // never draws frame 2; killed while the receiver waits for that frame in its mapping.
    kill_stopped(
        true,
        "receiver: got fd",
        After::Receiver("watches our mapping for its next frame"),
        "hung up before drawing frame 2: it died",
    );
}

#[test]
fn receiver_killed_mid_handoff_the_sender_says_so_and_exits() {
    // Killed while the sender waits for it; on a loaded machine the test may read the line
    // late, after the two have finished and the sender holds the connection.
    kill_one(
        false,
        After::Receiver("mapped it read-only"),
        &[(1, "it died"), (0, "hung up; exiting")],
    );
}

/// Waits (at most 2 s) until `pid` sleeps in poll(), as /proc/PID/wchan shows: the receiver
/// has sent its reply and waits. Where the kernel hides wchan, the test goes on regardless.
fn sleeping_in_poll(pid: u32) {
    let deadline = Instant::now() + Duration::from_secs(2);
    while Instant::now() < deadline {
        let wchan = std::fs::read_to_string(format!("/proc/{pid}/wchan")).unwrap_or_default();
        if wchan.contains("poll") {
            return;
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    eprintln!("pid {pid} was not seen in poll() (wchan hidden?); killing anyway");
}

/// Like [`kill_one`], but the victim is first stopped (SIGSTOP) after the receiver's line
/// `stop_at`, so the survivor is at a known point when the victim dies after `when`.
fn kill_stopped(kill_sender: bool, stop_at: &str, when: After, expected: &str) {
    use nix::sys::signal::{Signal, kill};
    use nix::unistd::Pid;
    let tmp = TestDir::new("stop");
    let (mut receiver, mut sender) = start_pair(&tmp);
    let pids = [receiver.child.id(), sender.child.id()];
    let victim_pid = pids[usize::from(kill_sender)];
    receiver.line_with(stop_at);
    kill(Pid::from_raw(victim_pid as i32), Signal::SIGSTOP).unwrap();
    match when {
        After::Receiver(line) if line != stop_at => drop(receiver.line_with(line)),
        After::Sender(line) => drop(sender.line_with(line)),
        After::Receiver(_) => {}
    }
    if kill_sender {
        sleeping_in_poll(pids[0]);
    }
    let (survivor, victim) = if kill_sender {
        (&mut receiver, &mut sender)
    } else {
        (&mut sender, &mut receiver)
    };
    victim.sigkill(); // SIGKILL ends a stopped process too
    let (status, err) = survivor.exit_within(Duration::from_secs(3));
    let what = format!("killed after {stop_at:?}");
    while let Ok(line) = survivor.lines.recv_timeout(Duration::from_millis(200)) {
        survivor.seen.push_str(&line);
        survivor.seen.push('\n');
    }
    let said = format!("{}{err}", survivor.seen);
    // SIGSTOP lands a little after the line was read: on a loaded machine the victim may
    // have gone a stage or more further first, and the survivor then notices elsewhere.
    if survivor.seen.contains("now shows frame 2") {
        eprintln!("{what}: the stop landed late; the survivor said {err:?}");
        let noticed = err.contains("it died") || survivor.seen.contains("is gone");
        assert!(
            noticed && status.code().is_some(),
            "{what}: {status}: {said}"
        );
    } else {
        assert_eq!(status.code(), Some(1), "{what}: {said}");
        if !err.contains(expected) {
            // The line comes just before the receiver's reply: a kill that beats the reply
            // is noticed by the write instead.
            assert!(
                err.contains("hung up: it died"),
                "{what}: no {expected:?} in {err:?}"
            );
            eprintln!("{what}: the kill came before the reply; the survivor said {err:?}");
        }
    }
    assert_eq!(tmp.left(), Vec::<String>::new(), "{what}: left in TMPDIR");
    assert_eq!(
        dev_shm_ours(&pids),
        Vec::<String>::new(),
        "{what}: /dev/shm"
    );
}

#[test]
fn receiver_killed_at_the_end_the_holding_sender_exits() {
    kill_one(
        false,
        After::Sender("sender: holding the connection"),
        &[(0, "hung up; exiting")],
    );
}

#[test]
fn a_waiting_receiver_ends_on_sighup_and_removes_its_socket() {
    use nix::sys::signal::{Signal, kill};
    let tmp = TestDir::new("hup");
    let mut receiver = Role::start(&["memfd-receive"], &tmp);
    receiver.line_with("/sock");
    assert_eq!(tmp.left().len(), 1, "no socket directory while listening");
    let pid = nix::unistd::Pid::from_raw(receiver.child.id() as i32);
    kill(pid, Signal::SIGHUP).unwrap();
    let (status, err) = receiver.exit_within(Duration::from_secs(3));
    assert_eq!(status.code(), Some(128 + 1), "{err}");
    assert_eq!(
        err,
        "shm-demo: stopped by SIGHUP; removed everything this run created\n"
    );
    assert_eq!(tmp.left(), Vec::<String>::new(), "left in TMPDIR");
}

#[test]
fn a_holding_sender_ends_on_sigquit_and_the_receiver_keeps_its_frame() {
    use nix::sys::signal::{Signal, kill};
    let tmp = TestDir::new("quit");
    let (mut receiver, mut sender) = start_pair(&tmp);
    sender.line_with("sender: holding the connection");
    let pid = nix::unistd::Pid::from_raw(sender.child.id() as i32);
    kill(pid, Signal::SIGQUIT).unwrap();
    let (status, err) = sender.exit_within(Duration::from_secs(3));
    assert_eq!(status.code(), Some(128 + 3), "{err}");
    // The sender names nothing, so there is nothing to say it removed.
    assert_eq!(err, "shm-demo: stopped by SIGQUIT\n");
    receiver.line_with("is gone; our mapping still shows frame 2,");
    let (status, err) = receiver.exit_within(Duration::from_secs(3));
    assert!(status.success(), "{err}");
    assert_eq!(tmp.left(), Vec::<String>::new(), "left in TMPDIR");
}

#[test]
fn steps_work_with_sigchld_ignored_and_every_signal_blocked() {
    let tmp = TestDir::new("sigs");
    for step in ["isolation", "zero-copy", "memfd"] {
        let mut command = Command::new(BIN);
        command.arg(step).env("TMPDIR", &*tmp);
        testkit::start_carelessly(&mut command);
        let out = command.output().unwrap();
        let text = stdout_ok(&out, &format!("{step} with SIGCHLD ignored, all blocked"));
        assert!(text.lines().count() > 5, "{step}: {text}");
    }
    assert_eq!(tmp.left(), Vec::<String>::new(), "left in TMPDIR");
}

#[test]
fn memfd_step_as_nobody_under_restrictive_umasks() {
    use std::os::unix::fs::PermissionsExt;
    if !nix::unistd::geteuid().is_root() {
        eprintln!("skipped: not root, so cannot run the step as nobody");
        return;
    }
    if !testkit::have_setpriv() {
        eprintln!("skipped: no setpriv (util-linux) to run the step as nobody");
        return;
    }
    // A copy nobody can run: the checkout may be in a directory nobody cannot enter.
    let copy = testkit::NobodyCopy::of(BIN);
    for umask in [0o277, 0o377, 0o777] {
        let tmp = TestDir::new("umask");
        std::fs::set_permissions(&*tmp, std::fs::Permissions::from_mode(0o1777)).unwrap();
        let mut command = copy.command();
        command.arg("memfd").env("TMPDIR", &*tmp);
        // The mask is inherited across both execs.
        testkit::with_umask(&mut command, umask);
        let out = command.output().unwrap();
        let what = format!("memfd as nobody, umask {umask:04o}");
        let text = stdout_ok(&out, &what);
        assert!(
            line(&text, "listening on a Unix socket").ends_with("mode 0600:"),
            "{what}: {text}"
        );
        assert!(
            line(&text, "memfd_create(\"frame\")").ends_with("mode 0600"),
            "{what}: {text}"
        );
        assert!(line(&text, "the sender died of SIGKILL").contains("status 0"));
        assert_eq!(tmp.left(), Vec::<String>::new(), "{what}: left in TMPDIR");
    }
}

#[test]
fn memfd_send_to_no_socket_is_one_line_before_any_work() {
    let tmp = TestDir::new("bad");
    let missing = tmp.join("sock");
    for (path, says) in [
        (
            missing.to_string_lossy().into_owned(),
            "No such file or directory",
        ),
        ("/etc/passwd".to_string(), "/etc/passwd is not a socket"),
    ] {
        let out = run(&["memfd-send", &path]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{path}: {err}");
        assert_eq!(err.lines().count(), 1, "{path}: {err}");
        assert!(err.contains(says) && err.contains("memfd-receive"), "{err}");
        assert!(out.stdout.is_empty(), "{path}: worked before checking");
    }
}
