//! shm-demo: POSIX shared memory, run for real: the lecture's "Shared Memory: Fastest, But You
//! Own Coordination". Two processes map the same physical pages: no copy through the kernel,
//! and no help from it either. Each step prints what this machine did; the tour's objects have
//! unique names, removed at the end, also on Ctrl-C.
//!
//! Usage:
//!     cargo run -p shm-demo                          # the whole tour, steps 1 to 12
//!     cargo run -p shm-demo -- counter               # one step, by name or number (`-- 8`)
//!     cargo run -p shm-demo -- write /sensor_data    # then `read`, then `unlink`
//!     cargo run --release -p shm-demo -- ring --mode futex --messages 100000 --size 4096
//!     cargo run -p shm-demo -- memfd-receive         # then `memfd-send PATH` elsewhere
//!     cargo run -p shm-demo -- --help                # lists the steps
//!
//! See also: shm_overview(7), shm_open(3), mmap(2), memfd_create(2), futex(2); the lecture's
//! snippets stand alone in `examples/`: `cargo run -p shm-demo --example NAME`.

mod roles;
mod tour;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};
use plumbing::Result;
use plumbing::child::die_with_tour;
use plumbing::stop::Owns;
use shm_demo::MAX_MSG_SIZE;

use tour::alone;
use tour::ring::RingMode;

fn main() -> ExitCode {
    plumbing::program::main::<Cli>("shm-demo", run)
}

/// The tour: steps 1 to 12 in order, then the lecture's claims they checked.
fn tour(args: &TourArgs) -> Result {
    tour::begin()?; // the first line; objects a killed tour left are removed
    tour::isolation::run()?; // 1. fork: copies, unless MAP_SHARED
    tour::zero_copy::run()?; // 2. a frame: pipe 2 copies, shm none
    let object = tour::create::run()?; // 3. shm_open + ftruncate + mmap, mode 0600
    tour::written::run(&object)?; // 4. another process writes; we see it
    tour::outlives::run(&object)?; // 5. the writer exited; another reads it
    tour::foreign::run()?; // 6. the header refuses another program's object
    tour::memfd::run()?; // 7. a sealed memfd passed over a socket: no name
    tour::counter::run(args.increments)?; // 8. two processes, one counter
    tour::ring::run(RingMode::Spin, args.messages, 64, None)?; // 9. a ring, spinning
    tour::ring::run(RingMode::Futex, args.messages, 64, None)?; // 10. a ring, on a futex
    tour::peer_death::run()?; // 11. the peer SIGKILLed while we wait
    tour::unlinked::run(object)?; // 12. shm_unlink: the name is gone
    plumbing::verdict::print(); // the lecture, checked on this machine
    Ok(())
}

/// The whole tour, one step alone (ending with the claims it checked), or one role.
fn run(cli: Cli) -> Result {
    let Some(step) = cli.command else {
        return tour(&cli.tour);
    };
    one(step)?;
    plumbing::verdict::print(); // nothing for a role: roles record no claim
    Ok(())
}

/// One step alone, or one role.
fn one(step: Step) -> Result {
    use tour::{create, written};
    match step {
        // One operation each, like TLPI's pshm_*: Ctrl-C ends them at once.
        Step::Write { name, temp } => roles::write::run(&name, temp),
        Step::Read { name } => roles::read::run(&name),
        Step::Unlink { name } => roles::unlink::run(&name),
        // Anonymous mappings and children only: nothing named to remove on Ctrl-C.
        Step::Isolation => alone(Owns::Nothing, tour::isolation::run),
        Step::ZeroCopy => alone(Owns::Nothing, tour::zero_copy::run),
        // A step that needs the object of step 3 makes it first, without step 3's lines.
        Step::Create => alone(Owns::Objects, || create::run().map(drop)),
        Step::Written => alone(Owns::Objects, || written::run(&create::quietly()?)),
        Step::Outlives => alone(Owns::Objects, || {
            let object = create::quietly()?;
            written::quietly(&object)?;
            tour::outlives::run(&object)
        }),
        Step::Foreign => alone(Owns::Objects, tour::foreign::run),
        Step::Memfd => alone(Owns::Objects, tour::memfd::run),
        // The two roles of the memfd step, by hand in two terminals or started by the tour.
        Step::MemfdReceive { socket, parent_pid } => {
            die_with_tour(parent_pid)?;
            let indent = roles::indent(parent_pid);
            alone(Owns::Objects, || {
                roles::memfd_receive::run(socket.as_deref(), indent)
            })
        }
        Step::MemfdSend {
            socket,
            hold,
            parent_pid,
        } => {
            die_with_tour(parent_pid)?;
            let indent = roles::indent(parent_pid);
            alone(Owns::Nothing, || {
                roles::memfd_send::run(&socket, hold, indent)
            })
        }
        Step::Counter { increments } => alone(Owns::Nothing, || tour::counter::run(increments)),
        Step::Ring {
            mode,
            messages,
            size,
            corrupt_after,
        } => alone(Owns::Nothing, || {
            tour::ring::run(mode, messages, size as usize, corrupt_after)
        }),
        Step::PeerDeath => alone(Owns::Nothing, tour::peer_death::run),
        Step::Unlinked => alone(Owns::Objects, || tour::unlinked::run(create::quietly()?)),
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
    /// 1. A forked child writes its reading over its parent's: seen only through MAP_SHARED
    #[command(alias = "1")]
    Isolation,
    /// 2. An 8 MiB frame from one process to another: a pipe copies it twice, shared memory not
    #[command(alias = "2")]
    ZeroCopy,
    /// 3. shm_open + ftruncate + mmap make a named object, mode 0600, that /dev/shm shows
    #[command(alias = "3")]
    Create,
    /// 4. Another process writes a reading into the object and exits; our mapping shows it
    #[command(alias = "4")]
    Written,
    /// 5. The writer has exited; the object has not, and yet another process reads it
    #[command(alias = "5")]
    Outlives,
    /// 6. The object's header makes `read` refuse another program's object
    #[command(alias = "6")]
    Foreign,
    /// 7. A sealed memfd frame passed to another program over a Unix socket: no name anywhere
    #[command(alias = "7")]
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
    /// 8. Two processes increment one shared counter: unsynchronized, fetch_add, and a lock
    #[command(alias = "8")]
    Counter {
        /// Increments per process
        #[arg(long, default_value_t = 1_000_000, allow_negative_numbers = true,
              value_parser = whole_number::<u64>(1, 100_000_000, "increments"))]
        increments: u64,
    },
    /// 9. and 10. A child echoes verified messages back through the shared-memory rings
    #[command(alias = "9", alias = "10")]
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
    /// 11. A peer SIGKILLed while the other side waits in read(): how soon it returns
    #[command(alias = "11")]
    PeerDeath,
    /// 12. shm_unlink: the name is gone from /dev/shm, and `read` says so
    #[command(alias = "12")]
    Unlinked,
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
