//! shm-demo: POSIX shared memory, run for real. Lecture section "Shared Memory: Fastest, But
//! You Own Coordination".
//!
//! Two processes map the same physical pages: no copy through the kernel, and no help from it
//! either. The tour, in numbered steps that print what this machine did:
//! - a named object (`shm_open` + `ftruncate` + `mmap`) holding the lecture's `sensor_reading`
//!   behind a magic/version/size header, outliving the process that wrote it, and a reader
//!   refusing another program's object;
//! - the lost update, for real: two processes on two CPUs add 1 to one counter N times each,
//!   without and with synchronisation, timed;
//! - a lock-free ring carrying verified messages, waiting by spinning or on a futex, and what
//!   each costs in CPU: back to back, and waiting for a slow sensor;
//! - a peer SIGKILLed while the other side waits for it.
//!
//! The whole tour (a unique object name, removed at the end, also on Ctrl-C):
//!
//! ```text
//! cargo run -p shm-demo
//! ```
//!
//! Persistence by hand: each command is its own process, and the object waits in /dev/shm
//! between them (like TLPI's pshm_create / pshm_write / pshm_read / pshm_unlink):
//!
//! ```text
//! cargo run -p shm-demo -- write /sensor_data --temp 42   # creates it, stores 42, exits
//! ls -l /dev/shm/sensor_data                               # still there: 32 bytes, -rw-------
//! cargo run -p shm-demo -- read /sensor_data               # temperature: 42 (...)
//! cargo run -p shm-demo -- unlink /sensor_data             # removed
//! cargo run -p shm-demo -- read /sensor_data               # error: No such file or directory
//! ```
//!
//! One step at a time (`--help` lists all options):
//!
//! ```text
//! cargo run --release -p shm-demo -- counter --increments 5000000
//! cargo run --release -p shm-demo -- ring --mode futex --messages 100000 --size 4096
//! ```
//!
//! The mechanism itself (object, header, rings) lives in `src/lib.rs`, shared with `compare`.

mod counter;
mod process;
mod ring_demo;

use std::error::Error;
use std::fs;
use std::io::Write as _;
use std::os::unix::fs::PermissionsExt;
use std::process::{Command, ExitCode};
use std::sync::atomic::Ordering;
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};
use nix::errno::Errno;
use nix::fcntl::OFlag;
use nix::sys::mman::{shm_open, shm_unlink};
use nix::sys::signal::kill;
use nix::sys::stat::Mode;
use nix::unistd::Pid;
use shm_demo::{Coordination, HEADER_LEN, MAX_MSG_SIZE, OBJECT_LEN, SensorObject, ShmName};

use counter::Method;
use process::{Interrupted, Stop};

#[derive(Parser)]
#[command(
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
    },
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum RingMode {
    Spin,
    Futex,
    Both,
}

/// A POSIX shm name: "/" and 1..=254 more characters, none of them "/" (so clap rejects the
/// rest as a usage error).
fn shm_name(s: &str) -> Result<String, String> {
    let rest = s.strip_prefix('/').unwrap_or("");
    if rest.is_empty() || rest.len() > 254 || rest.contains(['/', '\0']) {
        let rule = "a shm name is \"/\" and 1 to 254 characters other than \"/\"";
        return Err(format!("{rule}, e.g. /sensor_data"));
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

/// Parses the command line; a usage error becomes ONE line on stderr and exit status 2
/// (clap's own message spans several lines). --help and --version print as usual.
fn parse_cli() -> Result<Cli, ExitCode> {
    use clap::error::ErrorKind::{
        DisplayHelp, DisplayHelpOnMissingArgumentOrSubcommand, DisplayVersion,
    };
    Cli::try_parse().map_err(|err| {
        if matches!(
            err.kind(),
            DisplayHelp | DisplayHelpOnMissingArgumentOrSubcommand | DisplayVersion
        ) {
            let _ = err.print();
            return ExitCode::SUCCESS;
        }
        // clap's message up to its first blank line (before "Usage:"), joined into one line.
        let text = err.render().to_string();
        let lines: Vec<&str> = text
            .lines()
            .take_while(|l| !l.trim().is_empty())
            .map(str::trim)
            .collect();
        let message = lines.join(" ");
        eprintln!(
            "shm-demo: {}; see --help",
            message.trim_start_matches("error: ")
        );
        ExitCode::from(2)
    })
}

fn main() -> ExitCode {
    // `shm-demo | head -3`: once head exits, println! panics. Unwinding still runs every
    // owner's Drop (names unlinked, children reaped); say so in one line, not a backtrace.
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let message = info
            .payload()
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| info.payload().downcast_ref::<&str>().copied())
            .unwrap_or("");
        if message.starts_with("failed printing to stdout") {
            let _ = writeln!(std::io::stderr(), "shm-demo: stdout was closed; stopping");
        } else {
            previous(info);
        }
    }));
    let cli = match parse_cli() {
        Ok(cli) => cli,
        Err(code) => return code,
    };
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("shm-demo: {e}");
            match e.downcast_ref::<Interrupted>() {
                Some(Interrupted(signal)) => ExitCode::from(128 + *signal as u8),
                None => ExitCode::FAILURE,
            }
        }
    }
}

