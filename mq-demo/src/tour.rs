//! The steps of the mq-demo tour and the one-operation subcommands. See main.rs for how to run.
//!
//! Processes: the job dispatch and flow-control steps fork() the worker instead of spawning
//! this binary again, because a forked child inherits the open queue descriptor: the name can
//! be unlinked before the worker even exists, so a crash at any moment leaks nothing. fork() is
//! safe here because the program is single-threaded until the last step (mpsc) starts threads.
//! The persistence step does the opposite on purpose: it runs this binary once per operation,
//! so the only thing that links them is the queue's name.

use std::any::Any;
use std::error::Error;
use std::fmt;
use std::io::{self, Read, Write};
use std::os::fd::AsFd;
use std::panic::{self, AssertUnwindSafe};
use std::process::{Command, ExitCode, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use clap::{Parser, Subcommand};
use nix::errno::Errno;
use nix::mqueue::{MQ_OFlag, mq_unlink};
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use nix::sys::prctl;
use nix::sys::resource::{Resource, getrlimit, setrlimit};
use nix::sys::signal::{Signal, kill};
use nix::sys::wait::{WaitPidFlag, WaitStatus, waitpid};
use nix::unistd::{ForkResult, Pid, fork, getpid, getppid};

use mq_demo::{Queue, Task, check_name, msg_max, msgsize_max, queues_max, rlimit_msgqueue};

type Result<T = ()> = std::result::Result<T, Box<dyn Error>>;

#[derive(Parser)]
#[command(
    name = "mq-demo",
    about = "POSIX message queues, run and observed (lecture: Message Queues)"
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Step>,
}

#[derive(Subcommand)]
enum Step {
    /// Run every step (the default)
    Tour,
    /// Step 1: a coordinator process sends Tasks with priorities; a worker process takes them
    Dispatch {
        /// Milliseconds the worker spends on each Task (0 to 10000)
        #[arg(long, default_value_t = 0, value_parser = clap::value_parser!(u64).range(0..=10_000))]
        work_ms: u64,
    },
    /// Step 2: the same three writes through a pipe and through a queue
    Boundaries,
    /// Step 3: create, send, attr, receive and unlink as separate processes
    Persistence,
    /// Step 4: a full queue blocks the sender; O_NONBLOCK gives EAGAIN; receive timeouts
    Flow,
    /// Step 5: msgsize_max, msg_max and RLIMIT_MSGQUEUE, each refused with a clear error
    Limits,
    /// Step 6: both directions (two queues), and how a receiver learns its peer died
    Duplex,
    /// Step 7: std::sync::mpsc, the in-process analog
    Mpsc,
    /// Create a queue that outlives this process (mode 0600, fails if the name exists)
    Create {
        /// Name of the new queue: '/' then 1 to 255 characters, no other '/' (e.g. /jobs)
        #[arg(value_parser = parse_name)]
        name: String,
        /// Most messages the queue holds (1 to 65536; above /proc/sys/fs/mqueue/msg_max is refused)
        #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..=65_536))]
        maxmsg: u64,
        /// Largest message in bytes (1 to 16777216; above .../msgsize_max is refused)
        #[arg(long, default_value_t = 8192, value_parser = clap::value_parser!(u64).range(1..=16_777_216))]
        msgsize: u64,
    },
    /// Send each MESSAGE as one message, then exit (never blocks: a full queue is an error)
    Send {
        /// Queue to send to (made by `create`)
        #[arg(value_parser = parse_name)]
        name: String,
        /// The messages, each sent as one message (e.g. "temperature: 42")
        #[arg(required = true, value_name = "MESSAGE")]
        messages: Vec<String>,
        /// Priority; higher is received first (0 to 32767)
        #[arg(long, default_value_t = 0, value_parser = clap::value_parser!(u32).range(0..=32_767))]
        priority: u32,
    },
    /// Receive every message waiting now, highest priority first (--wait: first wait for one)
    Receive {
        /// Queue to receive from
        #[arg(value_parser = parse_name)]
        name: String,
        /// Wait up to this many seconds for the first message (0 to 3600)
        #[arg(long, default_value_t = 0, value_parser = clap::value_parser!(u64).range(0..=3600))]
        wait: u64,
    },
    /// Print the queue's attributes (mq_getattr)
    Attr {
        /// Queue whose attributes to print
        #[arg(value_parser = parse_name)]
        name: String,
    },
    /// Remove the queue's name (mq_unlink); processes that have it open keep using it
    Unlink {
        /// Queue name to remove
        #[arg(value_parser = parse_name)]
        name: String,
    },
}

fn parse_name(name: &str) -> std::result::Result<String, String> {
    check_name(name).map(|()| name.to_owned())
}

