//! mq-demo: POSIX message queues, run and observed. Mirrors the lecture's "Message Queues"
//! section: the kernel keeps each message whole, delivers the highest priority first, and keeps
//! a named queue alive after every process that used it has gone.
//!
//! The whole tour (`tour` below; each step makes its own queue, named after this run's pid,
//! and removes it before it ends):
//!
//!     cargo run -p mq-demo
//!
//! Its steps, each also a subcommand (`cargo run -p mq-demo -- flow`) and a file in src/:
//! 1 `dispatch` (coordinator and worker processes, Tasks by priority; `--work-ms 200` makes the
//! worker slow enough to watch), 2 `boundaries` (pipe vs queue), 3 `persistence`, 4 `flow`
//! (full queue, O_NONBLOCK, timeouts), 5 `limits`, 6 `duplex` (both ways, and noticing a dead
//! peer, which a queue alone cannot), 7 `mpsc` (the thread analog), 8 `by-type` (a System V
//! queue: a system-wide key, messages chosen by type).
//!
//! Persistence by hand, one process per operation, TLPI style (pmsg_create, pmsg_send, ...;
//! these subcommands live in src/persistence.rs, beside the step that runs them):
//!
//!     cargo run -p mq-demo -- create /jobs
//!     cargo run -p mq-demo -- send /jobs "temperature: 42" "temperature: 43"
//!     cargo run -p mq-demo -- send /jobs --priority 5 "alert: temperature: 99"
//!     cargo run -p mq-demo -- attr /jobs
//!     cargo run -p mq-demo -- receive /jobs
//!     cargo run -p mq-demo -- unlink /jobs
//!
//! A receiver that waits, in two terminals (the same name, created afresh):
//!
//!     cargo run -p mq-demo -- create /jobs                    # terminal 1
//!     cargo run -p mq-demo -- receive /jobs --wait 60         # terminal 1: waits
//!     cargo run -p mq-demo -- send /jobs "temperature: 42"    # terminal 2: wakes it
//!     cargo run -p mq-demo -- unlink /jobs                    # either terminal
//!
//! Queues live in a virtual file system: to see /jobs there before `unlink`, mount it once as
//! root (`mount -t mqueue none /dev/mqueue`) and run `ls -l /dev/mqueue`.
//!
//! The queue code itself is in src/lib.rs (owner, limits, Task encoding, the duplex endpoints
//! that compare measures). Linux only: on other systems `main` says so and exits.
//!
//! Code to copy: the lecture's snippets stand alone in `examples/`, one file each,
//! using nothing of this workspace (`task_send`, `task_receive`, `task_mpsc`, `sysv_queue`):
//! `cargo run -p mq-demo --example NAME`.

mod boundaries;
mod by_type;
mod dispatch;
mod duplex;
mod flow;
mod limits;
mod mpsc;
mod persistence;
mod report;

/// The whole tour: every step in order, each with a queue name of its own.
#[cfg(target_os = "linux")]
fn tour() -> plumbing::Result {
    println!("mq-demo: POSIX message queues, observed on this machine");
    let pid = std::process::id();
    println!("queue names this run: /ipc-tour-mq-{pid}-<random>, a new one for each step");
    for stale in mq_demo::remove_stale_queues() {
        println!("removed {stale}: left by a run that was killed (its pid is gone)");
    }
    let names: [String; 5] = std::array::from_fn(|_| mq_demo::unique_name());
    dispatch::run(&names[0], std::time::Duration::ZERO)?; // 1. Tasks by priority
    boundaries::run(&names[1])?; // 2. whole messages, where a pipe merges
    persistence::run(&names[2])?; // 3. the queue outlives the processes
    flow::run(&names[3])?; // 4. full queue, O_NONBLOCK, timeouts
    limits::run(&names[4])?; // 5. the /proc limits and RLIMIT_MSGQUEUE
    duplex::run()?; // 6. both ways, and a dead peer noticed
    mpsc::run()?; // 7. the thread analog; after the steps that fork, as it starts threads
    by_type::run()?; // 8. System V: a key, and messages chosen by type
    let gone = names.iter().filter(|name| gone(name)).count();
    println!(
        "\nDone. mq_open gives ENOENT for {gone} of the {} names used: nothing is left behind.",
        names.len()
    );
    Ok(())
}