fn run(cli: Cli) -> Result<(), Box<dyn Error>> {
    let stop = Stop::register()?;
    match cli.command {
        None => tour(&stop, &cli.tour),
        Some(Step::Write { name, temp }) => write_reading(&name, temp),
        Some(Step::Read { name }) => read_reading(&name),
        Some(Step::Unlink { name }) => {
            shm_unlink(name.as_str()).map_err(|e| match e {
                Errno::EACCES | Errno::EPERM => format!("shm_unlink {name}: {e}; {}", whose(&name)),
                _ => format!("shm_unlink {name}: {e}"),
            })?;
            println!("removed {name} from /dev/shm (processes that still map it keep their pages)");
            Ok(())
        }
        Some(Step::Counter { increments }) => lost_updates(1, increments, &stop),
        Some(Step::Ring {
            mode,
            messages,
            size,
        }) => {
            let modes = match mode {
                RingMode::Spin => vec![Coordination::Spin],
                RingMode::Futex => vec![Coordination::Futex],
                RingMode::Both => vec![Coordination::Spin, Coordination::Futex],
            };
            for (i, mode) in modes.into_iter().enumerate() {
                ring_step(i + 1, mode, messages, size as usize, &stop)?;
            }
            Ok(())
        }
    }
}

/// `write`: create the object (or open ours), store a reading, exit. The object stays.
fn write_reading(name: &str, temp: i32) -> Result<(), Box<dyn Error>> {
    let (object, what) = match SensorObject::create(name) {
        Ok(object) => (object, "created"),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            let object = SensorObject::open(name).map_err(|e| match e.kind() {
                std::io::ErrorKind::PermissionDenied => format!("{e}; {}", whose(name)),
                _ => format!("{e}; if it is yours, remove it with `shm-demo unlink {name}`"),
            })?;
            (object, "opened the existing")
        }
        Err(e) => return Err(e.into()),
    };
    let reading = object.reading();
    reading.temp.store(temp, Ordering::Relaxed);
    reading
        .writer_pid
        .store(std::process::id(), Ordering::Relaxed);
    // Release: a reader that sees the new count (Acquire) also sees the fields above.
    let update = reading.updates.fetch_add(1, Ordering::Release) + 1;
    println!(
        "{what} {name} and stored temperature: {temp} (update #{update}); \
         it stays in /dev/shm until `shm-demo unlink {name}`"
    );
    Ok(())
}

/// `read`: open an existing object, check its header, print the reading.
fn read_reading(name: &str) -> Result<(), Box<dyn Error>> {
    let object = SensorObject::open(name).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => {
            format!("{e}; create it first with `shm-demo write {name}`")
        }
        std::io::ErrorKind::PermissionDenied => format!("{e}; {}", whose(name)),
        _ => e.to_string(),
    })?;
    let reading = object.reading();
    let update = reading.updates.load(Ordering::Acquire);
    if update == 0 {
        println!("{name} holds no reading yet (created, never written)");
    } else {
        println!(
            "temperature: {} (from {name}, update #{update}, written by pid {})",
            reading.temp.load(Ordering::Relaxed),
            reading.writer_pid.load(Ordering::Relaxed)
        );
    }
    Ok(())
}