// ---------------------------------------------------------------------------------------------
// Stopping: SIGINT/SIGTERM set a flag; every wait below is sliced so it notices the flag and
// returns, and the owners' Drop removes the queues on the way out.
// ---------------------------------------------------------------------------------------------

/// The signal that asked us to stop, or 0.
static STOP: AtomicUsize = AtomicUsize::new(0);

#[derive(Debug)]
struct Interrupted;

impl fmt::Display for Interrupted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("interrupted")
    }
}

impl Error for Interrupted {}

fn check_stop() -> Result {
    if STOP.load(Ordering::SeqCst) == 0 {
        Ok(())
    } else {
        Err(Box::new(Interrupted))
    }
}

/// Sleeps in 10 ms slices, returning early with `Interrupted` when asked to stop.
fn pause(total: Duration) -> Result {
    let until = Instant::now() + total;
    while let Some(left) = until.checked_duration_since(Instant::now()) {
        check_stop()?;
        thread::sleep(left.min(Duration::from_millis(10)));
    }
    check_stop()
}

pub fn main() -> ExitCode {
    quiet_when_stdout_closes();
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) if e.use_stderr() => {
            eprintln!("mq-demo: {}", one_line(&e.to_string()));
            return ExitCode::from(2);
        }
        Err(e) => e.exit(), // --help and --version
    };
    let step = cli.command.unwrap_or(Step::Tour);
    // The one-operation subcommands create no queue that a stop would have to remove.
    let creates_queues = !matches!(
        step,
        Step::Create { .. }
            | Step::Send { .. }
            | Step::Receive { .. }
            | Step::Attr { .. }
            | Step::Unlink { .. }
            | Step::Mpsc
    );
    let result = register_stop().and_then(|()| run(step));
    let signal = STOP.load(Ordering::SeqCst);
    if signal != 0 {
        let name = signal_hook::low_level::signal_name(signal as i32).unwrap_or("a signal");
        if creates_queues {
            eprintln!("mq-demo: interrupted by {name}; every queue this run created is removed");
        } else {
            eprintln!("mq-demo: interrupted by {name}");
        }
        return ExitCode::from(128 + signal as u8);
    }
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("mq-demo: {e}");
            ExitCode::FAILURE
        }
    }
}

/// `mq-demo | head -3` closes our stdout early, and println! then panics. Unwinding still runs
/// every owner's Drop (nothing leaks), so say it in one line instead of a backtrace.
fn quiet_when_stdout_closes() {
    let default_hook = panic::take_hook();
    panic::set_hook(Box::new(move |info| {
        if stdout_closed(info.payload()) {
            eprintln!("mq-demo: stdout was closed; stopping");
        } else {
            default_hook(info);
        }
    }));
}

/// Is this panic println! failing because nobody reads our stdout any more?
fn stdout_closed(payload: &(dyn Any + Send)) -> bool {
    payload
        .downcast_ref::<String>()
        .is_some_and(|m| m.starts_with("failed printing to stdout"))
}

/// clap's usage error as one line: "invalid value 'x' for '<NAME>': ...; try 'mq-demo --help'".
fn one_line(message: &str) -> String {
    let lines: Vec<&str> = message
        .lines()
        .take_while(|l| !l.starts_with("Usage:") && !l.starts_with("For more information"))
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    let text = lines.join(" ");
    format!(
        "{}; try 'mq-demo --help'",
        text.strip_prefix("error: ").unwrap_or(&text)
    )
}

fn register_stop() -> Result {
    for signal in [libc::SIGINT, libc::SIGTERM] {
        signal_hook::flag::register_usize(signal, &STOP, signal as usize)
            .map_err(|e| format!("sigaction: {e}"))?;
    }
    Ok(())
}

fn run(step: Step) -> Result {
    let base = mq_demo::unique_name();
    match step {
        Step::Tour => tour(&base),
        Step::Dispatch { work_ms } => {
            dispatch(&format!("{base}-d"), Duration::from_millis(work_ms))
        }
        Step::Boundaries => boundaries(&format!("{base}-b")),
        Step::Persistence => persistence(&format!("{base}-p")),
        Step::Flow => flow(&format!("{base}-f")),
        Step::Limits => limits(&format!("{base}-l")),
        Step::Duplex => duplex_and_no_eof(),
        Step::Mpsc => mpsc_analog(),
        Step::Create {
            name,
            maxmsg,
            msgsize,
        } => create(&name, maxmsg as usize, msgsize as usize),
        Step::Send {
            name,
            messages,
            priority,
        } => send(&name, &messages, priority),
        Step::Receive { name, wait } => receive(&name, Duration::from_secs(wait)),
        Step::Attr { name } => attr(&name),
        Step::Unlink { name } => {
            mq_unlink(name.as_str()).map_err(|e| format!("mq_unlink {name}: {e}"))?;
            println!("removed {name}; processes that still have it open keep using it");
            Ok(())
        }
    }
}

