//! The readers and writers of one step: fresh copies of this binary started in a role
//! (`fifo-demo read PATH`, `fifo-demo write PATH MSG`). They inherit no descriptor of the tour,
//! so they meet only through the FIFO's path; they die with the tour, and are killed and
//! reaped on every path (plumbing's `Child`).

use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use plumbing::child::{self, Child};
use plumbing::stop;

/// How long the processes of one step may take, all together.
const STEP_LIMIT: Duration = Duration::from_secs(20);

/// The processes of one step, each with a name for messages ("reader", "sensor A").
pub struct StepProcesses {
    started: Instant,
    names: Vec<String>,
    children: Vec<Child>,
}

impl StepProcesses {
    pub fn new() -> StepProcesses {
        StepProcesses {
            started: Instant::now(),
            names: Vec::new(),
            children: Vec::new(),
        }
    }

    /// Starts `fifo-demo <role> FIFO <extra...>` and returns its pid. Its stdin is /dev/null,
    /// stdout and stderr are the tour's, and no other descriptor is inherited (Rust opens
    /// every file close-on-exec). `--parent-pid` makes it die with the tour and indent its lines.
    pub fn start(
        &mut self,
        name: &str,
        role: &str,
        fifo: &Path,
        extra: &[&str],
    ) -> plumbing::Result<i32> {
        let mut command = child::this_program()?;
        command
            .arg(role)
            .arg(fifo)
            .args(extra)
            .args(["--parent-pid", &std::process::id().to_string()])
            .stdin(Stdio::null());
        let started = Child::spawn(&mut command).map_err(|e| format!("{name}: {e}"))?;
        let pid = started.pid().as_raw();
        self.names.push(name.to_string());
        self.children.push(started);
        Ok(pid)
    }

    /// Waits until every process has exited with status 0 (a stop signal ends the wait), and
    /// returns when each exited, measured from [`StepProcesses::new`], in the order they were
    /// started. When one fails, the others are killed and the error names the one that failed.
    pub fn wait_all(&mut self) -> plumbing::Result<Vec<Duration>> {
        match child::wait_all(&mut self.children, STEP_LIMIT) {
            Ok(exits) => Ok(exits
                .iter()
                .map(|exit| exit.saturating_duration_since(self.started))
                .collect()),
            Err(e) => Err(self.name_the_failed(e)),
        }
    }

    /// plumbing's "child 1234 was killed by SIGKILL (...)" becomes "sensor A (pid 1234)
    /// failed: was killed by SIGKILL (...)"; any other error (a stop signal) is kept as it is.
    // plumbing-wanted: wait_all telling which child failed as data (its index), not only in
    // its message; this matches the message's "child <pid> " prefix instead.
    fn name_the_failed(&self, e: plumbing::Error) -> plumbing::Error {
        let text = e.to_string();
        for (name, child) in self.names.iter().zip(&self.children) {
            let pid = child.pid();
            if let Some(how) = text.strip_prefix(&format!("child {pid} ")) {
                return format!("{name} (pid {pid}) failed: {how}").into();
            }
        }
        e
    }
}

/// Starts one writer per fill letter (`<label> <letter>`, `count` lines of `bytes` bytes), then,
/// 200 ms later, the reader: the writers wait in open() until it arrives. The reader waits
/// 100 ms more before reading, so the writers have filled the pipe by then.
pub fn writers_then_reader(
    fifo: &Path,
    label: &str,
    fills: &[&str],
    count: u64,
    bytes: usize,
) -> plumbing::Result {
    let mut step = StepProcesses::new();
    let (count, bytes) = (count.to_string(), bytes.to_string());
    for fill in fills {
        let msg = format!("{label} {fill}");
        let args = [
            msg.as_str(),
            "--count",
            &count,
            "--bytes",
            &bytes,
            "--fill",
            fill,
        ];
        step.start(&msg, "write", fifo, &args)?;
    }
    stop::pause(Duration::from_millis(200))?;
    step.start(
        "reader",
        "read",
        fifo,
        &["--delay-ms", "100", "--show", "4"],
    )?;
    step.wait_all()?;
    Ok(())
}
