//! `child::fork_with` and `Child::reap`, through real forks. A test target without libtest's
//! harness (`harness = false` in Cargo.toml): the harness runs tests on threads of its own, and
//! a process that forks while another thread may hold a lock (the allocator's, stdout's) hands
//! the child a copy of that lock, held forever. Here a plain single-threaded `main` runs each
//! case in turn, prints `child: <case> ... ok`, and panics on the first failure (exit 101,
//! which `cargo test` reports). libtest's arguments reach `main` too: it honours a name filter
//! (`cargo test -p plumbing -- reap`), `--exact`, `--skip`, `--ignored` and `--list`, and
//! ignores the rest.

use std::io::{Read, Write};
use std::os::fd::AsFd;
use std::time::{Duration, Instant};

use nix::sys::signal::{SigHandler, Signal, signal};
use nix::sys::wait::WaitStatus;
use nix::unistd::pipe;
use plumbing::child::{Child, ExitReason, Reaped, Start, fork_with};
use plumbing::stop;

const PLAIN: Start = Start {
    name: "test",
    close: &[],
    default_actions: &[],
    pin: None,
};

/// Reaps `child`, which should end by itself well within 5 s.
fn reaped(mut child: Child) -> Reaped {
    let reaped = child.reap(Duration::from_secs(5)).expect("reap");
    assert!(child.is_reaped());
    reaped
}

/// The reason `child` exited with, by its status.
fn reason(child: Child) -> Option<ExitReason> {
    match reaped(child) {
        Reaped {
            status: WaitStatus::Exited(_, code),
            killed: false,
        } => ExitReason::from_code(code),
        other => panic!("the child did not exit by itself: {other:?}"),
    }
}

/// Every case, in the order they run.
const CASES: [(&str, fn()); 6] = [
    (
        "the_reason_is_the_exit_status",
        the_reason_is_the_exit_status,
    ),
    (
        "each_process_holds_only_its_own_end",
        each_process_holds_only_its_own_end,
    ),
    (
        "a_start_that_fails_is_a_setup_failure",
        a_start_that_fails_is_a_setup_failure,
    ),
    (
        "the_default_actions_are_restored",
        the_default_actions_are_restored,
    ),
    (
        "a_child_that_will_not_end_is_killed_and_reaped",
        a_child_that_will_not_end_is_killed_and_reaped,
    ),
    // Last: the stop flag cannot be cleared.
    ("a_stop_shortens_the_patience", a_stop_shortens_the_patience),
];

fn main() {
    let chosen = Chosen::from_args(std::env::args().skip(1));
    let mut ran = 0;
    for (name, case) in CASES.into_iter().filter(|(name, _)| chosen.runs(name)) {
        if chosen.list {
            println!("{name}: test");
            continue;
        }
        print!("child: {name} ... ");
        // Flushed now, so that a failing case's panic message follows its name.
        std::io::stdout().flush().expect("flush stdout");
        case();
        println!("ok");
        ran += 1;
    }
    if !chosen.list {
        let left = CASES.len() - ran;
        println!("child: {ran} cases ok, {left} filtered out");
    }
}

/// Which cases libtest's arguments ask for. Options that take a value are skipped with it.
#[derive(Default)]
struct Chosen {
    filters: Vec<String>,
    skip: Vec<String>,
    exact: bool,
    /// `--ignored`: only the ignored cases, and there are none.
    ignored_only: bool,
    list: bool,
}

impl Chosen {
    fn from_args(mut args: impl Iterator<Item = String>) -> Chosen {
        const TAKE_A_VALUE: [&str; 6] = [
            "--test-threads",
            "--logfile",
            "--color",
            "--format",
            "--shuffle-seed",
            "-Z",
        ];
        let mut chosen = Chosen::default();
        while let Some(arg) = args.next() {
            match arg.as_str() {
                "--exact" => chosen.exact = true,
                "--ignored" => chosen.ignored_only = true,
                "--list" => chosen.list = true,
                "--skip" => chosen.skip.extend(args.next()),
                flag if TAKE_A_VALUE.contains(&flag) => drop(args.next()),
                flag if flag.starts_with('-') => {}
                _ => chosen.filters.push(arg),
            }
        }
        chosen
    }

    /// Whether the case `name` runs: libtest's rules, with the case's name as the test's.
    fn runs(&self, name: &str) -> bool {
        let matches = |pattern: &String| {
            if self.exact {
                name == pattern
            } else {
                name.contains(pattern.as_str())
            }
        };
        !self.ignored_only
            && (self.filters.is_empty() || self.filters.iter().any(matches))
            && !self.skip.iter().any(matches)
    }
}