fn tour(base: &str) -> Result {
    println!("mq-demo: POSIX message queues, observed on this machine");
    println!(
        "queue names this run: {base}-* (pid {})",
        std::process::id()
    );
    for stale in mq_demo::remove_stale_queues() {
        println!("removed {stale}: left by a run that was killed (its pid is gone)");
    }
    let names: Vec<String> = ["d", "b", "p", "f", "l"]
        .iter()
        .map(|s| format!("{base}-{s}"))
        .collect();
    dispatch(&names[0], Duration::ZERO)?;
    boundaries(&names[1])?;
    persistence(&names[2])?;
    flow(&names[3])?;
    limits(&names[4])?;
    duplex_and_no_eof()?;
    mpsc_analog()?; // last: it starts threads, and the steps above fork
    let gone = names
        .iter()
        .filter(|n| {
            Queue::open(n, MQ_OFlag::O_RDONLY).is_err_and(|e| e.kind() == io::ErrorKind::NotFound)
        })
        .count();
    println!(
        "\nDone. mq_open gives ENOENT for {gone} of the {} names used: nothing is left behind.",
        names.len()
    );
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Processes
// ---------------------------------------------------------------------------------------------

/// fork(): Some(child pid) in the parent, None in the child. The child gets SIGTERM if the
/// parent dies (PR_SET_PDEATHSIG), so its stop checks end it instead of leaving an orphan.
fn fork_process() -> Result<Option<Pid>> {
    io::stdout().flush()?; // or the child would print our buffered lines again
    // SAFETY: this process is single-threaded (only the mpsc step, which runs last, starts
    // threads), so the child is a complete copy with no lock held by a vanished thread.
    match unsafe { fork() }.map_err(|e| format!("fork: {e}"))? {
        ForkResult::Parent { child } => Ok(Some(child)),
        ForkResult::Child => {
            if let Err(e) = prctl::set_pdeathsig(Signal::SIGTERM) {
                child_exit(|| Err(format!("prctl PR_SET_PDEATHSIG: {e}").into())); // never return as the parent
            }
            Ok(None)
        }
    }
}

/// A forked child's exit status when it found stdout closed (a shell shows 141 for SIGPIPE).
const STDOUT_CLOSED: i32 = 141;

/// Runs a forked child's work, then exits without running the destructors of the parent's
/// values (their queue names are the parent's to remove). A panic stops here for the same
/// reason: unwinding further would drop the parent's owners in this copy of the process. On a
/// stop request it exits quietly: the parent reports.
fn child_exit(work: impl FnOnce() -> Result) -> ! {
    let code = match panic::catch_unwind(AssertUnwindSafe(work)) {
        Ok(Ok(())) => 0,
        Ok(Err(e)) if e.is::<Interrupted>() => 128 + STOP.load(Ordering::SeqCst) as i32,
        Ok(Err(e)) => {
            eprintln!("mq-demo: worker: {e}");
            1
        }
        // The panic hook has already said why.
        Err(payload) if stdout_closed(&*payload) => STDOUT_CLOSED,
        Err(_) => 101,
    };
    let _ = io::stdout().flush();
    std::process::exit(code)
}

/// In a forked child: fails once the parent process is gone, or when asked to stop.
fn parent_alive(parent: Pid) -> Result {
    if getppid() != parent {
        return Err(format!("the coordinator (pid {parent}) died; worker exiting").into());
    }
    check_stop()
}

/// Waits for a child in 10 ms slices. Asked to stop, it kills and reaps the child first.
fn reap(child: Pid, who: &str) -> Result {
    loop {
        match waitpid(child, Some(WaitPidFlag::WNOHANG))
            .map_err(|e| format!("waitpid {who}: {e}"))?
        {
            WaitStatus::Exited(_, 0) => return Ok(()),
            WaitStatus::Exited(_, STDOUT_CLOSED) => {
                // The child shares our stdout and has already said it is closed: stop as our
                // own println! would, by unwinding, but without the hook's second line.
                panic::resume_unwind(Box::new("failed printing to stdout (seen by a child)"));
            }
            WaitStatus::Exited(_, code) => {
                return Err(format!("{who} (pid {child}) failed with status {code}").into());
            }
            WaitStatus::Signaled(_, signal, _) => {
                return Err(format!(
                    "{who} (pid {child}) was killed by {signal} before it finished"
                )
                .into());
            }
            _ => {}
        }
        if STOP.load(Ordering::SeqCst) != 0 {
            let _ = kill(child, Signal::SIGKILL);
            let _ = waitpid(child, None);
            return Err(Box::new(Interrupted));
        }
        thread::sleep(Duration::from_millis(10));
    }
}

// ---------------------------------------------------------------------------------------------
// Step 1: job dispatch
// ---------------------------------------------------------------------------------------------

/// task_type 0 tells the worker to stop; it is sent last, at the lowest priority.
const SHUTDOWN: u32 = 0;

fn dispatch(name: &str, work: Duration) -> Result {
    println!(
        "\nStep 1. Job dispatch: a coordinator process sends Tasks with priorities; a worker process takes them"
    );
    let mut queue = Queue::create(name, MQ_OFlag::O_RDWR, 10, 256)?;
    // The worker inherits the descriptor across fork(), so nobody needs the name any more.
    queue.unlink()?;
    println!("  queue {name}: 10 messages of up to 256 bytes, mode 0600; name unlinked at once");
    let jobs = [
        (1, 2, "compress file.dat"),
        (5, 1, "resize photo.jpg"),
        (9, 3, "alert: temperature: 42"),
        (3, 2, "compress logs.tar"),
        (9, 4, "page the on-call engineer"),
        (0, SHUTDOWN, "shutdown"),
    ];
    for (priority, task_type, payload) in jobs {
        let task = Task {
            task_type,
            payload: payload.into(),
        };
        queue
            .send(&task.encode(), priority)
            .map_err(|e| queue.error("mq_send", e))?;
        println!("  coordinator sent  prio {priority}  type {task_type}  {payload:?}");
    }
    println!(
        "  all {} Tasks are queued before the worker starts, so the order below is the queue's, not a race",
        jobs.len()
    );
    let coordinator = getpid();
    let Some(worker) = fork_process()? else {
        child_exit(|| work_tasks(&queue, work, coordinator));
    };
    reap(worker, "worker")?;
    println!("  coordinator: worker (pid {worker}) exited 0");
    Ok(())
}

/// The worker: takes whole Tasks, highest priority first, until the shutdown Task.
fn work_tasks(queue: &Queue, work: Duration, coordinator: Pid) -> Result {
    println!("  worker (pid {}) takes them in this order:", getpid());
    let mut buf = vec![0; queue.msgsize()]; // mq_receive needs room for the largest message
    let mut priorities = Vec::new();
    loop {
        parent_alive(coordinator)?;
        let (len, priority) = match queue.receive_timeout(&mut buf, Duration::from_millis(100)) {
            Err(Errno::ETIMEDOUT) => continue, // a slice ended: check on the coordinator again
            received => received.map_err(|e| queue.error("mq_timedreceive", e))?,
        };
        let task = Task::decode(&buf[..len])
            .map_err(|e| format!("message {}: {e}", priorities.len() + 1))?;
        priorities.push(priority.to_string());
        println!(
            "    took  prio {priority}  type {}  {:?}  ({len}-byte message)",
            task.task_type, task.payload
        );
        if task.task_type == SHUTDOWN {
            break;
        }
        let until = Instant::now() + work;
        while Instant::now() < until {
            parent_alive(coordinator)?;
            thread::sleep(Duration::from_millis(10));
        }
    }
    println!(
        "  worker: {} Tasks, each whole; priorities in the order taken: {}",
        priorities.len(),
        priorities.join(" ")
    );
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Step 2: boundaries
// ---------------------------------------------------------------------------------------------

fn boundaries(name: &str) -> Result {
    println!("\nStep 2. Boundaries: the same three writes through a pipe and through a queue");
    let writes = ["temperature: 42", "temperature: 43", "temperature: 44"];
    println!("  writes: {writes:?}, {} bytes each", writes[0].len());

    let (pipe_r, pipe_w) =
        nix::unistd::pipe2(nix::fcntl::OFlag::O_NONBLOCK | nix::fcntl::OFlag::O_CLOEXEC)
            .map_err(|e| format!("pipe2: {e}"))?;
    for w in writes {
        nix::unistd::write(&pipe_w, w.as_bytes()).map_err(|e| format!("write pipe: {e}"))?;
    }
    let mut queue = Queue::create(name, MQ_OFlag::O_RDWR | MQ_OFlag::O_NONBLOCK, 10, 64)?;
    queue.unlink()?; // this process holds the only descriptor it needs
    for w in writes {
        queue
            .send(w.as_bytes(), 0)
            .map_err(|e| queue.error("mq_send", e))?;
    }

    // Read both until they are empty (EAGAIN), with buffers far larger than one write.
    let mut pipe_reads = Vec::new();
    let mut buf = [0u8; 1024];
    loop {
        match nix::unistd::read(&pipe_r, &mut buf) {
            Ok(n) => pipe_reads.push(String::from_utf8_lossy(&buf[..n]).into_owned()),
            Err(Errno::EAGAIN) => break,
            Err(e) => return Err(format!("read pipe: {e}").into()),
        }
    }
    let mut queue_reads = Vec::new();
    loop {
        match queue.receive(&mut buf) {
            Ok((n, _)) => queue_reads.push(String::from_utf8_lossy(&buf[..n]).into_owned()),
            Err(Errno::EAGAIN) => break,
            Err(e) => return Err(queue.error("mq_receive", e).into()),
        }
    }
    println!(
        "         {:<60} queue: mq_receive(1024 bytes)",
        "pipe: read(1024 bytes)"
    );
    let show = |reads: &[String], i: usize| match reads.get(i) {
        Some(r) => format!("{:>2} bytes {r:?}", r.len()),
        None if i == reads.len() => "EAGAIN: empty".into(),
        None => String::new(),
    };
    for i in 0..=pipe_reads.len().max(queue_reads.len()) {
        println!(
            "  read {} {:<60} {}",
            i + 1,
            show(&pipe_reads, i),
            show(&queue_reads, i)
        );
    }
    println!(
        "  observed: the pipe returned {} run(s) of bytes, the queue {} message(s): the queue kept the boundaries",
        pipe_reads.len(),
        queue_reads.len()
    );
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Step 3: persistence, one process per operation
// ---------------------------------------------------------------------------------------------

/// Removes a queue name on drop if it still exists: the persistence step's queue is created
/// by a child process, and an interrupted tour must not leave it behind.
struct NameGuard<'a>(&'a str);

impl Drop for NameGuard<'_> {
    fn drop(&mut self) {
        let _ = mq_unlink(self.0); // ENOENT when `mq-demo unlink` already removed it
    }
}

fn persistence(name: &str) -> Result {
    println!(
        "\nStep 3. Persistence: each operation is a separate mq-demo process that exits; only the name links them"
    );
    let _guard = NameGuard(name);
    let runs: [&[&str]; 7] = [
        &["create", name],
        &["send", name, "temperature: 42", "temperature: 43"],
        &["send", name, "--priority", "5", "alert: temperature: 99"],
        &["attr", name],
        &["receive", name],
        &["unlink", name],
        &["attr", name],
    ];
    for (i, args) in runs.iter().enumerate() {
        let quoted: Vec<String> = args
            .iter()
            .map(|a| {
                if a.contains(' ') {
                    format!("{a:?}")
                } else {
                    a.to_string()
                }
            })
            .collect();
        println!("  $ mq-demo {}", quoted.join(" "));
        let (ok, output) = run_self(args)?;
        for line in output.lines() {
            println!("      {line}");
        }
        let last = i == runs.len() - 1; // only the final `attr` should fail: the name is gone
        if ok == last {
            return Err(format!(
                "`mq-demo {}` {}",
                args.join(" "),
                if ok {
                    "succeeded after unlink"
                } else {
                    "failed"
                }
            )
            .into());
        }
    }
    println!(
        "  observed: {} processes came and went; the messages waited in the kernel until `receive`, and after `unlink` the name is gone",
        runs.len()
    );
    Ok(())
}

/// Runs this binary with `args`, waiting in slices (a stop request kills and reaps it).
/// Returns whether it succeeded, and what it printed (stdout, then stderr).
fn run_self(args: &[&str]) -> Result<(bool, String)> {
    let exe = std::env::current_exe().map_err(|e| format!("current_exe: {e}"))?;
    let mut child = Command::new(&exe)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("spawn {}: {e}", exe.display()))?;
    // The operations never block, so they end in milliseconds even if we die first.
    while child
        .try_wait()
        .map_err(|e| format!("waitpid: {e}"))?
        .is_none()
    {
        if STOP.load(Ordering::SeqCst) != 0 {
            let _ = child.kill();
            let _ = child.wait();
            return Err(Box::new(Interrupted));
        }
        thread::sleep(Duration::from_millis(5));
    }
    let out = child
        .wait_with_output()
        .map_err(|e| format!("waitpid: {e}"))?;
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    Ok((out.status.success(), text))
}

