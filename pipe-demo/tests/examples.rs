//! Runs every example in `examples/` end to end, through the binary cargo
//! built, and checks what it prints. Each example runs in its own process
//! group, so a hung example and any child it forked are killed together.

use std::fs;
use std::io::Read;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::thread::{self, JoinHandle};
use std::time::Duration;

use nix::errno::Errno;
use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;
use testkit::TempDir;

const LIMIT: Duration = Duration::from_secs(20);

/// `target/debug/examples/NAME`, no older than its source.
fn example(name: &str) -> PathBuf {
    testkit::example(env!("CARGO_MANIFEST_DIR"), name)
}

/// A process group started by `run`; killed when dropped (e.g. on a panic).
struct Group(Child);

impl Drop for Group {
    fn drop(&mut self) {
        let _ = killpg(Pid::from_raw(self.0.id() as i32), Signal::SIGKILL);
        let _ = self.0.wait();
    }
}

fn drain(mut pipe: impl Read + Send + 'static) -> JoinHandle<String> {
    thread::spawn(move || {
        let mut text = String::new();
        let _ = pipe.read_to_string(&mut text);
        text
    })
}

/// Runs `cmd` in a new process group; returns (status, stdout, stderr). Fails
/// if it takes longer than LIMIT or leaves a process of its group behind.
fn run(cmd: &mut Command) -> (ExitStatus, String, String) {
    let what = format!("{cmd:?}");
    let child = cmd
        .process_group(0)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("spawn {what}: {e}"));
    let mut group = Group(child);
    let out = drain(group.0.stdout.take().expect("stdout piped"));
    let err = drain(group.0.stderr.take().expect("stderr piped"));
    let status = testkit::wait_within(&mut group.0, LIMIT)
        .unwrap_or_else(|| panic!("{what} still running after {LIMIT:?}: killed"));
    let pgid = Pid::from_raw(group.0.id() as i32);
    let left = killpg(pgid, None);
    assert_eq!(
        left,
        Err(Errno::ESRCH),
        "{what} left a process in its group"
    );
    (
        status,
        out.join().expect("stdout"),
        err.join().expect("stderr"),
    )
}

#[test]
fn cat_temperature_gets_its_reading_back_and_cat_exits() {
    let (status, out, err) = run(&mut Command::new(example("cat_temperature")));
    assert!(status.success(), "{status}\n{out}{err}");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(
        lines,
        [
            "sent to cat:   temperature: 42",
            "cat sent back: temperature: 42",
            "cat ended with exit status: 0",
        ],
        "{out}"
    );
}

#[test]
fn pipe_fork_child_reads_to_end_of_file_and_is_reaped() {
    let (status, out, err) = run(&mut Command::new(example("pipe_fork")));
    assert!(status.success(), "{status}\n{out}{err}");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 5, "{out}");
    let child = lines[0]
        .strip_prefix("child ")
        .and_then(|rest| rest.split(' ').next())
        .expect("first line names the child");
    for (line, t) in lines.iter().zip([42, 43, 41]) {
        assert_eq!(
            *line,
            format!("child {child} read: temperature: {t}"),
            "{out}"
        );
    }
    assert_eq!(
        lines[3],
        format!("child {child}: end-of-file after 3 lines")
    );
    assert!(
        lines[4].starts_with("parent ")
            && lines[4].ends_with(&format!(
                ": wrote 3 lines; child {child} exited with status 0"
            )),
        "{out}"
    );
}

#[test]
fn pipeline_prints_what_the_shell_prints() {
    let dir = TempDir::new("pipe-demo-examples");
    for name in ["main.rs", "lib.rs", "build.rs", "notes.txt", "Cargo.toml"] {
        fs::write(dir.0.join(name), "").expect("create file");
    }
    let (status, out, err) = run(Command::new(example("pipeline")).current_dir(&dir.0));
    assert!(status.success(), "{status}\n{out}{err}");
    let (sh_status, sh_out, sh_err) = run(Command::new("sh")
        .args(["-c", "ls | grep .rs | wc -l"])
        .current_dir(&dir.0));
    assert!(sh_status.success(), "sh: {sh_status}\n{sh_err}");
    assert_eq!(out, sh_out, "pipeline vs sh");
    assert_eq!(out.trim(), "3");
    for stage in ["ls", "grep", "wc"] {
        let report = format!("pipeline: {stage} exited with status 0");
        assert!(err.lines().any(|l| l == report), "no `{report}` in:\n{err}");
    }
}