/// For a permission error: whose object `name` is and its mode, as /dev/shm shows them.
fn whose(name: &str) -> String {
    use std::os::unix::fs::MetadataExt;
    match fs::metadata(format!("/dev/shm{name}")) {
        Ok(m) => format!(
            "it belongs to uid {} with mode {:04o}, and you are uid {}",
            m.uid(),
            m.mode() & 0o777,
            nix::unistd::geteuid()
        ),
        Err(_) => "it belongs to another user (shm-demo makes its objects mode 0600)".into(),
    }
}

/// `/ipc-tour-shm-<pid>-<random>`: unique per run, at most 30 characters.
fn unique_name() -> String {
    let random: u32 = rand::random();
    format!(
        "/ipc-tour-shm-{}-{:06x}",
        std::process::id(),
        random & 0xff_ffff
    )
}

/// A tour killed by SIGKILL cannot run its `Drop`s, so its object stays in /dev/shm. Start-up
/// removes those: our own `/ipc-tour-shm-<pid>-<6 hex digits>` objects whose pid is gone.
fn remove_stale_tour_objects() -> Vec<(String, i32)> {
    use std::os::unix::fs::MetadataExt;
    let Ok(entries) = fs::read_dir("/dev/shm") else {
        return Vec::new();
    };
    let me = nix::unistd::geteuid().as_raw();
    let mut removed = Vec::new();
    for entry in entries.filter_map(Result::ok) {
        let file = entry.file_name().to_string_lossy().into_owned();
        let Some(pid) = tour_object_pid(&file) else {
            continue;
        };
        let ours = entry.metadata().is_ok_and(|m| m.is_file() && m.uid() == me);
        let name = format!("/{file}");
        if ours && is_gone(pid) && shm_unlink(name.as_str()).is_ok() {
            removed.push((name, pid));
        }
    }
    removed
}

/// The pid in a name `unique_name` makes (`ipc-tour-shm-<pid>-<6 hex digits>`), else `None`.
fn tour_object_pid(file: &str) -> Option<i32> {
    let (pid, random) = file.strip_prefix("ipc-tour-shm-")?.split_once('-')?;
    let is_pid = !pid.is_empty() && pid.chars().all(|c| c.is_ascii_digit());
    let is_random = random.len() == 6 && random.chars().all(|c| c.is_ascii_hexdigit());
    if !(is_pid && is_random) {
        return None;
    }
    pid.parse().ok().filter(|&pid| pid > 0)
}

/// No process has this pid, or it is a zombie: dead, just not reaped yet. (A tour SIGKILLed
/// together with its parent, as `timeout -s KILL` does, stays a zombie until init reaps it.)
fn is_gone(pid: i32) -> bool {
    match fs::read_to_string(format!("/proc/{pid}/stat")) {
        // The state is the first field after "(command name)".
        Ok(stat) => stat
            .rsplit(')')
            .next()
            .and_then(|rest| rest.split_whitespace().next())
            .is_some_and(|state| state == "Z" || state == "X"),
        Err(_) => kill(Pid::from_raw(pid), None) == Err(Errno::ESRCH),
    }
}

/// Runs this program again as a separate process (`shm-demo ARGS`) and returns its status and
/// first line of output (stdout, or stderr if it failed).
fn run_self(args: &[&str], stop: &Stop) -> Result<(bool, String), Box<dyn Error>> {
    let exe = std::env::current_exe().map_err(|e| format!("current_exe: {e}"))?;
    let out = Command::new(&exe)
        .args(args)
        .output()
        .map_err(|e| format!("run {}: {e}", exe.display()))?;
    // A Ctrl-C meant for us may have ended it: report the interruption, not its failure.
    stop.check()?;
    let text = if out.status.success() {
        out.stdout
    } else {
        out.stderr
    };
    let line = String::from_utf8_lossy(&text)
        .lines()
        .next()
        .unwrap_or("")
        .to_owned();
    Ok((out.status.success(), line))
}