fn create(name: &str, maxmsg: usize, msgsize: usize) -> Result {
    let queue = Queue::create(name, MQ_OFlag::O_RDWR, maxmsg, msgsize)?;
    println!(
        "created {name}: maxmsg {maxmsg}, msgsize {msgsize}, mode 0600; it stays until `mq-demo unlink {name}`"
    );
    queue.keep_name();
    Ok(())
}

fn send(name: &str, messages: &[String], priority: u32) -> Result {
    let queue = Queue::open(name, MQ_OFlag::O_WRONLY | MQ_OFlag::O_NONBLOCK)?;
    for message in messages {
        let len = message.len();
        if len > queue.msgsize() {
            // mq_msgsize is fixed when a queue is created, and no queue may exceed msgsize_max.
            let limit = msgsize_max()?;
            let fix = if len > limit {
                format!(
                    "no queue may hold it: /proc/sys/fs/mqueue/msgsize_max is {limit} (raise it as root with sysctl fs.mqueue.msgsize_max={len}, then recreate the queue)"
                )
            } else {
                format!(
                    "recreate the queue (its messages are lost): mq-demo unlink {name}, then mq-demo create {name} --msgsize {len}"
                )
            };
            return Err(format!(
                "message of {len} bytes exceeds the queue's mq_msgsize ({}); {fix}",
                queue.msgsize()
            )
            .into());
        }
        match queue.send(message.as_bytes(), priority) {
            Ok(()) => println!("sent prio {priority}, {} bytes: {message:?}", message.len()),
            Err(Errno::EAGAIN) => {
                let attr = queue.attr().map_err(|e| queue.error("mq_getattr", e))?;
                return Err(format!(
                    "mq_send {name}: EAGAIN: the queue is full ({} of {} messages); receive some first (mq-demo receive {name})",
                    attr.curmsgs(),
                    attr.maxmsg()
                )
                .into());
            }
            Err(e) => return Err(queue.error("mq_send", e).into()),
        }
    }
    Ok(())
}

