//! What the end-to-end tests share: every wait on a child is bounded, so that a run that
//! hangs fails its test with a message instead of hanging the suite.
#![allow(dead_code, clippy::unwrap_used)]

use std::os::unix::process::ExitStatusExt;
use std::process::{Child, Command, Output, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::{Duration, Instant};

/// Kills the child with SIGKILL if it still runs after `limit`; dropping the guard once the
/// wait has returned disarms it.
pub struct KillAfter(Arc<AtomicBool>);

impl KillAfter {
    pub fn new(child: &Child, limit: Duration) -> KillAfter {
        let done = Arc::new(AtomicBool::new(false));
        let flag = done.clone();
        let pid = nix::unistd::Pid::from_raw(i32::try_from(child.id()).unwrap());
        thread::spawn(move || {
            let end = Instant::now() + limit;
            while Instant::now() < end && !flag.load(Ordering::SeqCst) {
                thread::sleep(Duration::from_millis(20));
            }
            if !flag.load(Ordering::SeqCst) {
                let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGKILL);
            }
        });
        KillAfter(done)
    }
}

impl Drop for KillAfter {
    fn drop(&mut self) {
        self.0.store(true, Ordering::SeqCst);
    }
}

/// The child's output; the test fails if it has not exited within `limit`.
pub fn output_within(child: Child, limit: Duration) -> Output {
    let guard = KillAfter::new(&child, limit);
    let out = child.wait_with_output().unwrap();
    drop(guard);
    assert!(
        out.status.signal() != Some(9),
        "did not finish within {limit:?}: {}",
        String::from_utf8_lossy(&out.stdout)
    );
    out
}

/// Runs `command` with stdout and stderr captured; fails the test after 60 s.
pub fn output(command: &mut Command) -> Output {
    let child = command
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    output_within(child, Duration::from_secs(60))
}
