//! The tour's processes: fresh copies of this binary started as the readers and writers of
//! one step, waited for while watching for Ctrl-C, and killed and reaped on every path.

use std::ffi::OsString;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use crate::Result;

/// The arguments that start `fifo-demo <role> PATH <extra...>`.
pub fn role_args(role: &str, fifo: &Path, extra: &[&str]) -> Vec<OsString> {
    let mut args = vec![OsString::from(role), fifo.as_os_str().to_owned()];
    args.extend(extra.iter().map(OsString::from));
    args
}

/// Sleeps `ms` milliseconds, but returns an error at once when SIGINT/SIGTERM arrives.
pub fn pause(ms: u64, stop: &AtomicUsize) -> Result<()> {
    let end = Instant::now() + Duration::from_millis(ms);
    while Instant::now() < end {
        if stop.load(Ordering::SeqCst) != 0 {
            return Err("interrupted".into());
        }
        thread::sleep(Duration::from_millis(5));
    }
    Ok(())
}

/// The processes of one step. Dropping it kills and reaps any still running, so no child
/// outlives the tour on any path, errors and Ctrl-C included.
pub struct Children {
    started: Instant,
    list: Vec<(String, Child)>,
}

impl Children {
    pub fn new() -> Children {
        Children {
            started: Instant::now(),
            list: Vec::new(),
        }
    }

    /// Starts a fresh copy of this binary: stdin is /dev/null, stdout and stderr are shared,
    /// and no other descriptor is inherited (Rust opens every file close-on-exec).
    pub fn start(&mut self, name: &str, args: Vec<OsString>) -> Result<u32> {
        let exe = std::env::current_exe().map_err(|e| format!("current_exe: {e}"))?;
        let child = Command::new(exe)
            .args(args)
            .args(["--parent-pid", &std::process::id().to_string()])
            .stdin(Stdio::null())
            .spawn()
            .map_err(|e| format!("spawn {name}: {e}"))?;
        let pid = child.id();
        self.list.push((name.to_string(), child));
        Ok(pid)
    }

    /// Waits until every child has exited successfully, checking for Ctrl-C every 5 ms.
    /// Returns each child's exit time, measured from `new()`, in the order they were started.
    pub fn wait_all(&mut self, stop: &AtomicUsize) -> Result<Vec<Duration>> {
        let deadline = Instant::now() + Duration::from_secs(20);
        let mut exited = vec![None; self.list.len()];
        while exited.iter().any(Option::is_none) {
            if stop.load(Ordering::SeqCst) != 0 {
                return Err("interrupted".into());
            }
            if Instant::now() > deadline {
                return Err("the step's processes did not finish within 20 s".into());
            }
            for ((name, child), exit) in self.list.iter_mut().zip(&mut exited) {
                if exit.is_some() {
                    continue;
                }
                let status = child
                    .try_wait()
                    .map_err(|e| format!("waitpid {name}: {e}"))?;
                match status {
                    Some(status) if !status.success() => {
                        return Err(format!("{name} (pid {}) failed: {status}", child.id()).into());
                    }
                    Some(_) => *exit = Some(self.started.elapsed()),
                    None => {}
                }
            }
            thread::sleep(Duration::from_millis(5));
        }
        Ok(exited.into_iter().flatten().collect())
    }
}

impl Drop for Children {
    fn drop(&mut self) {
        for (_, child) in &mut self.list {
            // Both are no-ops for a child already reaped by wait_all.
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}
