//! shm-demo: POSIX shared memory, run for real. Lecture section "Shared Memory: Fastest, But
//! You Own Coordination". Two processes map the same physical pages: no copy through the
//! kernel, and no help from it either.
//!
//! ```text
//! cargo run -p shm-demo                                   # the whole tour, below
//! cargo run -p shm-demo -- write /sensor_data --temp 42   # then `read`, then `unlink`
//! cargo run --release -p shm-demo -- counter --increments 5000000
//! cargo run --release -p shm-demo -- ring --mode futex --messages 100000 --size 4096
//! cargo run -p shm-demo -- memfd-receive                  # then, in another terminal,
//! cargo run -p shm-demo -- memfd-send PATH                # PATH as memfd-receive printed
//! ```
//!
//! `tour` below is the table of contents: one numbered step per call, each in the file it
//! names, printing what this machine did. The subcommands (`--help`) run one role or one step
//! and live beside it. The mechanism (object, header, rings) is `src/lib.rs`, which `compare`
//! measures. The tour's objects have unique names, removed at the end, also on Ctrl-C.
//!
//! Code to copy: the lecture's snippets stand alone in `examples/`, one file each,
//! using nothing of this workspace (`shm_write`, `shm_read`, `shm_unlink`, `shm_counter`,
//! `memfd_send`, `memfd_receive`):
//! `cargo run -p shm-demo --example NAME`.

mod counter;
mod foreign_object;
mod isolation;
mod memfd_frame;
mod memfd_handoff;
mod memfd_roles;
mod memfd_socket;
mod peer_death;
mod persistence;
mod ring_demo;
mod units;
mod zero_copies;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};
use plumbing::Result;
use plumbing::stop::{self, Owns};
use shm_demo::{Coordination, MAX_MSG_SIZE};

use ring_demo::RingMode;

/// The tour's step numbers, which a subcommand prints too when it runs that step alone.
const ISOLATION: usize = 1;
const ZERO_COPIES: usize = 2;
const MEMFD: usize = 7;
const COUNTER_STEP: usize = 8;
/// The ring steps: spinning, then futex.
const RING_STEPS: [usize; 2] = [9, 10];
const PEER_DEATH: usize = 11;

fn tour(args: &TourArgs) -> Result {
    stop::catch(Owns::Objects)?;
    let pid = std::process::id();
    println!("shm-demo (pid {pid}): POSIX shared memory, the lecture's \"Shared Memory\"");
    persistence::remove_stale_objects(); // left by a tour that was SIGKILLed
    isolation::isolation_step(ISOLATION)?; // 1. fork: copies, unless MAP_SHARED
    zero_copies::zero_copy_step(ZERO_COPIES)?; // 2. a frame: pipe 2 copies, shm none
    let object = persistence::create()?; // 3. shm_open + ftruncate + mmap, mode 0600
    persistence::written_elsewhere(&object)?; // 4. another process writes; we see it
    persistence::outlives_its_writer(&object)?; // 5. the writer exited; another reads it
    foreign_object::refused()?; // 6. the header refuses another program's object
    memfd_handoff::memfd_step(MEMFD)?; // 7. a sealed memfd passed over a socket: no name
    counter::lost_updates(COUNTER_STEP, args.increments)?; // 8. two processes, one counter
    let (messages, [spin, futex]) = (args.messages, RING_STEPS);
    ring_demo::ring_step(spin, Coordination::Spin, messages, 64)?; // 9. a ring, spinning
    ring_demo::ring_step(futex, Coordination::Futex, messages, 64)?; // 10. a ring, on a futex
    peer_death::peer_death_step(PEER_DEATH)?; // 11. the peer SIGKILLed while we wait
    persistence::unlinked(object) // 12. shm_unlink: the name is gone
}

fn main() -> ExitCode {
    plumbing::program::main::<Cli>("shm-demo", run)
}

