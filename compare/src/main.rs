//! `compare`: every ipc-tour mechanism measured the same way, back to back, printed as the
//! lecture's design-space table (lecture section "IPC Design-Space Map") with numbers from
//! this run.
//!
//!     cargo run --release -p compare                    # all rows, both placements, < 15 s
//!     cargo run --release -p compare -- --quick        # a short run, < 3 s
//!     cargo run --release -p compare -- --only pipe,shm --sizes 64,4096,65536 --placement split
//!     cargo run --release -p compare -- --format markdown --plot latency.svg
//!
//! How it measures (README, "How compare measures"): each demo crate gives a connected pair
//! of `Read + Write` ends (signals: a doorbell); the parent forks, both pin themselves, the
//! child echoes, and the parent times each round trip after a warm-up. Every cell runs in
//! rounds spread over the run; its headline is the second best round's p50. Every message's
//! pattern is checked on arrival (a mismatch fails the row, it is never a number), and a size
//! a mechanism cannot carry is not applicable with its reason, never clamped. Progress goes
//! to stderr; the report to stdout: the tables, what the run shows, the lecture checked.
//!
//! compare forks only while single-threaded, as fork copies only the calling thread: the
//! threads of a measurement (its watchdog's, a System V end's) end with it, before the next.
//!
//! Ctrl-C (or any terminating signal) kills the child being measured, which unblocks the
//! parent; the run stops at once, every child reaped and every named object removed, and exits
//! with the signal's status (130 for Ctrl-C). A closed stdout (`compare | head -3`) ends the
//! run quietly with status 141, noticed before and between measurements.
//!
//! Three floors: `row/` the data (a row's mechanism, placement, size and results, the rounds'
//! statistic, the run's facts); above it `measure/`, which fills rows, and `report/`, which
//! reads them, never importing each other. This file is the command line and the wiring;
//! `checked.rs` the checks across options that clap cannot make.
//!
//! For the tests only, a hidden flag `--corrupt-after N` makes every echo child flip one byte
//! of its reply to message N; the run must then fail (exit 1) naming the mismatch. The other
//! way, a hidden `--corrupt-to-child N` makes every sender flip one byte of message N after
//! filling it, before the child receives it: the child must say "message N arrived changed".

mod chart_path;
mod checked;
mod measure;
mod report;
mod row;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::builder::{PossibleValue, PossibleValuesParser};
use clap::{Parser, ValueEnum};
use plumbing::stop::{self, Owns};
use plumbing::{Result, program};

use chart_path::parse_svg_path;
use checked::Checked;
use measure::mechanisms::{self, Entry};
use measure::{machine, pattern, progress};
use report::{header, lessons, pending, plot, records, tables, verdicts};
use row::{Placement, Row};

/// Largest message size accepted on the command line (16 MiB).
const MAX_SIZE: usize = 16 << 20;

#[derive(Parser, Debug)]
#[command(
    version,
    about = "Measure every ipc-tour mechanism the same way and print the lecture's \
             design-space table with this run's numbers"
)]
struct Cli {
    /// Mechanisms to measure, comma-separated [default: all]; "shm" and "uds" name both rows,
    /// "peers" the peer crates' rows: iceoryx2, iceoryx2-event, ipc-channel, interprocess (built
    /// with `--features peers`)
    #[arg(long, value_delimiter = ',', value_parser = PossibleValuesParser::new(only_values()))]
    only: Vec<String>,

    /// Round-trip message sizes in bytes, comma-separated, each 8 to 16777216
    /// [default: 64,1024,16384,65536; with --quick: 64]
    #[arg(long, value_delimiter = ',', value_parser = parse_size)]
    sizes: Vec<usize>,