// Fed by the test: each run draws its own input, so an example that prints a constant, or
// answers its own line instead of its peer's, fails. (pipe_fork takes no input at all: its
// readings are fixed in its code, so only its child's pid varies; the test above checks it.)

/// A random number, drawn per run: std's hasher keys are random for every `RandomState`.
fn random(below: u64) -> u64 {
    use std::hash::{BuildHasher, RandomState};
    RandomState::new().hash_one(0u8) % below
}

/// A line of `len` printable ASCII characters (no newline), drawn per run.
fn random_line(len: u64) -> String {
    (0..len)
        .map(|_| char::from(b' ' + random(95) as u8))
        .collect()
}

#[test]
fn cat_temperature_prints_what_its_cat_sent_back_and_how_it_ended() {
    // A `cat` of the test's own, first on PATH: it keeps what it was sent, answers with
    // other lines and exits with a status of its choosing, all drawn per run.
    let dir = TempDir::new("pipe-demo-fed-cat");
    let reply: String = (0..1 + random(4))
        .map(|_| random_line(random(120)) + "\n")
        .collect();
    let code = random(100);
    fs::write(dir.0.join("reply"), &reply).expect("write reply");
    let script = format!(
        "#!/bin/sh\n\
         while IFS= read -r l; do printf '%s\\n' \"$l\"; done > '{dir}/got'\n\
         while IFS= read -r l; do printf '%s\\n' \"$l\"; done < '{dir}/reply'\n\
         exit {code}\n",
        dir = dir.0.display()
    );
    let cat = dir.0.join("cat");
    fs::write(&cat, script).expect("write fake cat");
    fs::set_permissions(&cat, fs::Permissions::from_mode(0o700)).expect("chmod fake cat");
    let path = format!(
        "{}:{}",
        dir.0.display(),
        std::env::var("PATH").unwrap_or_default()
    );

    let (status, out, err) = run(Command::new(example("cat_temperature")).env("PATH", path));
    assert!(status.success(), "{status}\n{out}{err}");
    let got = fs::read_to_string(dir.0.join("got")).expect("what cat was sent");
    assert_eq!(got, "temperature: 42\n", "what cat read");
    assert_eq!(
        out,
        format!("sent to cat:   {got}cat sent back: {reply}cat ended with exit status: {code}\n"),
        "cat answered {reply:?} and exited with {code}"
    );
}

#[test]
fn pipeline_counts_a_random_number_of_rs_names() {
    let dir = TempDir::new("pipe-demo-fed-pipeline");
    let wanted = random(40);
    // `grep .rs` is a pattern: any character, then "rs". The decoys match no such thing,
    // or ls does not list them (a leading dot).
    for i in 0..wanted {
        fs::write(dir.0.join(format!("f{i}_{}.rs", random(1000))), "").expect("create");
    }
    for i in 0..random(8) {
        fs::write(dir.0.join(format!("d{i}.txt")), "").expect("create decoy");
        fs::write(dir.0.join(format!(".h{i}.rs")), "").expect("create hidden");
    }
    let (status, out, err) = run(Command::new(example("pipeline")).current_dir(&dir.0));
    assert!(status.success(), "{status}\n{out}{err}");
    assert_eq!(
        out,
        format!("{wanted}\n"),
        "{wanted} names match .rs\n{err}"
    );
    let grep = if wanted == 0 { 1 } else { 0 };
    for (stage, code) in [("ls", 0), ("grep", grep), ("wc", 0)] {
        let report = format!("pipeline: {stage} exited with status {code}");
        assert!(err.lines().any(|l| l == report), "no `{report}` in:\n{err}");
    }
}