fn receive(name: &str, wait: Duration) -> Result {
    let queue = Queue::open(name, MQ_OFlag::O_RDONLY | MQ_OFlag::O_NONBLOCK)?;
    if !wait.is_zero() {
        println!(
            "waiting up to {} s for a message on {name} (send one from another terminal)",
            wait.as_secs()
        );
    }
    let until = Instant::now() + wait;
    // Wait for the first message in 100 ms slices: a queue descriptor can be poll()ed.
    while let Some(left) = until.checked_duration_since(Instant::now()) {
        check_stop()?;
        let slice = PollTimeout::try_from(left.min(Duration::from_millis(100)))
            .unwrap_or(PollTimeout::ZERO);
        let mut fds = [PollFd::new(queue.as_fd(), PollFlags::POLLIN)];
        match poll(&mut fds, slice) {
            Ok(0) | Err(Errno::EINTR) => {}
            Ok(_) => break,
            Err(e) => return Err(queue.error("poll", e).into()),
        }
    }
    let mut buf = vec![0; queue.msgsize()]; // must hold the largest message the queue allows
    let mut count = 0;
    loop {
        match queue.receive(&mut buf) {
            Ok((len, priority)) => {
                count += 1;
                println!(
                    "received prio {priority}, {len} bytes: {:?}",
                    String::from_utf8_lossy(&buf[..len])
                );
            }
            Err(Errno::EAGAIN) => break,
            Err(e) => return Err(queue.error("mq_receive", e).into()),
        }
    }
    if count == 0 && wait.is_zero() {
        println!("{name} is empty");
    } else if count == 0 {
        println!("waited {} s: no message came to {name}", wait.as_secs());
    }
    Ok(())
}

