//! The whole tour, run as a user would, checked against what it printed.
#![cfg(target_os = "linux")]
#![allow(clippy::unwrap_used)]

mod common;

use common::*;
use testkit::text;

/// ("prio", "type", "payload") out of `...prio 9  type 3  "alert: temperature: 42"...`.
fn task_line(line: &str) -> (u32, u32, String) {
    let after = |key: &str| {
        line.split(key)
            .nth(1)
            .unwrap()
            .split_whitespace()
            .next()
            .unwrap()
            .to_owned()
    };
    let payload = line.split('"').nth(1).unwrap().to_owned();
    (
        after("prio ").parse().unwrap(),
        after("type ").parse().unwrap(),
        payload,
    )
}

/// The number right before `unit` in `line` ("after 300.12 ms" -> 300.12).
fn number_before(line: &str, unit: &str) -> f64 {
    let head = line.split(unit).next().unwrap();
    head.split_whitespace()
        .last()
        .unwrap()
        .trim_start_matches('(')
        .parse()
        .unwrap()
}

/// The duration printed after the last "after" in `line` ("after 3 µs", "after 300.1 ms"), in µs.
fn micros_after(line: &str) -> f64 {
    let mut words = line.rsplit(" after ").next().unwrap().split_whitespace();
    let value: f64 = words.next().unwrap().parse().unwrap();
    match words
        .next()
        .unwrap()
        .trim_end_matches(|c: char| c.is_ascii_punctuation())
    {
        "µs" => value,
        "ms" => value * 1000.0,
        unit => panic!("unit {unit:?} in {line}"),
    }
}

fn line_with<'a>(out: &'a str, needle: &str) -> &'a str {
    out.lines()
        .find(|l| l.contains(needle))
        .unwrap_or_else(|| panic!("no line with {needle:?} in:\n{out}"))
}

/// The line with `needle` and the line after it, joined by a space (a long observation
/// continues on the next line).
fn two_lines(out: &str, needle: &str) -> String {
    let mut lines = out.lines().skip_while(|l| !l.contains(needle));
    let first = lines
        .next()
        .unwrap_or_else(|| panic!("no line with {needle:?} in:\n{out}"));
    format!("{first} {}", lines.next().unwrap_or_default().trim())
}

/// A wait the demo deliberately makes (a deadline, a worker's pause) took at least most of the
/// time it claims: 90% of `ms`, allowing for clock granularity, never an upper bound (a
/// loaded machine may take longer).
fn waited_most_of(line: &str, ms: f64) {
    let waited = micros_after(line);
    assert!(
        waited >= 0.9 * ms * 1000.0,
        "claims a {ms} ms wait, measured {waited} µs: {line}"
    );
}