fn run(cli: Cli) -> Result {
    match cli.command {
        None => tour(&cli.tour),
        // One operation each, like TLPI's pshm_*: Ctrl-C ends them at once.
        Some(Step::Write { name, temp }) => persistence::write_reading(&name, temp),
        Some(Step::Read { name }) => persistence::read_reading(&name),
        Some(Step::Unlink { name }) => persistence::unlink_name(&name),
        // Anonymous mappings and children only: nothing named to remove on Ctrl-C.
        Some(Step::Isolation) => {
            stop::catch(Owns::Nothing)?;
            isolation::isolation_step(ISOLATION)
        }
        Some(Step::ZeroCopy) => {
            stop::catch(Owns::Nothing)?;
            zero_copies::zero_copy_step(ZERO_COPIES)
        }
        Some(Step::Memfd) => {
            stop::catch(Owns::Objects)?;
            memfd_handoff::memfd_step(MEMFD)
        }
        // The two roles of the memfd step, by hand in two terminals or started by the tour.
        Some(Step::MemfdReceive { socket, parent_pid }) => {
            die_with_tour(parent_pid)?;
            stop::catch(Owns::Objects)?;
            memfd_roles::receive(socket.as_deref(), indent(parent_pid))
        }
        Some(Step::MemfdSend {
            socket,
            hold,
            parent_pid,
        }) => {
            die_with_tour(parent_pid)?;
            stop::catch(Owns::Nothing)?;
            memfd_roles::send(&socket, hold, indent(parent_pid))
        }
        Some(Step::Counter { increments }) => {
            stop::catch(Owns::Nothing)?;
            counter::lost_updates(COUNTER_STEP, increments)
        }
        Some(Step::Ring {
            mode,
            messages,
            size,
            corrupt_after,
        }) => {
            stop::catch(Owns::Nothing)?;
            ring_demo::ring_role(mode, messages, size as usize, corrupt_after)
        }
    }
}

#[derive(Parser)]
#[command(
    after_help = "Code to copy, one lecture snippet per file (examples/):\n  cargo run -p shm-demo --example shm_write\n  cargo run -p shm-demo --example shm_read\n  cargo run -p shm-demo --example shm_unlink\n  cargo run -p shm-demo --example shm_counter\n  cargo run -p shm-demo --example memfd_send\n  cargo run -p shm-demo --example memfd_receive",
    version,
    about = "POSIX shared memory, run for real: with no subcommand, the whole tour",
    args_conflicts_with_subcommands = true
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Step>,
    #[command(flatten)]
    tour: TourArgs,
}

#[derive(Args)]
struct TourArgs {
    /// Increments per process in the lost-update step
    #[arg(long, default_value_t = 1_000_000, allow_negative_numbers = true,
          value_parser = whole_number::<u64>(1, 100_000_000, "increments"))]
    increments: u64,
    /// Round trips per mode in the ring step
    #[arg(long, default_value_t = 20_000, allow_negative_numbers = true,
          value_parser = whole_number::<u64>(1, 10_000_000, "round trips"))]
    messages: u64,
}