fn the_reason_is_the_exit_status() {
    let codes = [
        (ExitReason::Done, 0),
        (ExitReason::Mismatch, 10),
        (ExitReason::Io, 11),
        (ExitReason::Setup, 12),
        (ExitReason::PeerGone, 13),
        (ExitReason::Panic, 14),
    ];
    for (want, code) in codes {
        assert_eq!(want.code(), code);
        let (child, ()) = fork_with(&PLAIN, (), || want).expect("fork");
        assert_eq!(reason(child), Some(want));
    }
    assert_eq!(ExitReason::from_code(1), None);
    // Quietly: its message and backtrace would read as this test failing.
    let panics = || {
        std::panic::set_hook(Box::new(|_| {}));
        panic!("on purpose")
    };
    let (child, ()) = fork_with(&PLAIN, (), panics).expect("fork");
    assert_eq!(reason(child), Some(ExitReason::Panic));
    assert_eq!(
        ExitReason::Mismatch.to_string(),
        "the child received a corrupted message"
    );
}

/// The child reads to end-of-file, which it sees only if no copy of the write end is left
/// in it: dropped (`parents`) or closed (`close`). A kept copy would hang it, and the reap
/// would have to kill it.
fn each_process_holds_only_its_own_end() {
    let read_to_eof = |mut from: std::fs::File| {
        move || {
            let mut text = String::new();
            match from.read_to_string(&mut text) {
                Ok(_) if text == "hello" => ExitReason::Done,
                Ok(_) => ExitReason::Mismatch,
                Err(_) => ExitReason::Io,
            }
        }
    };
    // Dropped: the parent's end goes in as `parents` and comes back.
    let (r, w) = pipe().expect("pipe");
    let (child, w) = fork_with(&PLAIN, w, read_to_eof(r.into())).expect("fork");
    std::fs::File::from(w).write_all(b"hello").expect("write");
    assert_eq!(reason(child), Some(ExitReason::Done));
    // Closed: the parent keeps its end where it is.
    let (r, w) = pipe().expect("pipe");
    let start = Start {
        close: &[w.as_fd()],
        ..PLAIN
    };
    let (child, ()) = fork_with(&start, (), read_to_eof(r.into())).expect("fork");
    std::fs::File::from(w).write_all(b"hello").expect("write");
    assert_eq!(reason(child), Some(ExitReason::Done));
}

fn a_start_that_fails_is_a_setup_failure() {
    let start = Start {
        pin: Some(100_000),
        ..PLAIN
    };
    let (child, ()) = fork_with(&start, (), || ExitReason::Done).expect("fork");
    assert_eq!(reason(child), Some(ExitReason::Setup));
}

/// An ignored SIGUSR1 is inherited across fork; restored, it ends the child.
fn the_default_actions_are_restored() {
    // SAFETY: SIG_IGN and SIG_DFL run no code in this process.
    unsafe { signal(Signal::SIGUSR1, SigHandler::SigIgn) }.expect("ignore SIGUSR1");
    let raise = || {
        let _ = nix::sys::signal::raise(Signal::SIGUSR1);
        ExitReason::Done
    };
    let (child, ()) = fork_with(&PLAIN, (), raise).expect("fork");
    assert_eq!(
        reason(child),
        Some(ExitReason::Done),
        "ignored, as inherited"
    );
    let start = Start {
        default_actions: &[libc::SIGUSR1],
        ..PLAIN
    };
    let (child, ()) = fork_with(&start, (), raise).expect("fork");
    let status = reaped(child).status;
    assert!(
        matches!(status, WaitStatus::Signaled(_, Signal::SIGUSR1, _)),
        "{status:?}"
    );
    // SAFETY: as above.
    unsafe { signal(Signal::SIGUSR1, SigHandler::SigDfl) }.expect("restore SIGUSR1");
}

fn sleeper() -> Child {
    let (child, ()) = fork_with(&PLAIN, (), || {
        std::thread::sleep(Duration::from_secs(30));
        ExitReason::Done
    })
    .expect("fork");
    child
}

fn a_child_that_will_not_end_is_killed_and_reaped() {
    let mut child = sleeper();
    let started = Instant::now();
    let reaped = child.reap(Duration::from_millis(300)).expect("reap");
    let took = started.elapsed();
    assert!(reaped.killed);
    assert!(
        matches!(reaped.status, WaitStatus::Signaled(_, Signal::SIGKILL, _)),
        "{reaped:?}"
    );
    assert!(child.is_reaped());
    assert!(took >= Duration::from_millis(300) && took < Duration::from_secs(3));
    assert!(child.reap(Duration::ZERO).is_err(), "reaped twice");
}

fn a_stop_shortens_the_patience() {
    let mut child = sleeper();
    stop::request(libc::SIGTERM);
    let started = Instant::now();
    let reaped = child.reap(Duration::from_secs(20)).expect("reap");
    assert!(reaped.killed);
    assert!(started.elapsed() < Duration::from_secs(5), "{reaped:?}");
}