fn check_tour(out: &str) {
    // Step 1: every Task arrives whole, highest priority first, equal priorities in send order.
    let sent: Vec<_> = out
        .lines()
        .filter(|l| l.contains("coordinator sent"))
        .map(task_line)
        .collect();
    let taken: Vec<_> = out
        .lines()
        .filter(|l| l.trim_start().starts_with("took"))
        .map(task_line)
        .collect();
    assert!(sent.len() >= 3, "{out}");
    let mut expected = sent.clone();
    expected.sort_by_key(|t| std::cmp::Reverse(t.0)); // stable: equal priorities keep send order
    assert_eq!(taken, expected, "worker order\n{out}");
    assert!(
        sent.iter().map(|t| t.0).collect::<Vec<_>>()
            != expected.iter().map(|t| t.0).collect::<Vec<_>>()
    );
    for line in out.lines().filter(|l| l.trim_start().starts_with("took")) {
        let (_, _, payload) = task_line(line);
        assert_eq!(
            number_before(line, "-byte message") as usize,
            9 + payload.len(),
            "{line}"
        );
    }

    // Step 2: the pipe merged the writes into one run; the queue returned each write alone.
    let writes = line_with(out, "writes: \"")
        .matches("\"temperature")
        .count();
    let observed = line_with(out, "observed: the pipe returned");
    assert!(observed.contains("returned 1 run of bytes,"), "{observed}");
    assert!(
        observed.contains(&format!("the queue {writes} messages")),
        "{observed}"
    );
    assert!(line_with(out, "read 1:").contains(&format!("{} bytes", 15 * writes)));

    // Step 3: the messages outlived the sending processes, came back by priority, then the name went.
    let curmsgs = line_with(out, "(messages waiting now)");
    assert!(curmsgs.contains("curmsgs 3"), "{curmsgs}");
    let received: Vec<&str> = out
        .lines()
        .filter(|l| l.trim_start().starts_with("received prio"))
        .collect();
    assert_eq!(received.len(), 3, "{out}");
    assert!(received[0].contains("prio 5") && received[0].contains("alert: temperature: 99"));
    assert!(line_with(out, "removed $Q").contains("keep using it"));
    assert!(
        out.lines()
            .filter(|l| l.contains("mq_open"))
            .any(|l| l.contains("ENOENT")),
        "{out}"
    );

    // Step 4: full queue: EAGAIN without blocking, ETIMEDOUT after blocking, woken by the worker.
    let full = line_with(out, "mq_getattr: curmsgs");
    assert!(full.contains("curmsgs 3 of maxmsg 3"), "{full}");
    let nonblocking = line_with(out, "O_NONBLOCK descriptor");
    assert!(nonblocking.contains("EAGAIN"), "{nonblocking}");
    let timed = two_lines(out, "mq_timedsend with a 300 ms deadline");
    assert!(timed.contains("ETIMEDOUT"), "{timed}");
    waited_most_of(&timed, 300.0);
    assert!(micros_after(&timed) > micros_after(nonblocking));
    let woken = two_lines(out, "takes one message after");
    assert!(woken.contains("-> sent after"), "{woken}");
    waited_most_of(&woken, 200.0);
    let empty = two_lines(out, "mq_timedreceive on the empty queue, 300 ms");
    assert!(empty.contains("ETIMEDOUT"), "{empty}");
    waited_most_of(&empty, 300.0);

    // Step 5: the kernel's own answer to each limit, explained with its knob.
    let msgsize_max = mq_demo::msgsize_max().unwrap();
    let msg_max = mq_demo::msg_max().unwrap();
    for (attempt, knob, limit) in [
        (
            format!("maxmsg 1, msgsize {}", msgsize_max + 1),
            "msgsize_max",
            msgsize_max,
        ),
        (
            format!("maxmsg {}, msgsize 64", msg_max + 1),
            "msg_max",
            msg_max,
        ),
    ] {
        let answer = line_with(out, &format!("mq_open, {attempt} ->"));
        let why = two_lines(out, &format!("{} > {knob} ({limit})", limit + 1));
        if answer.contains("EINVAL (Invalid argument)") {
            assert!(
                why.contains(&format!("sysctl fs.mqueue.{knob}={}", limit + 1)),
                "{why}"
            );
        } else {
            // Only root with CAP_SYS_RESOURCE may pass the knob.
            assert!(answer.ends_with("-> created"), "{answer}");
            assert!(nix::unistd::geteuid().is_root(), "{answer}");
        }
    }
    assert!(line_with(out, "mq_send of 65 bytes").contains("EMSGSIZE"));
    let rlimit = two_lines(out, "mq_open, maxmsg 10, msgsize 1024");
    assert!(
        rlimit.contains("EMFILE") && rlimit.contains("RLIMIT_MSGQUEUE (4096 bytes)"),
        "{rlimit}"
    );

    // Step 6: round trips both ways, then EOF (not a hang) once the peer is SIGKILLed.
    let trips = line_with(out, "round trips of 64-byte messages");
    assert!(
        trips.trim_start().starts_with("1000 round trips"),
        "{trips}"
    );
    let eof = line_with(out, "killed it with SIGKILL, then read()");
    assert!(eof.contains(": 0 bytes (EOF)"), "{eof}");
    assert!(micros_after(eof) < 2_000_000.0, "{eof}");

    // Step 8: types 2, then the lowest first; the queue gone.
    assert!(line_with(out, "types taken:").ends_with("types taken: 2 1 3; sent: 3 1 2"));
    assert!(line_with(out, "msgctl(id, IPC_RMID)").contains("no longer lists"));

    // Step 7 and the end.
    let mpsc = line_with(out, "Tasks arrived as whole values");
    assert!(mpsc.ends_with(", in sending order;"), "{mpsc}");
    assert_eq!(
        out.lines()
            .filter(|l| l.contains("received Task {"))
            .count(),
        3
    );
    // The last check looks for all of it again: 6 names of steps 1-6, 2 of step 6's pair.
    let names = line_with(out, "POSIX queue names (steps 1-6)");
    assert!(
        names.contains("8 POSIX") && names.ends_with("ENOENT for 8"),
        "{out}"
    );
    assert!(line_with(out, "still open here").ends_with(": 0"), "{out}");
    assert!(
        line_with(out, "step 8's queue id").contains("sysvipc/msg: no;"),
        "{out}"
    );
    assert!(
        line_with(out, "step 8's directory").ends_with(": gone"),
        "{out}"
    );
    // Then the lecture's claims (tests/verdicts.rs checks them).
    let (steps, claims) = out
        .split_once("\nThe lecture, checked on this machine\n")
        .unwrap();
    assert_eq!(
        steps.lines().last(),
        Some("Nothing is left behind."),
        "{out}"
    );
    assert!(!claims.is_empty(), "{out}");
}