/// Size and mode of /dev/shm/<name>, as `ls -l` would show them.
fn dev_shm(name: &str) -> Result<(u64, u32), String> {
    let path = format!("/dev/shm{name}");
    let meta = fs::metadata(&path).map_err(|e| format!("stat {path}: {e}"))?;
    Ok((meta.len(), meta.permissions().mode() & 0o777))
}

fn tour(stop: &Stop, args: &TourArgs) -> Result<(), Box<dyn Error>> {
    println!(
        "shm-demo (pid {}): POSIX shared memory, the lecture's \"Shared Memory\" section",
        std::process::id()
    );
    for (stale, pid) in remove_stale_tour_objects() {
        println!("   (removed /dev/shm{stale}, left by a tour that was killed: pid {pid} is gone)");
    }
    let name = unique_name();
    let object = SensorObject::create(&name)?;
    let owner = ShmName::adopt(&name); // unlinks the name on every way out of this function
    let (size, mode) = dev_shm(&name)?;
    println!(
        "1. shm_open(\"{name}\", O_CREAT|O_EXCL|O_RDWR, 0600) + ftruncate + mmap: \
         /dev/shm{name} is {size} bytes, mode {mode:04o} ({HEADER_LEN}-byte header, then sensor_reading)"
    );
    stop.check()?;

    let (ok, line) = run_self(&["write", &name, "--temp", "42"], stop)?;
    if !ok {
        return Err(format!("`shm-demo write {name}` failed: {line}").into());
    }
    println!("2. a separate process ran `shm-demo write {name} --temp 42` and exited: \"{line}\"");
    println!(
        "   the tour's own mapping from step 1 shows temperature: {} too, without re-opening \
         anything: both processes mapped the same physical page",
        object.reading().temp.load(Ordering::Acquire)
    );
    stop.check()?;

    let (ok, line) = run_self(&["read", &name], stop)?;
    if !ok {
        return Err(format!("`shm-demo read {name}` failed: {line}").into());
    }
    let (size, _) = dev_shm(&name)?;
    println!(
        "3. the writer has exited; /dev/shm{name} is still there ({size} bytes), and another \
         process ran `shm-demo read {name}`: \"{line}\""
    );
    stop.check()?;

    foreign_object(stop)?;
    lost_updates(5, args.increments, stop)?;
    ring_step(6, Coordination::Spin, args.messages, 64, stop)?;
    ring_step(7, Coordination::Futex, args.messages, 64, stop)?;
    println!("8. peer death: a child SIGKILLs itself while the parent waits for it in read():");
    for mode in [Coordination::Spin, Coordination::Futex] {
        stop.check()?;
        let noticed = ring_demo::peer_death(mode, Duration::from_millis(100), stop)?;
        println!(
            "   {:<9} read returned end of file {} after the child died",
            format!("{}:", label(mode)),
            millis(noticed)
        );
    }

    drop(object);
    drop(owner); // shm_unlink
    let gone = fs::metadata(format!("/dev/shm{name}")).is_err();
    let (_, line) = run_self(&["read", &name], stop)?;
    println!(
        "9. shm_unlink(\"{name}\"): {} from /dev/shm; `shm-demo read {name}` now says: \"{line}\"",
        if gone { "gone" } else { "STILL PRESENT" }
    );
    Ok(())
}

/// Step 4: an object of the same size with someone else's bytes, then one of another size.
fn foreign_object(stop: &Stop) -> Result<(), Box<dyn Error>> {
    let name = unique_name();
    let fd = shm_open(
        name.as_str(),
        OFlag::O_CREAT | OFlag::O_EXCL | OFlag::O_RDWR,
        Mode::S_IRUSR | Mode::S_IWUSR,
    )
    .map_err(|e| format!("shm_open {name}: {e}"))?;
    let _owner = ShmName::adopt(&name);
    let mut file = fs::File::from(fd);
    let bytes: Vec<u8> = b"another program's data "
        .iter()
        .copied()
        .cycle()
        .take(OBJECT_LEN)
        .collect();
    file.write_all(&bytes)
        .map_err(|e| format!("write {name}: {e}"))?;
    let (_, magic) = run_self(&["read", &name], stop)?;
    file.set_len(4096)
        .map_err(|e| format!("ftruncate {name}: {e}"))?;
    let (_, size) = run_self(&["read", &name], stop)?;
    println!(
        "4. `shm-demo read` on another program's object refuses it instead of reading garbage:"
    );
    println!("   {OBJECT_LEN} bytes of text: \"{magic}\"");
    println!("   4096 bytes:       \"{size}\"");
    stop.check()?;
    Ok(())
}