#[derive(Subcommand)]
enum Step {
    /// Create the object NAME if needed, store a sensor reading in it, and exit (it stays)
    Write {
        #[arg(default_value = "/sensor_data", value_parser = shm_name)]
        name: String,
        /// Temperature to store, in degrees Celsius
        #[arg(long, default_value_t = 42, allow_negative_numbers = true,
              value_parser = whole_number::<i32>(-273, 10_000, "degrees Celsius"))]
        temp: i32,
    },
    /// Print the sensor reading in NAME (made earlier by `write`, in another process)
    Read {
        #[arg(default_value = "/sensor_data", value_parser = shm_name)]
        name: String,
    },
    /// Remove NAME from /dev/shm (shm_unlink)
    Unlink {
        #[arg(default_value = "/sensor_data", value_parser = shm_name)]
        name: String,
    },
    /// A forked child writes 43 where its parent holds 42: seen only through MAP_SHARED
    Isolation,
    /// An 8 MiB frame from one process to another: a pipe copies it twice, shared memory not
    ZeroCopy,
    /// A sealed memfd frame passed to another program over a Unix socket: no name anywhere
    Memfd,
    /// Receive frames as a compositor: listen on a Unix socket, check and map the memfds
    MemfdReceive {
        /// Socket to create (default: `sock` in a new private directory, printed)
        #[arg(long)]
        socket: Option<PathBuf>,
        /// Set by the tour: die with it, and indent the output
        #[arg(long, hide = true)]
        parent_pid: Option<u32>,
    },
    /// Send frames as a client: sealed memfds, over the socket memfd-receive printed
    MemfdSend {
        /// The socket memfd-receive printed
        socket: PathBuf,
        /// After the handoff, stay connected until the receiver hangs up (at most 30 s)
        #[arg(long)]
        hold: bool,
        /// Set by the tour: die with it, and indent the output
        #[arg(long, hide = true)]
        parent_pid: Option<u32>,
    },
    /// Two processes increment one shared counter: unsynchronized, fetch_add, and a lock
    Counter {
        /// Increments per process
        #[arg(long, default_value_t = 1_000_000, allow_negative_numbers = true,
              value_parser = whole_number::<u64>(1, 100_000_000, "increments"))]
        increments: u64,
    },
    /// A child echoes verified messages back through the shared-memory rings
    Ring {
        /// How a side waits when its ring is empty or full
        #[arg(long, value_enum, default_value_t = RingMode::Both)]
        mode: RingMode,
        /// Round trips per mode
        #[arg(long, default_value_t = 20_000, allow_negative_numbers = true,
              value_parser = whole_number::<u64>(1, 1_000_000_000, "round trips"))]
        messages: u64,
        /// Bytes per message
        #[arg(long, default_value_t = 64, allow_negative_numbers = true,
              value_parser = whole_number::<u32>(1, MAX_MSG_SIZE as i64, "bytes"))]
        size: u32,
        /// For the tests: the echo side flips a byte of every message from number N on, so
        /// the check must fail (hidden from --help)
        #[arg(long, hide = true, value_name = "N",
              value_parser = whole_number::<u64>(0, i64::MAX, "messages"))]
        corrupt_after: Option<u64>,
    },
}

/// A role the tour started (it passes its pid) dies with the tour, even when the tour is
/// killed by SIGKILL. A role run by hand is left alone.
fn die_with_tour(parent_pid: Option<u32>) -> Result {
    match parent_pid {
        Some(parent) => plumbing::child::die_with_parent(i32::try_from(parent)?),
        None => Ok(()),
    }
}

/// A role's lines are indented inside the tour's output, not when run by hand.
fn indent(parent_pid: Option<u32>) -> &'static str {
    if parent_pid.is_some() { "   " } else { "" }
}

/// A POSIX shm name: "/" and 1..=254 more characters, none of them "/", and not "/." or
/// "/.." (which name /dev/shm itself and its parent), so clap rejects the rest as a usage
/// error.
fn shm_name(s: &str) -> Result<String, String> {
    let rest = s.strip_prefix('/').unwrap_or("");
    if rest.is_empty() || rest.len() > 254 || rest.contains(['/', '\0']) {
        let rule = "a shm name is \"/\" and 1 to 254 characters other than \"/\"";
        return Err(format!("{rule}, e.g. /sensor_data"));
    }
    if rest == "." || rest == ".." {
        let why = "names a directory, not an object";
        return Err(format!("\"{s}\" {why}; choose a name such as /sensor_data"));
    }
    Ok(s.to_owned())
}

/// A whole number of `unit` from `min` to `max`. clap's own integer parser says only
/// "invalid digit found in string" for `7.5` or `ten`; this says what is allowed.
fn whole_number<T: TryFrom<i64>>(
    min: i64,
    max: i64,
    unit: &'static str,
) -> impl Fn(&str) -> Result<T, String> + Clone + Send + Sync + 'static {
    move |s| {
        s.parse::<i64>()
            .ok()
            .filter(|n| (min..=max).contains(n))
            .and_then(|n| T::try_from(n).ok())
            .ok_or_else(|| format!("expected a whole number of {unit} from {min} to {max}"))
    }
}