#[test]
fn tour_shows_priorities_boundaries_persistence_flow_and_limits() {
    let tag = unique_tag();
    let child = spawn(&[], &tag);
    let pid = child.id();
    let out = output_of(child);
    let stdout = text(&out.stdout);
    assert!(
        out.status.success(),
        "stdout:\n{stdout}\nstderr:\n{}",
        text(&out.stderr)
    );
    assert_eq!(text(&out.stderr), "");
    check_tour(&stdout);
    // Steps 1 to 6 each show their queue's name, so `leftovers` checks every one of them.
    assert_eq!(printed_names(pid, &stdout).len(), 6, "{stdout}");
    assert_eq!(leftovers(pid, &stdout), Vec::<String>::new());
    assert_eq!(processes_with_tag(&tag), Vec::<String>::new());
}

#[test]
fn two_tours_at_once_both_succeed() {
    let tag = unique_tag();
    let children = [spawn(&[], &tag), spawn(&[], &tag)];
    for child in children {
        let pid = child.id();
        let out = output_of(child);
        let stdout = text(&out.stdout);
        assert!(out.status.success(), "{stdout}\n{}", text(&out.stderr));
        check_tour(&stdout);
        assert_eq!(leftovers(pid, &stdout), Vec::<String>::new());
    }
    assert_eq!(processes_with_tag(&tag), Vec::<String>::new());
}

/// Real users are not root: when the suite runs as root (CI), run the tour as `nobody` too,
/// from a copy of the binary in a directory that user can reach.
#[test]
fn tour_runs_unprivileged() {
    if !nix::unistd::geteuid().is_root() {
        println!("not root: every other test already runs unprivileged");
        return;
    }
    let copy = testkit::NobodyCopy::of(BIN);
    let out = testkit::output(&mut copy.command(), "setpriv mq-demo");
    drop(copy);
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{stdout}\n{}", text(&out.stderr));
    check_tour(&stdout);
    assert!(!stdout.contains("running as root"));
}

/// Every line of stdout fits 80 columns (characters, not bytes), with a message naming it.
fn fits_80_columns(stdout: &str, what: &str) {
    for line in stdout.lines() {
        let width = line.chars().count();
        assert!(width <= 80, "{what}: {width} columns:\n{line}");
        // A command in `backquotes` is copied whole: a line never breaks inside one.
        let quotes = line.matches('`').count();
        assert!(
            quotes % 2 == 0,
            "{what}: a line breaks inside backquotes:\n{line}"
        );
    }
}

/// A step's heading, "N. title": a number at the start of the line, then ". ".
fn is_heading(line: &str) -> bool {
    line.split_once(". ")
        .is_some_and(|(number, _)| number.parse::<u32>().is_ok())
}

/// The default run in an 80-column terminal, and each step run alone: every line fits, and
/// each step prints the same numbered heading alone as in the tour.
#[test]
fn every_line_fits_80_columns_and_steps_keep_their_numbers() {
    let run80 = |args: &[&str]| {
        let out = testkit::output(command(args, &unique_tag()).env("COLUMNS", "80"), "mq-demo");
        let stdout = text(&out.stdout);
        assert!(
            out.status.success(),
            "{args:?}: {stdout}\n{}",
            text(&out.stderr)
        );
        fits_80_columns(&stdout, &format!("{args:?}"));
        stdout
    };
    let tour = run80(&[]);
    let headings: Vec<&str> = tour.lines().filter(|l| is_heading(l)).collect();
    let steps = [
        "dispatch",
        "boundaries",
        "persistence",
        "flow",
        "limits",
        "duplex",
        "mpsc",
        "by-type",
    ];
    assert_eq!(headings.len(), steps.len(), "{tour}");
    for (i, (step, heading)) in steps.iter().zip(&headings).enumerate() {
        assert!(heading.starts_with(&format!("{}. ", i + 1)), "{heading}");
        let alone = run80(&[step]);
        let first = alone.lines().find(|l| is_heading(l)).unwrap();
        assert_eq!(first, *heading, "`mq-demo {step}` alone");
    }
}
