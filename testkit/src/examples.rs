//! Running a crate's examples from its tests: the binaries `cargo test -p CRATE` builds.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

/// How long an example may take before its test fails.
pub const LIMIT: Duration = Duration::from_secs(20);

/// `target/debug/examples/NAME`, found from the test binary (in `target/debug/deps/`), and no
/// older than `examples/NAME.rs` under `manifest_dir` (pass `env!("CARGO_MANIFEST_DIR")`; the
/// crate is named after its directory). `cargo test --test examples` alone does not rebuild the
/// examples, so a stale binary fails here instead of testing old code.
pub fn example(manifest_dir: &str, name: &str) -> PathBuf {
    let krate = Path::new(manifest_dir)
        .file_name()
        .expect("crate directory");
    let krate = krate.to_string_lossy();
    let rebuild = format!("run `cargo test -p {krate}` or `cargo build -p {krate} --examples`");
    let exe = std::env::current_exe().expect("current_exe");
    let debug = exe.parent().and_then(Path::parent).expect("target/debug");
    let path = debug.join("examples").join(name);
    let modified = |p: &Path| std::fs::metadata(p).and_then(|m| m.modified());
    let built = modified(&path).unwrap_or_else(|e| panic!("{}: {e}: {rebuild}", path.display()));
    let source = Path::new(manifest_dir).join(format!("examples/{name}.rs"));
    let edited = modified(&source).unwrap_or_else(|e| panic!("{}: {e}", source.display()));
    assert!(
        built >= edited,
        "{} is older than its source: {rebuild}",
        path.display()
    );
    path
}

/// Runs example `name` of the crate at `manifest_dir` (see [`example`]) to the end, stdin
/// empty; the test fails after [`LIMIT`]. Meant for small outputs (the pipes cannot fill).
pub fn run_example(manifest_dir: &str, name: &str, args: &[&str]) -> Output {
    let mut child = Command::new(example(manifest_dir, name))
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("spawn {name}: {e}"));
    crate::exit_within(&mut child, LIMIT, name);
    child.wait_with_output().expect("collect output")
}

/// What a finished example printed, as text.
pub struct Finished {
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
}

impl From<Output> for Finished {
    fn from(out: Output) -> Finished {
        Finished {
            status: out.status,
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }
}

/// Waits for `child` at most [`LIMIT`]; on timeout kills it and fails naming `what`. Meant for
/// small outputs (the pipes cannot fill while it polls).
pub fn finish(mut child: Child, what: &str) -> Finished {
    crate::exit_within(&mut child, LIMIT, what);
    Finished::from(child.wait_with_output().expect("collect output"))
}

/// A long-running program whose stdout lines arrive on a channel. Dropping it kills and reaps
/// the process, so a failed assertion leaves no process.
pub struct Server {
    pub child: Option<Child>,
    lines: Receiver<String>,
}

impl Server {
    pub fn start(program: impl AsRef<OsStr>, args: &[&str]) -> Server {
        let mut child = Command::new(program)
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn server");
        let lines = crate::line_channel(child.stdout.take().expect("stdout"));
        Server {
            child: Some(child),
            lines,
        }
    }

    /// The next stdout line containing `needle` (the readiness handshake), within [`LIMIT`].
    pub fn wait_for(&self, needle: &str) -> String {
        crate::wait_for_line(&self.lines, LIMIT, |line| line.contains(needle), |_| {})
            .unwrap_or_else(|e| panic!("no line with {needle:?} from the server: {e}"))
    }

    /// Waits for the exit; returns the status and the rest of stdout.
    pub fn finish(mut self) -> (ExitStatus, String) {
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
            crate::kill_and_reap(child);
        }
    }
}