/// The slow sensor of the ring steps: messages that arrive every 20 ms.
const SLOW_SENSOR_MESSAGES: u64 = 10;
const SLOW_SENSOR_INTERVAL: Duration = Duration::from_millis(20);

fn label(mode: Coordination) -> &'static str {
    match mode {
        Coordination::Spin => "spinning",
        Coordination::Futex => "futex",
    }
}

fn millis(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1e3)
}

/// Step `step`: the lost-update demo, three ways.
fn lost_updates(step: usize, increments: u64, stop: &Stop) -> Result<(), Box<dyn Error>> {
    let expected = 2 * increments;
    println!(
        "{step}. two processes each add 1 to a shared counter {increments} times \
         (started together by a barrier in the mapping), expected {expected}:"
    );
    let [a, b] = process::two_cpus()?;
    if a != b {
        println!("   (pinned to CPUs {a} and {b}: both count at the same time)");
    } else {
        println!(
            "   (one CPU, {a}: the two take turns, so an update is lost only when a process is \
             preempted between its load and its store, which may be rare)"
        );
    }
    let methods = [
        (Method::LoadThenStore, "unsynchronized (load, then store)"),
        (Method::FetchAdd, "atomic fetch_add"),
        (Method::Mutex, "process-shared robust pthread mutex"),
    ];
    for (method, what) in methods {
        stop.check()?;
        let outcome = counter::run(method, increments, [a, b], stop)?;
        let lost = expected.saturating_sub(outcome.total);
        let per = outcome.elapsed.as_nanos() as f64 / increments as f64;
        println!(
            "   {what:<38} counter = {} of {expected}, {lost} updates lost, {} ({per:.1} ns per increment)",
            outcome.total,
            millis(outcome.elapsed)
        );
    }
    Ok(())
}

/// A ring step: one mode, `messages` verified round trips back to back, then a few messages
/// from a slow sensor, to show what waiting costs.
fn ring_step(
    step: usize,
    mode: Coordination,
    messages: u64,
    size: usize,
    stop: &Stop,
) -> Result<(), Box<dyn Error>> {
    stop.check()?;
    let [parent_cpu, child_cpu] = process::two_cpus()?;
    let cpus = if parent_cpu == child_cpu {
        format!("both on CPU {parent_cpu}, taking turns")
    } else {
        format!("child on CPU {child_cpu}, parent on CPU {parent_cpu}")
    };
    let echo = ring_demo::echo(mode, messages, size, [parent_cpu, child_cpu], stop, |pid| {
        println!(
            "{step}. SPSC ring in shared memory, {}: child pid {pid} checks each {size}-byte \
             message and echoes it ({cpus})",
            label(mode)
        );
    })?;
    let round_trip = echo.wall.as_nanos() as f64 / messages as f64 / 1e3;
    println!(
        "   {messages} round trips back to back, verified both ways, in {} ({round_trip:.2} µs \
         each); CPU used: parent {}, child {}",
        millis(echo.wall),
        millis(echo.parent_cpu),
        millis(echo.child_cpu)
    );
    stop.check()?;
    let (count, interval) = (SLOW_SENSOR_MESSAGES, SLOW_SENSOR_INTERVAL);
    let slow = ring_demo::paced(mode, count, interval, child_cpu, stop)?;
    let share = 100.0 * slow.reader_cpu.as_secs_f64() / slow.wall.as_secs_f64();
    println!(
        "   a slow sensor, {count} messages {} apart: the child waiting for them used {} of \
         CPU in {} ({share:.1}% of a CPU)",
        millis(interval),
        millis(slow.reader_cpu),
        millis(slow.wall)
    );
    Ok(())
}