fn attr(name: &str) -> Result {
    let queue = Queue::open(name, MQ_OFlag::O_RDONLY)?;
    let attr = queue.attr().map_err(|e| queue.error("mq_getattr", e))?;
    println!(
        "{name}: maxmsg {}, msgsize {}, curmsgs {} (messages waiting now)",
        attr.maxmsg(),
        attr.msgsize(),
        attr.curmsgs()
    );
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Step 4: flow control
// ---------------------------------------------------------------------------------------------

/// A measured duration, in µs below a millisecond.
fn ms(d: Duration) -> String {
    if d < Duration::from_millis(1) {
        format!("{} µs", d.as_micros())
    } else {
        format!("{:.1} ms", d.as_secs_f64() * 1000.0)
    }
}

fn flow(name: &str) -> Result {
    println!("\nStep 4. Flow control: a queue of 3 messages");
    let mut queue = Queue::create(name, MQ_OFlag::O_RDWR, 3, 64)?;
    let nonblocking = Queue::open(name, MQ_OFlag::O_WRONLY | MQ_OFlag::O_NONBLOCK)?;
    queue.unlink()?; // both descriptors are open; the forked worker below inherits them
    for i in 1..=3 {
        queue
            .send(format!("temperature: {}", 40 + i).as_bytes(), 0)
            .map_err(|e| queue.error("mq_send", e))?;
    }
    let attr = queue.attr().map_err(|e| queue.error("mq_getattr", e))?;
    println!(
        "  sent 3 messages without waiting; mq_getattr: curmsgs {} of maxmsg {}",
        attr.curmsgs(),
        attr.maxmsg()
    );

    let start = Instant::now();
    let result = nonblocking.send(b"temperature: 44", 0);
    println!(
        "  O_NONBLOCK descriptor: mq_send -> {} after {} (nothing sent)",
        outcome(result),
        ms(start.elapsed())
    );

    let start = Instant::now();
    let result = queue.send_timeout(b"temperature: 44", 0, Duration::from_millis(300));
    println!(
        "  blocking descriptor: mq_timedsend, 300 ms deadline -> {} after {}",
        outcome(result),
        ms(start.elapsed())
    );
    check_stop()?;

    // A slow worker takes one message after 200 ms; the blocked sender wakes up then.
    let coordinator = getpid();
    let Some(worker) = fork_process()? else {
        child_exit(|| {
            pause(Duration::from_millis(200))?;
            parent_alive(coordinator)?;
            let mut buf = [0u8; 64];
            queue
                .receive(&mut buf)
                .map(drop)
                .map_err(|e| queue.error("mq_receive", e).into())
        });
    };
    let start = Instant::now();
    let result = send_noticing_stop(&queue, b"temperature: 44", Duration::from_secs(2))
        .inspect_err(|_| stop_child(worker))?;
    let blocked = start.elapsed();
    reap(worker, "worker")?;
    println!(
        "  blocking descriptor again, worker (pid {worker}) takes one message after 200 ms: mq_timedsend -> {} after {}",
        outcome(result),
        ms(blocked)
    );

    let mut buf = [0u8; 64];
    let mut drained = 0;
    while queue
        .attr()
        .map_err(|e| queue.error("mq_getattr", e))?
        .curmsgs()
        > 0
    {
        queue
            .receive(&mut buf)
            .map_err(|e| queue.error("mq_receive", e))?;
        drained += 1;
    }
    let start = Instant::now();
    let result = queue.receive_timeout(&mut buf, Duration::from_millis(300));
    println!(
        "  drained {drained} messages; mq_timedreceive on the empty queue, 300 ms deadline -> {} after {}",
        outcome(result.map(drop)),
        ms(start.elapsed())
    );
    check_stop()
}

/// mq_timedsend with a `timeout` deadline, in 100 ms slices: the kernel restarts a send that
/// a signal interrupts (our handlers use SA_RESTART), so one long call would not notice Ctrl-C
/// until its deadline. Err only when asked to stop; the send's own outcome is the inner result.
fn send_noticing_stop(queue: &Queue, message: &[u8], timeout: Duration) -> Result<nix::Result<()>> {
    let until = Instant::now() + timeout;
    loop {
        check_stop()?;
        let left = until.saturating_duration_since(Instant::now());
        let slice = left.min(Duration::from_millis(100));
        match queue.send_timeout(message, 0, slice) {
            Err(Errno::ETIMEDOUT) if slice < left => continue,
            result => return Ok(result),
        }
    }
}

fn outcome(result: nix::Result<()>) -> String {
    match result {
        Ok(()) => "sent".into(),
        Err(e) => format!("{e:?} ({})", e.desc()),
    }
}

// ---------------------------------------------------------------------------------------------
// Step 5: limits
// ---------------------------------------------------------------------------------------------

fn limits(name: &str) -> Result {
    let (size_max, count_max) = (msgsize_max()?, msg_max()?);
    println!(
        "\nStep 5. Limits on this machine: /proc/sys/fs/mqueue/msgsize_max {size_max}, msg_max {count_max}, queues_max {}; RLIMIT_MSGQUEUE {} bytes",
        queues_max()?,
        rlimit_msgqueue()?
    );
    // Root (CAP_SYS_RESOURCE) may exceed msgsize_max and msg_max, so Queue::create checks them
    // itself: the demo refuses the same queues for everybody.
    if nix::unistd::geteuid().is_root() {
        println!(
            "  (running as root: the kernel would allow the first two; mq-demo refuses them as it would for a user)"
        );
    }
    for (maxmsg, msgsize) in [(1, size_max + 1), (count_max + 1, 64)] {
        match Queue::create(name, MQ_OFlag::O_RDWR, maxmsg, msgsize) {
            Ok(_) => println!("  create maxmsg {maxmsg}, msgsize {msgsize}: created (unexpected)"),
            Err(e) => println!("  create maxmsg {maxmsg}, msgsize {msgsize}: refused: {e}"),
        }
    }

    let queue = Queue::create(name, MQ_OFlag::O_RDWR | MQ_OFlag::O_NONBLOCK, 1, 64)?;
    let result = queue.send(&[b'x'; 65], 0);
    println!(
        "  send 65 bytes to a queue whose msgsize is 64: mq_send -> {}",
        outcome(result)
    );
    drop(queue);

    // The per-user byte budget: lower this process's soft limit for one mq_open, then restore.
    let (soft, hard) =
        getrlimit(Resource::RLIMIT_MSGQUEUE).map_err(|e| format!("getrlimit: {e}"))?;
    setrlimit(Resource::RLIMIT_MSGQUEUE, 4096, hard)
        .map_err(|e| format!("setrlimit RLIMIT_MSGQUEUE: {e}"))?;
    let result = Queue::create(name, MQ_OFlag::O_RDWR, 10, 1024);
    setrlimit(Resource::RLIMIT_MSGQUEUE, soft, hard)
        .map_err(|e| format!("setrlimit RLIMIT_MSGQUEUE: {e}"))?;
    match result {
        Ok(_) => println!(
            "  RLIMIT_MSGQUEUE lowered to 4096 bytes, create 10 x 1024: created (unexpected)"
        ),
        Err(e) => {
            println!("  RLIMIT_MSGQUEUE lowered to 4096 bytes, create 10 x 1024: refused: {e}")
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Step 6: both directions, and no EOF
// ---------------------------------------------------------------------------------------------

fn duplex_and_no_eof() -> Result {
    println!(
        "\nStep 6. Both ways, and no EOF: mq_demo::duplex = one queue per direction + a liveness pipe"
    );
    println!(
        "  (a queue never reports that the last sender is gone, so each side also holds the only"
    );
    println!(
        "  write end of a pipe the other side polls: the kernel closes it when the process dies)"
    );
    const SIZE: usize = 64;
    const ROUND_TRIPS: usize = 1000;
    let (mut end, peer_end) = mq_demo::duplex(SIZE)?; // names already unlinked
    let Some(echo) = fork_process()? else {
        drop(end); // the child keeps only its own end
        child_exit(|| echo_messages(peer_end));
    };
    drop(peer_end); // or this process would keep the echo's liveness pipe open itself

    let mut buf = [0u8; SIZE];
    for i in 0..ROUND_TRIPS {
        check_stop().inspect_err(|_| stop_child(echo))?;
        buf.iter_mut()
            .enumerate()
            .for_each(|(j, b)| *b = (i + j) as u8); // changes every message
        end.write_all(&buf)?;
        end.read_exact(&mut buf).inspect_err(|_| stop_child(echo))?;
        if buf.iter().enumerate().any(|(j, b)| *b != !((i + j) as u8)) {
            stop_child(echo);
            return Err(format!("round trip {i}: the reply is not the inverted message").into());
        }
    }
    println!(
        "  {ROUND_TRIPS} round trips of {SIZE}-byte messages with the echo process (pid {echo}); every byte checked"
    );

    kill(echo, Signal::SIGKILL).map_err(|e| format!("kill {echo}: {e}"))?;
    let start = Instant::now();
    let n = end.read(&mut buf)?; // no message will ever come: without the pipe, this would hang
    let waited = start.elapsed();
    waitpid(echo, None).map_err(|e| format!("waitpid {echo}: {e}"))?;
    println!(
        "  then killed it with SIGKILL and called read(): {n} bytes (EOF) after {}, instead of waiting forever",
        ms(waited)
    );
    Ok(())
}

/// The echo process: inverts every byte of each message and sends it back, until EOF.
fn echo_messages(mut end: mq_demo::End) -> Result {
    let mut buf = [0u8; 64];
    loop {
        match end.read_exact(&mut buf) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(()), // parent gone
            Err(e) => return Err(e.into()),
        }
        buf.iter_mut().for_each(|b| *b = !*b);
        end.write_all(&buf)?;
    }
}

/// Kills and reaps a child on the way out of a failed step.
fn stop_child(child: Pid) {
    let _ = kill(child, Signal::SIGKILL);
    let _ = waitpid(child, None);
}

// ---------------------------------------------------------------------------------------------
// Step 7: the mpsc analog
// ---------------------------------------------------------------------------------------------

fn mpsc_analog() -> Result {
    println!(
        "\nStep 7. The mpsc analog: threads, typed Tasks, the same boundaries (but FIFO, no priorities)"
    );
    let (tx, rx) = mpsc::channel();
    let sender = thread::spawn(move || {
        for (task_type, payload) in [
            (2, "compress file.dat"),
            (1, "resize photo.jpg"),
            (3, "alert: temperature: 42"),
        ] {
            // A send fails only when the receiver is gone; then there is nobody to tell.
            if tx
                .send(Task {
                    task_type,
                    payload: payload.into(),
                })
                .is_err()
            {
                break;
            }
        }
    }); // tx is dropped when the thread ends: that is the receiver's end of stream
    let mut count = 0;
    for task in rx {
        count += 1;
        println!(
            "  received Task {{ task_type: {}, payload: {:?} }}",
            task.task_type, task.payload
        );
    }
    sender.join().map_err(|_| "mpsc sender thread panicked")?;
    println!(
        "  observed: {count} Tasks arrived as whole values, in sending order; no encoding, no kernel"
    );
    Ok(())
}
