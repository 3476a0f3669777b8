//! Catching a child asleep in the kernel: polls /proc until it sleeps (state S) where a pipe
//! makes it wait. Used by step 2 (a reader waiting for a write end nobody uses) and step 3
//! (a writer on a full pipe, a reader on an empty one).

use std::fmt;
use std::thread;
use std::time::{Duration, Instant};

use nix::sys::wait::WaitPidFlag;
use plumbing::child::{Child, describe};
use plumbing::{Result, procfs};

/// How long a child may take to block on the pipe.
const BLOCK_LIMIT: Duration = Duration::from_secs(2);

/// Where a process sleeps: the kernel function it waits in (its wchan), if the kernel says.
#[derive(Clone, Debug, PartialEq)]
pub struct Sleep(pub Option<String>);

impl Sleep {
    /// The kernel function ("anon_pipe_write"), or "state S" where the kernel hides it.
    pub fn place(&self) -> &str {
        self.0.as_deref().unwrap_or("state S")
    }
}

impl fmt::Display for Sleep {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        match &self.0 {
            Some(wchan) => write!(f, "state S, in the kernel function {wchan}"),
            None => write!(f, "state S; this kernel hides where (wchan)"),
        }
    }
}

/// Polls /proc until `child` sleeps in the kernel and `settled()` holds as well; returns where
/// it sleeps. Fails if the child exits instead, or after [`BLOCK_LIMIT`].
pub fn wait_until_asleep(child: &mut Child, settled: impl Fn() -> Result<bool>) -> Result<Sleep> {
    let pid = child.pid().as_raw();
    let deadline = Instant::now() + BLOCK_LIMIT;
    while Instant::now() < deadline {
        if let Some(status) = child.try_wait(WaitPidFlag::empty())? {
            let how = describe(status);
            return Err(format!("child {pid} ended before it blocked: it {how}").into());
        }
        if let Some(sleep) = asleep_on_pipe(pid)
            && settled()?
        {
            return Ok(sleep);
        }
        thread::sleep(Duration::from_millis(1));
    }
    Err(format!("child {pid} did not block on the pipe within {BLOCK_LIMIT:?}").into())
}

/// Where `pid` sleeps on a pipe, or `None` while it runs (or sleeps elsewhere).
pub fn asleep_on_pipe(pid: i32) -> Option<Sleep> {
    // Either file may vanish or read oddly while the child changes state: the caller retries.
    let state = procfs::state(pid).ok();
    let wchan = procfs::wchan(pid).unwrap_or_default();
    if state == Some('S') && wchan.contains("pipe") {
        return Some(Sleep(Some(wchan)));
    }
    // Some kernels hide wchan (it reads "0" or is missing): then state S must do.
    if state == Some('S') && (wchan.is_empty() || wchan == "0") {
        return Some(Sleep(None));
    }
    None
}
