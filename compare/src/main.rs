//! `compare`: every ipc-tour mechanism measured the same way, back to back, printed as the
//! lecture's design-space table (lecture section "IPC Design-Space Map") with numbers from
//! this run.
//!
//!     cargo run --release -p compare                    # all rows, both placements, < 15 s
//!     cargo run --release -p compare -- --quick        # a short run, < 3 s
//!     cargo run --release -p compare -- --only pipe,shm --sizes 64,4096,65536 --placement split
//!     cargo run --release -p compare -- --format markdown --plot latency.svg
//!
//! How it measures (README, "How compare measures"): each mechanism's demo crate
//! gives a connected pair of `Read + Write` ends (signals: a doorbell). For every placement and
//! size the parent creates the pair, forks, and both processes pin themselves to their CPU.
//! The child echoes; the parent times each round trip with a monotonic clock after a discarded
//! warm-up, and sorts the samples for p50 / p99 / max. Every message carries a pattern that
//! changes per message, checked on arrival; a mismatch fails the row, it is never a number.
//! A size a mechanism cannot carry is reported as not applicable with its reason, never
//! clamped. Progress goes to stderr, the report to stdout.
//!
//! compare is single-threaded on purpose: it forks, and fork copies only the calling thread.
//!
//! For the tests only, a hidden flag `--corrupt-after N` makes every echo child flip one byte
//! of its reply to message N; the run must then fail (exit 1) naming the mismatch.

mod harness;
mod machine;
mod mechanisms;
mod pattern;
mod plot;
mod report;
mod stats;
mod stop;

use std::error::Error;
use std::fs::File;
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::builder::PossibleValuesParser;
use clap::{Parser, ValueEnum};

use harness::{Placement, Plan, Skip};
use machine::Machine;
use mechanisms::{Mechanism, Transport};
use report::{Row, size_words};

/// Largest message size accepted on the command line (16 MiB).
const MAX_SIZE: usize = 16 << 20;
/// Throughput message size: 64 KiB, or a mechanism's largest message if that is smaller.
const STREAM_CHUNK: usize = 64 << 10;

#[derive(Parser, Debug)]
#[command(
    version,
    about = "Measure every ipc-tour mechanism the same way and print the lecture's \
             design-space table with this run's numbers"
)]
struct Cli {
    /// Mechanisms to measure, comma-separated [default: all]; "shm" and "uds" name both rows
    #[arg(long, value_delimiter = ',', value_parser = PossibleValuesParser::new(mechanisms::names()))]
    only: Vec<String>,

    /// Round-trip message sizes in bytes, comma-separated, each 8 to 16777216
    /// [default: 64,1024,16384,65536; with --quick: 64]
    #[arg(long, value_delimiter = ',', value_parser = parse_size)]
    sizes: Vec<usize>,

