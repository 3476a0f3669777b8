//! What the demo crates' end-to-end tests share, written once: start a binary the way a
//! careless shell would, bound every wait on a child, find what a run left behind (processes,
//! names), run a copy as `nobody`, check that a tour fits 80 columns, and find an example
//! binary that is no older than its source, run it under hostile conditions ([`hostile`]),
//! talk to a program while it runs ([`Running`]), and read back a tour's closing block of
//! verdicts ([`verdicts`]).
//!
//! Dev-only (`[dev-dependencies]`): the tours themselves never use it.

mod bounded;
mod examples;
pub mod hostile;
mod leaks;
mod running;
pub mod verdicts;

pub use bounded::{
    KillAfter, exit_within, kill_and_reap, line_channel, output, output_within, pid, run, send,
    wait_for_line, wait_within,
};
pub use examples::{Finished, LIMIT, Server, example, finish, run_example};
pub use leaks::{
    alive, assert_none_left, names_containing, pids, processes_in_group, processes_mentioning,
};
pub use running::{Exited, Running};

use std::fs;
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

/// A name no other run or test uses: `TAG-<pid>-<counter>-<clock>`.
pub fn unique(tag: &str) -> String {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    format!("{tag}-{}-{n}-{nanos:x}", std::process::id())
}

/// Bytes a program printed, as text (invalid UTF-8 shown as U+FFFD).
pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// What the run printed on stdout, as text.
pub fn stdout(out: &Output) -> String {
    text(&out.stdout)
}

/// What the run printed on stderr, as text.
pub fn stderr(out: &Output) -> String {
    text(&out.stderr)
}

/// The seed of a randomized test: environment variable `var` if it holds a number, else the
/// clock. Printed, so that a failure can be replayed with `var` set.
pub fn seed(var: &str) -> u64 {
    let from_clock = || {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(1, |d| d.as_nanos() as u64)
    };
    let seed = std::env::var(var)
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(from_clock);
    println!("seed {seed} (replay with {var}={seed})");
    seed
}

/// Does this test run as root? Tests that need root (another user's object, a namespace)
/// say "skipped" and return when it does not.
pub fn is_root() -> bool {
    nix::unistd::geteuid().is_root()
}

/// Starts `command` as a daemon or a careless shell would: SIGCHLD ignored (waitpid would fail
/// with ECHILD) and every signal blocked (Ctrl-C would not stop it). A tour must reset both.
pub fn start_carelessly(command: &mut Command) -> &mut Command {
    // SAFETY: signal(2), sigfillset(3) and sigprocmask(2) are async-signal-safe; the set lives
    // on the child's stack.
    unsafe {
        command.pre_exec(|| {
            libc::signal(libc::SIGCHLD, libc::SIG_IGN);
            let mut all: libc::sigset_t = std::mem::zeroed();
            libc::sigfillset(&mut all);
            libc::sigprocmask(libc::SIG_BLOCK, &all, std::ptr::null_mut());
            Ok(())
        })
    }
}

/// Starts `command` with the umask set to `mask` (inherited across any later exec, setpriv's
/// included).
pub fn with_umask(command: &mut Command, mask: libc::mode_t) -> &mut Command {
    // SAFETY: umask(2) is async-signal-safe and touches only the child's own state.
    unsafe {
        command.pre_exec(move || {
            libc::umask(mask);
            Ok(())
        })
    }
}

/// Starts `command` with RLIMIT_CORE 0, so that SIGQUIT (whose default action dumps core)
/// leaves no core file. The spawn fails if the limit cannot be set.
pub fn without_core_dumps(command: &mut Command) -> &mut Command {
    // SAFETY: setrlimit(2) is async-signal-safe; the limit lives on the child's stack.
    unsafe {
        command.pre_exec(|| {
            let none = libc::rlimit {
                rlim_cur: 0,
                rlim_max: 0,
            };
            if libc::setrlimit(libc::RLIMIT_CORE, &none) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        })
    }
}

/// Fails the test naming the first line of `stdout` wider than 80 columns (characters, not
/// bytes), skipping the lines `exempt` accepts (a path as long as $TMPDIR makes it).
pub fn assert_fits_80_columns(stdout: &str, exempt: impl Fn(&str) -> bool) {
    for line in stdout.lines().filter(|line| !exempt(line)) {
        let width = line.chars().count();
        assert!(width <= 80, "{width} columns: {line}");
    }
}

/// Is setpriv (util-linux) installed? Tests that run as `nobody` need it.
pub fn have_setpriv() -> bool {
    Command::new("setpriv").arg("--version").output().is_ok()
}

/// A copy of a binary in a fresh 0755 directory under the temp dir, for runs as `nobody`: the
/// checkout may sit in a directory that user cannot enter. Removed on drop.
///
/// `cp` makes the copy, not `fs::copy`: a child that another test thread forks while this
/// process holds the copy open for writing inherits that descriptor until it execs, and
/// exec of the copy meanwhile fails with ETXTBSY ("Text file busy").
pub struct NobodyCopy {
    pub dir: PathBuf,
    pub bin: PathBuf,
}

impl NobodyCopy {
    pub fn of(bin: &str) -> NobodyCopy {
        let name = Path::new(bin).file_name().expect("binary name");
        let dir = std::env::temp_dir().join(unique(&format!("{}-nobody", name.to_string_lossy())));
        fs::create_dir(&dir).expect("create the copy's directory");
        fs::set_permissions(&dir, fs::Permissions::from_mode(0o755)).expect("chmod 0755");
        let copy = dir.join(name);
        let status = Command::new("cp").arg(bin).arg(&copy).status();
        assert!(
            status.is_ok_and(|s| s.success()),
            "cp {bin} {}",
            copy.display()
        );
        NobodyCopy { dir, bin: copy }
    }

    /// `setpriv --reuid=65534 --regid=65534 --clear-groups COPY`, run from the copy's directory.
    pub fn command(&self) -> Command {
        let mut command = Command::new("setpriv");
        command
            .args(["--reuid=65534", "--regid=65534", "--clear-groups"])
            .arg(&self.bin)
            .current_dir(&self.dir);
        command
    }
}

impl Drop for NobodyCopy {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.dir);
    }
}

/// A 0700 directory of one test's own under the temp dir (named by [`unique`]), removed on drop.
/// Checking that it is empty after a run proves the run left nothing in it.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        let path = std::env::temp_dir().join(unique(tag));
        fs::DirBuilder::new()
            .mode(0o700)
            .create(&path)
            .expect("create test dir");
        TempDir(path)
    }

    pub fn join(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }

    /// What is in the directory, sorted.
    pub fn entries(&self) -> Vec<PathBuf> {
        let mut list: Vec<_> = fs::read_dir(&self.0)
            .expect("read test dir")
            .map(|e| e.expect("entry").path())
            .collect();
        list.sort();
        list
    }

    pub fn assert_empty(&self) {
        assert_eq!(
            self.entries(),
            Vec::<PathBuf>::new(),
            "left behind in {}",
            self.0.display()
        );
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}