/// mq_open gives ENOENT: no queue has this name any more.
#[cfg(target_os = "linux")]
fn gone(name: &str) -> bool {
    use mq_demo::Queue;
    use nix::mqueue::MQ_OFlag;
    Queue::open(name, MQ_OFlag::O_RDONLY).is_err_and(|e| e.kind() == std::io::ErrorKind::NotFound)
}

#[cfg(target_os = "linux")]
#[derive(clap::Parser)]
#[command(
    after_help = "Code to copy, one lecture snippet per file (examples/):\n  cargo run -p mq-demo --example task_send\n  cargo run -p mq-demo --example task_receive\n  cargo run -p mq-demo --example task_mpsc\n  cargo run -p mq-demo --example sysv_queue",
    name = "mq-demo",
    about = "POSIX message queues, run and observed (lecture: Message Queues)"
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

/// The tour, one of its steps, or one operation on a named queue.
#[cfg(target_os = "linux")]
#[derive(clap::Subcommand)]
enum Command {
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
    /// Step 8: a System V queue: a key from ftok, messages chosen by type
    ByType,
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

#[cfg(target_os = "linux")]
fn parse_name(name: &str) -> Result<String, String> {
    mq_demo::check_name(name).map(|()| name.to_owned())
}

#[cfg(target_os = "linux")]
fn main() -> std::process::ExitCode {
    plumbing::program::main::<Cli>("mq-demo", run)
}

#[cfg(target_os = "linux")]
fn run(cli: Cli) -> plumbing::Result {
    use plumbing::stop::{self, Owns};
    use std::time::Duration;

    let command = cli.command.unwrap_or(Command::Tour);
    // A stop signal ends every loop below, and the owners on the way out remove the queues.
    // The one-operation subcommands and the mpsc step leave no queue that a stop would remove.
    stop::catch(match command {
        Command::Create { .. }
        | Command::Send { .. }
        | Command::Receive { .. }
        | Command::Attr { .. }
        | Command::Unlink { .. }
        | Command::Mpsc => Owns::Nothing,
        _ => Owns::Objects,
    })?;
    let new_name = mq_demo::unique_name;
    match command {
        Command::Tour => tour(),
        Command::Dispatch { work_ms } => dispatch::run(&new_name(), Duration::from_millis(work_ms)),
        Command::Boundaries => boundaries::run(&new_name()),
        Command::Persistence => persistence::run(&new_name()),
        Command::Flow => flow::run(&new_name()),
        Command::Limits => limits::run(&new_name()),
        Command::Duplex => duplex::run(),
        Command::Mpsc => mpsc::run(),
        Command::ByType => by_type::run(),
        Command::Create {
            name,
            maxmsg,
            msgsize,
        } => persistence::create(&name, maxmsg as usize, msgsize as usize),
        Command::Send {
            name,
            messages,
            priority,
        } => persistence::send(&name, &messages, priority),
        Command::Receive { name, wait } => persistence::receive(&name, Duration::from_secs(wait)),
        Command::Attr { name } => persistence::attr(&name),
        Command::Unlink { name } => persistence::unlink(&name),
    }
}

/// POSIX message queues exist on Linux and a few other systems, but not on macOS, and this
/// demo needs Linux's own: queue descriptors that poll() accepts, and /proc/sys/fs/mqueue.
#[cfg(not(target_os = "linux"))]
fn main() -> std::process::ExitCode {
    eprintln!(
        "mq-demo: cannot run on {}: this demo needs Linux POSIX message queues (pollable queue \
         descriptors, /proc/sys/fs/mqueue limits)",
        std::env::consts::OS
    );
    std::process::ExitCode::FAILURE
}