    /// Timed round trips per measurement, 1 to 10000000. Without it: 5000 (--quick: 300),
    /// each measurement stopped early when its share of the time budget is used up
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..=10_000_000))]
    iters: Option<u64>,

    /// Where the two processes run: both on one core, on two different cores, or both runs
    #[arg(long, value_enum, default_value_t = PlacementArg::Both)]
    placement: PlacementArg,

    /// A short run (under 3 s): fewer samples, 64-byte messages only, less data streamed
    #[arg(long)]
    quick: bool,

    /// How to print the report on stdout
    #[arg(long, value_enum, default_value_t = Format::Table)]
    format: Format,

    /// Also draw round-trip latency against message size (log-log) into this SVG file
    #[arg(long, value_name = "FILE.svg", value_parser = parse_svg_path)]
    plot: Option<PathBuf>,

    /// Test only: the echo child flips one byte of its reply to message N, which the parent
    /// must catch and report as a failed row (exit status 1)
    #[arg(long, hide = true, value_name = "N")]
    corrupt_after: Option<u64>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum PlacementArg {
    Same,
    Split,
    Both,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum Format {
    Table,
    Markdown,
    Csv,
    Json,
}

fn parse_size(s: &str) -> Result<usize, String> {
    let size: usize = s
        .trim()
        .parse()
        .map_err(|_| format!("{s:?} is not a whole number of bytes"))?;
    match size {
        pattern::MIN_SIZE..=MAX_SIZE => Ok(size),
        _ => Err(format!(
            "{size} is outside {}..={MAX_SIZE} (a message holds at least its 8-byte sequence word; \
             16 MiB at most)",
            pattern::MIN_SIZE
        )),
    }
}

fn parse_svg_path(s: &str) -> Result<PathBuf, String> {
    match s.ends_with(".svg") {
        true => Ok(PathBuf::from(s)),
        false => Err(format!("{s:?} must end in .svg")),
    }
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) if !e.use_stderr() => {
            let _ = e.print(); // --help, --version
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            // One line, as every ipc-tour binary: clap's first line, without its "error: ".
            let text = e.render().to_string();
            let first = text.lines().next().unwrap_or("invalid arguments");
            let allowed = text
                .lines()
                .find_map(|l| l.trim().strip_prefix("[possible values: "))
                .map_or(String::new(), |v| {
                    format!(" (possible: {}", v.replace(']', ")"))
                });
            say(&format!(
                "compare: {}{allowed}; try --help",
                first.trim_start_matches("error: ")
            ));
            return ExitCode::from(2);
        }
    };
    match run(&cli) {
        Ok(Outcome::Done) => ExitCode::SUCCESS,
        Ok(Outcome::Failed(first, count)) => {
            say(&format!(
                "compare: {count} measurement(s) failed, the first: {first}"
            ));
            ExitCode::from(1)
        }
        Ok(Outcome::Stopped(signal)) => {
            let name = signal_hook::low_level::signal_name(signal).unwrap_or("a signal");
            say(&format!(
                "compare: stopped by {name}; every child reaped, nothing left behind"
            ));
            ExitCode::from(128 + signal as u8)
        }
        Err(e) => {
            say(&format!("compare: {e}"));
            ExitCode::from(1)
        }
    }
}

/// One line on stderr. A closed or full stderr must not end the run (eprintln! would panic).
fn say(line: &str) {
    let _ = writeln!(std::io::stderr(), "{line}");
}

enum Outcome {
    Done,
    /// the first failure and how many
    Failed(String, usize),
    Stopped(i32),
}

fn run(cli: &Cli) -> Result<Outcome, Box<dyn Error>> {
    stop::install().map_err(|e| format!("registering signal handlers: {e}"))?;
    if let Some(path) = &cli.plot {
        // Fail now, not after the whole run, if the chart cannot be written.
        File::create(path).map_err(|e| format!("--plot {}: {e}", path.display()))?;
    }
    let machine = Machine::probe();
    let mechanisms: Vec<Mechanism> = mechanisms::all()
        .into_iter()
        .filter(|m| mechanisms::selected(m, &cli.only))
        .collect();
    let sizes = sizes(cli);
    let placements = placements(cli.placement, &machine.allowed);
    let plan = plan(cli, &mechanisms, &sizes, &placements);
    let watchdog = plan.cap.map_or(0, |cap| (2 * cap.as_secs() + 10) as u32);

    let header = report::header(
        &machine,
        &plan,
        &placements,
        STREAM_CHUNK,
        cli.format == Format::Markdown,
    );
    match cli.format {
        Format::Table | Format::Markdown => {
            let mut stdout = std::io::stdout().lock();
            stdout
                .write_all(header.as_bytes())
                .and_then(|()| stdout.flush())
                .map_err(|e| format!("writing the report: {e}"))?;
        }
        Format::Csv | Format::Json => {
            let _ = std::io::stderr().write_all(header.as_bytes());
        }
    }

    let mut progress = Progress::new(&mechanisms, &sizes, &placements);
    let mut rows: Vec<Row> = Vec::new();
    for m in &mechanisms {
        let setup_us = measure_setup(m, &plan);
        for p in &placements {
            let throughput = match p.possible {
                true => measure_throughput(m, *p, &plan, watchdog, &mut progress),
                false => Err(cannot_split(&machine)),
            };
            let row_sizes = match m.transport {
                Transport::Bytes { .. } => sizes.clone(),
                Transport::Doorbell(_) => vec![0],
            };
            for size in row_sizes {
                let latency = match p.possible {
                    true => measure_latency(m, *p, size, &plan, watchdog, &mut progress),
                    false => Err(cannot_split(&machine)),
                };
                rows.push(Row {
                    mechanism: *m,
                    placement: *p,
                    size,
                    latency,
                    throughput: throughput.clone(),
                    setup_us: setup_us.clone(),
                });
            }
            if let Some(signal) = stop::requested() {
                return Ok(Outcome::Stopped(signal));
            }
        }
    }
    if let Some(signal) = stop::requested() {
        return Ok(Outcome::Stopped(signal));
    }

    let shown: Vec<Placement> = placements.to_vec();
    let text = match cli.format {
        Format::Table => report::tables(&rows, &sizes, &shown, false),
        Format::Markdown => report::tables(&rows, &sizes, &shown, true),
        Format::Csv => report::csv(&rows),
        Format::Json => report::json(&rows) + "\n",
    };
    let mut stdout = std::io::stdout().lock();
    stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.flush())
        .map_err(|e| format!("writing the report: {e}"))?;
    if let Some(path) = &cli.plot {
        let drawn: Vec<Placement> = placements.iter().copied().filter(|p| p.possible).collect();
        plot::svg(path, &rows, &drawn).map_err(|e| format!("--plot {}: {e}", path.display()))?;
        say(&format!("compare: chart written to {}", path.display()));
    }

    let mut failures: Vec<String> = Vec::new();
    for r in &rows {
        let place = report::placement_words(r.placement.name);
        let found = [
            (
                format!("{}, {}, {place}", r.mechanism.label, size_words(r.size)),
                r.latency.as_ref().err(),
            ),
            (
                format!("{} throughput, {place}", r.mechanism.label),
                r.throughput.as_ref().err(),
            ),
            (
                format!("{} setup", r.mechanism.label),
                r.setup_us.as_ref().err(),
            ),
        ];
        for (what, skip) in found {
            if let Some(Skip::Failed(why)) = skip {
                let line = format!("{what}: {why}");
                if !failures.contains(&line) {
                    failures.push(line);
                }
            }
        }
    }
    Ok(match failures.first() {
        None => Outcome::Done,
        Some(first) => Outcome::Failed(first.clone(), failures.len()),
    })
}