    /// Timed round trips per round of a measurement, 1 to 10000000. Without it: 5000 per
    /// measurement shared by its rounds (--quick: 300), each round stopped early when its share
    /// of the time budget is used up
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..=10_000_000))]
    iters: Option<u64>,

    /// Rounds per measurement, 1 to 1000 [default: 20; with --quick: 3]. The rounds are spread
    /// over the whole run, round-robin across rows and placements; a cell's headline is the
    /// second best of its rounds' p50s (the best, with fewer than 4 rounds)
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..=1000))]
    rounds: Option<u64>,

    /// Where the two processes run: both on one core, on two different cores, or both runs
    #[arg(long, value_enum, default_value_t = PlacementArg::Both)]
    placement: PlacementArg,

    /// A short run (under 3 s): fewer samples, 64-byte messages only, less data streamed
    #[arg(long)]
    quick: bool,

    /// How to print the report on stdout. csv: a header line, a line per mechanism, placement
    /// and size, then the facts of the run (kernel, CPU, options, rounds...) as "# name: value"
    /// lines; json: {"run": {those facts}, "rows": [...], "lessons": [...], "verdicts": [...]}
    #[arg(long, value_enum, default_value_t = Format::Table)]
    format: Format,

    /// After the tables, how every number was measured, in full
    #[arg(long)]
    verbose: bool,

    /// Also draw round-trip latency against message size (log-log) into this SVG file; with a
    /// single size, bars per mechanism. The file is replaced only when the chart is complete
    #[arg(long, value_name = "FILE.svg", value_parser = parse_svg_path)]
    plot: Option<PathBuf>,

    /// Also measure one-way throughput at every size and draw it against message size into
    /// this SVG file
    #[arg(long, value_name = "FILE.svg", value_parser = parse_svg_path)]
    plot_throughput: Option<PathBuf>,

    /// Test only: the echo child flips one byte of its reply to message N, which the parent
    /// must catch and report as a failed row (exit status 1)
    #[arg(long, hide = true, value_name = "N")]
    corrupt_after: Option<u64>,

    /// Test only: every sender flips one byte of message N after filling it, which the
    /// receiving child must catch and report as a failed row (exit status 1). Not the end
    /// message's number (u64::MAX), which is no message
    #[arg(
        long,
        hide = true,
        value_name = "N",
        value_parser = clap::value_parser!(u64).range(..pattern::END)
    )]
    corrupt_to_child: Option<u64>,
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

/// The names --only takes: every row and group, and "all" (the default, so not listed).
fn only_values() -> Vec<PossibleValue> {
    let mut values: Vec<PossibleValue> = mechanisms::names()
        .into_iter()
        .map(PossibleValue::new)
        .collect();
    values.push(PossibleValue::new("all").hide(true));
    // Accepted here so that `from_arg_matches` can say how to build them.
    values.extend(
        mechanisms::unbuilt()
            .iter()
            .map(|n| PossibleValue::new(*n).hide(true)),
    );
    values
}

fn main() -> ExitCode {
    program::main::<Checked>("compare", |Checked(cli)| run(cli))
}

fn run(cli: Cli) -> Result {
    // A stop signal sets a flag and SIGKILLs the child being measured, which unblocks the
    // parent; the loops then end and every owner removes what it created.
    stop::catch(Owns::Objects)?;
    if let Some(seq) = cli.corrupt_to_child {
        measure::bytes::corrupt_to_child(seq); // test only: before the first fork
    }
    // Fail now, not after the whole run, if the chart cannot be written; the file itself is
    // replaced only once the chart is complete.
    let charts = [
        (&cli.plot, "--plot"),
        (&cli.plot_throughput, "--plot-throughput"),
    ];
    let mut pending = Vec::new();
    for (path, flag) in charts {
        if let Some(path) = path {
            let file = pending::Pending::create(path).map_err(|e| format!("{flag} {e}"))?;
            pending.push((file, flag));
        }
    }
    let machine = machine::probe();
    let mechanisms: Vec<Entry> = mechanisms::all()
        .into_iter()
        .filter(|e| mechanisms::selected(&e.mechanism, only(&cli.only)))
        .collect();
    let sizes = sizes(&cli);
    room_for(&sizes)?;
    let placements = placements(cli.placement, &machine.allowed);
    let rounds = cli.rounds.unwrap_or(if cli.quick { 3 } else { ROUNDS }) as usize;
    let streams = cli.plot_throughput.is_some();
    let sessions = measure::count(&mechanisms, &sizes, &placements, streams) * rounds;
    let plan = measure::plan(cli.quick, cli.iters, rounds, sessions, cli.corrupt_after);
    // The report's first line goes out now: a stdout that cannot be written (a full disk, a
    // closed pipe) ends the run before it measures anything.
    print!("{}", first_line(cli.format));
    let rows = measure::all(
        &mechanisms,
        &sizes,
        &placements,
        streams,
        &plan,
        rounds,
        &machine,
    )?;
    let facts = row::Run {
        machine: &machine,
        plan: &plan,
        rounds,
        placements: &placements,
        stream_chunk: row::STREAM_CHUNK,
        options: options(),
    };
    // Every format ends in a newline, so print! writes it all (a closed stdout ends the run
    // quietly with status 141: plumbing::program).
    print!("{}", report(&cli, &rows, &sizes, &placements, &facts));
    let drawn: Vec<Placement> = placements.iter().copied().filter(|p| p.possible).collect();
    for (file, flag) in pending {
        let drawing = match flag {
            "--plot" => plot::latency(file.temporary(), &rows, &drawn, &facts),
            _ => plot::throughput(file.temporary(), &rows, &drawn, &facts),
        };
        let path = drawing
            .and_then(|()| file.commit())
            .map_err(|e| format!("{flag} {e}"))?;
        progress::eprint_quietly(&format!("compare: chart written to {}\n", path.display()));
    }
    match measure::failures(&rows).as_slice() {
        [] => Ok(()),
        failures => Err(format!(
            "{} measurement(s) failed, the first: {}",
            failures.len(),
            failures[0]
        )
        .into()),
    }
}

