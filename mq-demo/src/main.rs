//! mq-demo: POSIX message queues, run and observed. Mirrors the lecture's "Message Queues"
//! section: the kernel keeps each message whole, delivers the highest priority first, and keeps
//! a named queue alive after every process that used it has gone. Each step makes its own
//! queue, named after this run's pid, and removes it before it ends.
//!
//! Usage:
//!     cargo run -p mq-demo                     # the whole tour, steps 1 to 8, and the
//!                                              # lecture's claims, checked
//!     cargo run -p mq-demo -- flow             # one step, by name or by number (`-- 4`)
//!     cargo run -p mq-demo -- dispatch --work-ms 200   # a worker slow enough to watch
//!     cargo run -p mq-demo -- --help           # lists the steps and the by-hand operations
//!
//! Persistence by hand, one process per operation, TLPI style (`create /jobs`, `send`, ...):
//! the commands are in the roles' header (roles/mod.rs).
//!
//! See also: mq_overview(7), svipc(7); the lecture's snippets, standalone, in `examples/`.

mod roles;
mod tour;

#[cfg(target_os = "linux")]
fn main() -> std::process::ExitCode {
    plumbing::program::main::<Cli>("mq-demo", run)
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

/// The whole tour: every step in order, each with a queue name of its own.
#[cfg(target_os = "linux")]
fn tour() -> plumbing::Result {
    use std::time::Duration;

    let names = tour::start(); // this run's queue names, once a killed run's are removed
    tour::dispatch::run(&names[0], Duration::ZERO)?; // 1. Tasks by priority
    tour::boundaries::run(&names[1])?; // 2. whole messages, where a pipe merges
    tour::persistence::run(&names[2])?; // 3. the queue outlives the processes
    tour::flow::run(&names[3])?; // 4. full queue, O_NONBLOCK, timeouts
    tour::limits::run(&names[4])?; // 5. the /proc limits and RLIMIT_MSGQUEUE
    let duplex_names = tour::duplex::run(&names[5])?; // 6. one queue or two, both ways
    tour::mpsc::run()?; // 7. the thread analog; after the steps that fork, as it starts threads
    let sysv = tour::by_type::run()?; // 8. System V: a key, and messages chosen by type
    tour::left_behind::check(&names, &duplex_names, &sysv) // Done: nothing left behind
    // (then `run` prints the lecture's claims, as the steps observed them)
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
    let result = match command {
        Command::Tour => tour(),
        Command::Dispatch { work_ms } => {
            tour::dispatch::run(&new_name(), Duration::from_millis(work_ms))
        }
        Command::Boundaries => tour::boundaries::run(&new_name()),
        Command::Persistence => tour::persistence::run(&new_name()),
        Command::Flow => tour::flow::run(&new_name()),
        Command::Limits => tour::limits::run(&new_name()),
        Command::Duplex => tour::duplex::run(&new_name()).map(drop),
        Command::Mpsc => tour::mpsc::run(),
        Command::ByType => tour::by_type::run().map(drop),
        Command::Create {
            name,
            maxmsg,
            msgsize,
        } => roles::create::run(&name, maxmsg as usize, msgsize as usize),
        Command::Send {
            name,
            messages,
            priority,
        } => roles::send::run(&name, &messages, priority),
        Command::Receive { name, wait } => roles::receive::run(&name, Duration::from_secs(wait)),
        Command::Attr { name } => roles::attr::run(&name),
        Command::Unlink { name } => roles::unlink::run(&name),
        Command::SysvPairCheck { mode, delay_ms } => {
            roles::sysv_pair_check::run(&mode, Duration::from_millis(delay_ms))
        }
    };
    result?;
    // The tour, or a step run alone, ends with the lecture's claims it checked, one line
    // each; a role checks none and prints nothing here.
    plumbing::verdict::print();
    Ok(())
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

/// The tour, one of its steps (by name or by number), or one operation on a named queue.
#[cfg(target_os = "linux")]
#[derive(clap::Subcommand)]
enum Command {
    /// Run every step (the default)
    Tour,
    /// Step 1: coordinator and worker processes; Tasks by priority
    #[command(alias = "1", next_line_help = true)]
    Dispatch {
        /// Milliseconds the worker spends on each Task (0 to 10000)
        #[arg(long, default_value_t = 0, value_parser = clap::value_parser!(u64).range(0..=10_000))]
        work_ms: u64,
    },
    /// Step 2: the same three writes through a pipe and through a queue
    #[command(alias = "2")]
    Boundaries,
    /// Step 3: create, send, attr, receive, unlink: separate processes
    #[command(alias = "3")]
    Persistence,
    /// Step 4: a full queue blocks; O_NONBLOCK gives EAGAIN; timeouts
    #[command(alias = "4")]
    Flow,
    /// Step 5: msgsize_max, msg_max, RLIMIT_MSGQUEUE: each limit met
    #[command(alias = "5")]
    Limits,
    /// Step 6: one queue or two for both ways, and noticing a dead peer
    #[command(alias = "6")]
    Duplex,
    /// Step 7: std::sync::mpsc, the in-process analog
    #[command(alias = "7")]
    Mpsc,
    /// Step 8: a System V queue: a key from ftok, messages by type
    #[command(alias = "8")]
    ByType,
    /// Create a queue that outlives this process (mode 0600, a new name)
    #[command(next_line_help = true)]
    Create {
        /// Name of the new queue: '/' then 1 to 255 characters, no other '/'
        /// (e.g. /jobs)
        #[arg(value_parser = parse_name, verbatim_doc_comment)]
        name: String,
        /// Most messages the queue holds, 1 to 65536 (above
        /// /proc/sys/fs/mqueue/msg_max is refused)
        #[arg(verbatim_doc_comment, long, default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..=65_536))]
        maxmsg: u64,
        /// Largest message in bytes, 1 to 16777216 (above
        /// /proc/sys/fs/mqueue/msgsize_max is refused)
        #[arg(verbatim_doc_comment, long, default_value_t = 8192, value_parser = clap::value_parser!(u64).range(1..=16_777_216))]
        msgsize: u64,
    },
    /// Send each MESSAGE as one message (never blocks: full is an error)
    #[command(next_line_help = true)]
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
    /// Take every waiting message off the queue, highest priority first
    ///
    /// Receiving is for good: a message taken is gone from the queue.
    /// A closed stdout is noticed before each message, but
    /// `mq-demo receive Q | head -1` may still take messages that head
    /// never shows, if head has not exited yet.
    #[command(verbatim_doc_comment, next_line_help = true)]
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
    /// Remove the queue's name (mq_unlink); open descriptors keep it
    Unlink {
        /// Queue name to remove
        #[arg(value_parser = parse_name)]
        name: String,
    },
    /// For the tests: two processes around one System V duplex pair (roles/sysv_pair_check.rs)
    #[command(hide = true)]
    SysvPairCheck {
        /// creator-closes or peer-killed
        mode: String,
        /// Milliseconds the peer waits before it reads (creator-closes)
        #[arg(long, default_value_t = 0, value_parser = clap::value_parser!(u64).range(0..=5000))]
        delay_ms: u64,
    },
}

#[cfg(target_os = "linux")]
fn parse_name(name: &str) -> Result<String, String> {
    mq_demo::check_name(name).map(|()| name.to_owned())
}