fn sizes(cli: &Cli) -> Vec<usize> {
    let mut sizes = match (cli.sizes.is_empty(), cli.quick) {
        (false, _) => cli.sizes.clone(),
        (true, true) => vec![64],
        (true, false) => vec![64, 1024, 16 << 10, 64 << 10],
    };
    sizes.sort_unstable();
    sizes.dedup();
    sizes
}

fn placements(arg: PlacementArg, allowed: &[usize]) -> Vec<Placement> {
    let first = allowed.first().copied().unwrap_or(0);
    let same = Placement {
        name: "same",
        parent_cpu: first,
        child_cpu: first,
        possible: true,
    };
    let split = match allowed.get(1) {
        Some(&second) => Placement {
            name: "split",
            parent_cpu: first,
            child_cpu: second,
            possible: true,
        },
        None => Placement {
            name: "split",
            parent_cpu: first,
            child_cpu: first,
            possible: false,
        },
    };
    match arg {
        PlacementArg::Same => vec![same],
        PlacementArg::Split => vec![split],
        PlacementArg::Both => vec![same, split],
    }
}

fn cannot_split(machine: &Machine) -> Skip {
    let only = match machine.allowed.first() {
        Some(cpu) => format!("only CPU {cpu} is"),
        None => "no CPU could be listed that is".to_string(),
    };
    Skip::NotApplicable(format!(
        "{only} usable by this process (sched_getaffinity), so the two processes cannot run \
         on different cores"
    ))
}

/// How many forked measurements the run makes: per placement that can be honoured, one
/// round-trip measurement per size and one throughput measurement per byte mechanism, one
/// round-trip measurement per doorbell.
fn measurements(mechanisms: &[Mechanism], sizes: &[usize], placements: &[Placement]) -> usize {
    let per_placement: usize = mechanisms
        .iter()
        .map(|m| match m.transport {
            Transport::Bytes { .. } => sizes.len() + 1,
            Transport::Doorbell(_) => 1,
        })
        .sum();
    per_placement * placements.iter().filter(|p| p.possible).count()
}

/// How long the whole default run may measure, and the --quick run.
const BUDGET: Duration = Duration::from_secs(11);
const QUICK_BUDGET: Duration = Duration::from_millis(1600);