/// The --only list, with "all" as no list at all.
fn only(names: &[String]) -> &[String] {
    match names.iter().any(|name| name == "all") {
        true => &[],
        false => names,
    }
}

/// The first line of the report: the title, or the CSV header (JSON has none: it is one value).
fn first_line(format: Format) -> String {
    match format {
        Format::Table => tables::TITLE.to_string(),
        Format::Markdown => format!("## {}", tables::TITLE),
        Format::Csv => records::csv_header(),
        Format::Json => String::new(),
    }
}

/// The report on stdout, in the format asked for, after its first line.
fn report(
    cli: &Cli,
    rows: &[Row],
    sizes: &[usize],
    placements: &[Placement],
    facts: &row::Run,
) -> String {
    let markdown = cli.format == Format::Markdown;
    match cli.format {
        Format::Table | Format::Markdown => {
            let lessons = lessons::render(rows, markdown);
            // With no lesson to print (a run too small for any), a blank line still parts
            // the tables' notes from "This run".
            let gap = if lessons.is_empty() { "\n" } else { "" };
            tables::render(rows, sizes, placements, markdown)
                + gap
                + &lessons
                + &header::render(facts, markdown, cli.verbose)
                + &verdicts::render(rows, markdown)
        }
        Format::Csv => records::csv(rows, facts),
        Format::Json => records::json(rows, facts) + "\n",
    }
}

/// The options of this run as a command line would give them (for JSON and CSV).
fn options() -> String {
    let words: Vec<String> = std::env::args().skip(1).collect();
    match words.is_empty() {
        true => "(defaults)".to_string(),
        false => words.join(" "),
    }
}

/// Rounds per cell in a default run. 40 rounds took 24 s on a 2-core VM, mostly in cross-core
/// round trips (at least 100 samples a round at about 50 µs each); 20 take about 10 to 11 s. The
/// samples per cell stay 5000, in rounds of 250. Each row's ratio to the pipe in the same
/// round ("x pipe") is what repeats from run to run on a machine that changes speed.
const ROUNDS: u64 = 20;

/// A message buffer of the largest size, and room beside it for the pair's own, must be
/// allocatable: an allocation that fails later aborts the process mid-run with no word of why.
fn room_for(sizes: &[usize]) -> Result {
    let largest = sizes.iter().copied().max().unwrap_or(0);
    let mut probe: Vec<u8> = Vec::new();
    if probe.try_reserve_exact(4 * largest).is_ok() {
        return Ok(());
    }
    let limit = match nix::sys::resource::getrlimit(nix::sys::resource::Resource::RLIMIT_AS) {
        Ok((soft, _)) if soft != libc::RLIM_INFINITY => {
            format!(
                " (the address-space limit, ulimit -v, is {} KiB)",
                soft / 1024
            )
        }
        _ => String::new(),
    };
    Err(format!(
        "--sizes {largest}: cannot allocate {} MiB for the message buffers{limit}; \
         choose smaller sizes or raise the limit",
        (4 * largest) >> 20
    )
    .into())
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
