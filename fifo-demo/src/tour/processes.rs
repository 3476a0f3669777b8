//! The readers and writers of one step: fresh copies of this binary started in a role
//! (`fifo-demo read PATH`, `fifo-demo write PATH MSG`). They inherit no descriptor of the tour,
//! so they meet only through the FIFO's path; they die with the tour, and are killed and
//! reaped on every path (plumbing's `Child`). What they print reaches the tour's stdout
//! through the tour ([`Relay`]), which keeps it for the step's verdicts.

use std::io;
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use plumbing::child::{self, Child};
use plumbing::stop;

use super::said::Relay;

/// How long the processes of one step may take, all together.
const STEP_LIMIT: Duration = Duration::from_secs(20);

/// The processes of one step, each with a name for messages ("reader", "sensor A").
pub struct StepProcesses {
    started: Instant,
    names: Vec<String>,
    // Dropped before `relays`: a child killed on an error path closes its stdout, so the
    // relay's thread ends and can be joined.
    children: Vec<Child>,
    relays: Vec<Relay>,
}

impl StepProcesses {
    pub fn new() -> StepProcesses {
        StepProcesses {
            started: Instant::now(),
            names: Vec::new(),
            children: Vec::new(),
            relays: Vec::new(),
        }
    }

    /// Starts `fifo-demo <role> FIFO <extra...>` and returns its pid. Its stdin is /dev/null,
    /// its stdout a pipe to the tour ([`Relay`]), its stderr the tour's, and no other
    /// descriptor is inherited (Rust opens every file close-on-exec). `--parent-pid` makes it
    /// die with the tour and indent its lines.
    pub fn start(
        &mut self,
        name: &str,
        role: &str,
        fifo: &Path,
        extra: &[&str],
    ) -> plumbing::Result<i32> {
        let (said, says) = io::pipe().map_err(|e| format!("pipe: {e}"))?;
        let mut command = child::this_program()?;
        command
            .arg(role)
            .arg(fifo)
            .args(extra)
            .args(["--parent-pid", &std::process::id().to_string()])
            .stdin(Stdio::null())
            .stdout(says);
        let started = Child::spawn(&mut command).map_err(|e| format!("{name}: {e}"))?;
        drop(command); // holds our copy of the pipe's write end: the relay ends when the child's does
        let pid = started.pid().as_raw();
        self.names.push(name.to_string());
        self.children.push(started);
        self.relays.push(Relay::start(said));
        Ok(pid)
    }

    /// What the `index`th process started has printed so far.
    pub fn said(&self, index: usize) -> Vec<String> {
        self.relays.get(index).map(Relay::lines).unwrap_or_default()
    }

    /// Waits at most `limit` for the `index`th process to print a line holding `needle`.
    pub fn line_with(
        &self,
        index: usize,
        needle: &str,
        limit: Duration,
    ) -> plumbing::Result<Option<String>> {
        match self.relays.get(index) {
            Some(relay) => relay.line_with(needle, limit),
            None => Ok(None),
        }
    }

    /// Waits until every process has exited with status 0 (a stop signal ends the wait), and
    /// returns when each exited, measured from [`StepProcesses::new`], in the order they were
    /// started; by then all they printed has been copied. When one fails, the others are
    /// killed and the error names the one that failed.
    pub fn wait_all(&mut self) -> plumbing::Result<Vec<Duration>> {
        match child::wait_all(&mut self.children, STEP_LIMIT) {
            Ok(exits) => {
                self.relays.iter_mut().for_each(Relay::finish);
                Ok(exits
                    .iter()
                    .map(|exit| exit.saturating_duration_since(self.started))
                    .collect())
            }
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
/// 100 ms more before reading, so the writers have filled the pipe by then. Returns what the
/// reader printed.
pub fn writers_then_reader(
    fifo: &Path,
    label: &str,
    fills: &[&str],
    count: u64,
    bytes: usize,
) -> plumbing::Result<Vec<String>> {
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
    Ok(step.said(fills.len()))
}