fn plan(cli: &Cli, mechanisms: &[Mechanism], sizes: &[usize], placements: &[Placement]) -> Plan {
    let iters = cli.iters.unwrap_or(if cli.quick { 300 } else { 5000 }) as usize;
    let sessions = measurements(mechanisms, sizes, placements);
    let budget = if cli.quick { QUICK_BUDGET } else { BUDGET };
    let cap = match cli.iters {
        Some(_) => None, // asked for N samples: take N
        None => Some(
            (budget / sessions.max(1) as u32)
                .clamp(Duration::from_millis(20), Duration::from_secs(1)),
        ),
    };
    Plan {
        iters,
        warmup: (iters / 10).clamp(10, 500),
        cap,
        stream_bytes: if cli.quick { 4 << 20 } else { 64 << 20 },
        setup_reps: if cli.quick { 5 } else { 25 },
        corrupt_after: cli.corrupt_after,
    }
}

/// Numbers the progress lines: `[i/n]`.
struct Progress {
    done: usize,
    total: usize,
}

impl Progress {
    fn new(mechanisms: &[Mechanism], sizes: &[usize], placements: &[Placement]) -> Progress {
        Progress {
            done: 0,
            total: measurements(mechanisms, sizes, placements),
        }
    }

    fn line(&mut self, what: &str) {
        self.done += 1;
        say(&format!(
            "compare: [{:>3}/{}] {what}",
            self.done, self.total
        ));
    }
}

fn where_(p: Placement) -> String {
    format!(
        "{} (CPUs {}/{})",
        report::placement_words(p.name),
        p.parent_cpu,
        p.child_cpu
    )
}

fn skipped(e: &Skip) -> String {
    match e {
        Skip::NotApplicable(why) => format!("n/a: {why}"),
        Skip::Failed(why) => format!("FAILED: {why}"),
        Skip::Stopped => "stopped".to_string(),
    }
}

fn measure_latency(
    m: &Mechanism,
    p: Placement,
    size: usize,
    plan: &Plan,
    watchdog: u32,
    progress: &mut Progress,
) -> Result<harness::Latency, Skip> {
    let label = format!("{}, {}, {}", m.label, size_words(size), where_(p));
    let result = match m.transport {
        Transport::Bytes { duplex, .. } => {
            harness::latency(&label, duplex, size, p, plan, watchdog)
        }
        Transport::Doorbell(bell) => harness::doorbell_latency(&label, bell, p, plan, watchdog),
    };
    progress.line(&match &result {
        Ok(l) => format!(
            "{label}: p50 {} µs, p99 {} µs{}, {} samples, {:.2} µs CPU/msg",
            report::us(l.summary.p50 as f64),
            report::us(l.summary.p99 as f64),
            l.batch_ns
                .map_or(String::new(), |b| format!(", batch {} µs", report::us(b))),
            l.summary.count,
            l.cpu_us_per_msg
        ),
        Err(e) => format!("{label}: {}", skipped(e)),
    });
    result
}

fn measure_throughput(
    m: &Mechanism,
    p: Placement,
    plan: &Plan,
    watchdog: u32,
    progress: &mut Progress,
) -> Result<harness::Throughput, Skip> {
    let Transport::Bytes { duplex, largest } = m.transport else {
        return Err(Skip::NotApplicable(
            "a signal carries no bytes, so there is no throughput".to_string(),
        ));
    };
    let label = format!("{} throughput, {}", m.label, where_(p));
    let chunk = match largest.map(|f| f()) {
        None => Ok(STREAM_CHUNK),
        Some(Ok(max)) => Ok(STREAM_CHUNK.min(max)),
        Some(Err(e)) => Err(Skip::Failed(format!(
            "reading the largest message size: {e}"
        ))),
    };
    let result =
        chunk.and_then(|chunk| harness::throughput(&label, duplex, chunk, p, plan, watchdog));
    progress.line(&match &result {
        Ok(t) => format!(
            "{label}: {:.0} MiB/s ({} messages, {:.1} MiB)",
            t.mib_s,
            size_words(t.chunk),
            t.bytes as f64 / (1 << 20) as f64
        ),
        Err(e) => format!("{label}: {}", skipped(e)),
    });
    result
}

fn measure_setup(m: &Mechanism, plan: &Plan) -> Result<f64, Skip> {
    let result = match m.transport {
        Transport::Bytes { duplex, .. } => harness::setup(duplex, plan.setup_reps),
        Transport::Doorbell(bell) => harness::doorbell_setup(bell, plan.setup_reps),
    };
    say(&format!(
        "compare: {} setup: {}",
        m.label,
        match &result {
            Ok(us) => format!("{us:.1} µs (median of {})", plan.setup_reps),
            Err(e) => skipped(e),
        }
    ));
    result
}
