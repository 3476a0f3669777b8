//! End-to-end: run the real binary as a user would and check what it printed.
#![allow(clippy::unwrap_used)]

mod common;

use std::process::{Command, Stdio};
use std::time::Duration;

use common::{BIN, finish, is_heading, run, stdout_of, step};

/// The line containing `needle`.
fn line_with<'a>(text: &'a str, needle: &str) -> &'a str {
    text.lines()
        .find(|l| l.contains(needle))
        .unwrap_or_else(|| panic!("no line with {needle:?} in:\n{text}"))
}

/// The line after the first line containing `needle`.
fn line_after<'a>(text: &'a str, needle: &str) -> &'a str {
    let mut lines = text.lines().skip_while(|l| !l.contains(needle));
    lines.next();
    lines
        .next()
        .unwrap_or_else(|| panic!("no line after {needle:?} in:\n{text}"))
}

/// Every line at most 80 characters (not bytes: "—" and "µ" are one column each).
fn assert_fits_80_columns(text: &str) {
    testkit::assert_fits_80_columns(text, |_| false);
}

/// The number right after `label` in `line`: number_after("sent 50, received 1", "received ") == 1.
fn number_after(line: &str, label: &str) -> u64 {
    let rest = &line[line
        .find(label)
        .unwrap_or_else(|| panic!("{label:?} not in {line:?}"))
        + label.len()..];
    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
    digits
        .parse()
        .unwrap_or_else(|_| panic!("no number after {label:?} in {line:?}"))
}

/// The "12.5" of "12.5 µs" right after `label`.
fn micros_after(line: &str, label: &str) -> f64 {
    let at = line
        .find(label)
        .unwrap_or_else(|| panic!("{label:?} not in {line:?}"))
        + label.len();
    let number: String = line[at..]
        .chars()
        .take_while(|c| c.is_ascii_digit() || *c == '.')
        .collect();
    number
        .parse()
        .unwrap_or_else(|_| panic!("no number after {label:?} in {line:?}"))
}

/// The values on the "si_value of each, in arrival order: 0..=9 11 10 12..." lines (runs of
/// consecutive values are written first..=last; the list may wrap onto indented lines).
fn si_values(text: &str) -> Vec<u64> {
    let mut lines = text.lines().skip_while(|l| !l.contains("si_value of each"));
    let (_, first) = lines
        .next()
        .unwrap_or_else(|| panic!("no si_value line in:\n{text}"))
        .split_once(": ")
        .expect("a colon before the values");
    let rest = lines.take_while(|l| l.starts_with("      ") && !l.trim().is_empty());
    let mut values = Vec::new();
    for word in std::iter::once(first)
        .chain(rest)
        .flat_map(str::split_whitespace)
    {
        match word.split_once("..=") {
            Some((a, b)) => values.extend(a.parse::<u64>().unwrap()..=b.parse().unwrap()),
            None => values.push(word.parse().expect("a number")),
        }
    }
    values
}

/// The pending-signal row of step 5 that starts with `label`: (ShdPnd decoded, SigQ count).
fn pending_row(text: &str, label: &str) -> (Vec<String>, u64) {
    let row = text
        .lines()
        .find(|l| l.trim_start().starts_with(label))
        .unwrap_or_else(|| panic!("no row {label:?} in:\n{text}"));
    let words: Vec<&str> = row[row.find(label).unwrap() + label.len()..]
        .split_whitespace()
        .collect();
    let mask = u64::from_str_radix(words[0], 16).unwrap_or_else(|_| panic!("{row}"));
    let queued = words[1].split_once('/').unwrap().0.parse().unwrap();
    // The decoded names must be what the mask says: one name per bit set.
    let names: Vec<String> = words[2..].iter().map(|w| w.to_string()).collect();
    if mask == 0 {
        assert_eq!(names, ["(nothing", "pending)"], "{row}");
        return (Vec::new(), queued);
    }
    assert_eq!(names.len() as u32, mask.count_ones(), "{row}");
    (names, queued)
}

/// Step 5 with `count` signals of each kind, as /proc showed it and as the child counted.
fn check_pending(text: &str, count: u64) {
    let (before, _) = pending_row(text, "nothing sent yet");
    assert!(before.is_empty(), "{text}");
    let (after_usr1, queued_usr1) = pending_row(text, &format!("{count} x SIGUSR1"));
    assert_eq!(after_usr1, ["SIGUSR1"], "one bit for {count} SIGUSR1");
    assert!(queued_usr1 >= 1, "the SIGUSR1 bit takes a queue entry");
    let (after_rt, queued_rt) = pending_row(text, &format!("+ {count} x SIGRTMIN"));
    assert_eq!(after_rt, ["SIGUSR1", "SIGRTMIN"]);
    // SigQ counts this user's pending signals: at least ours (other runs may add theirs).
    assert!(
        queued_rt > count,
        "SigQ {queued_rt} for {count} queued SIGRTMIN + 1"
    );
    let usr1 = line_with(text, "SIGUSR1 arrived");
    assert_eq!(number_after(usr1, "arrived "), 1, "{usr1}");
    assert_eq!(number_after(usr1, " of "), count, "{usr1}");
    let rt = line_with(text, "SIGRTMIN arrived");
    assert_eq!(number_after(rt, "arrived "), count, "{rt}");
    assert!(rt.ends_with("in order: yes"), "{rt}");
    assert_eq!(si_values(text), (0..count).collect::<Vec<u64>>());
}

/// Step 7 of a run with `signals` SIGRTMIN per child: the unsafe child's outcome in one of its
/// two honest forms; the safe child handled every signal; both children killed and reaped.
fn check_handler_safety(text: &str, signals: u64) {
    let section = step(text, 7);
    let deadlocked = section.lines().find(|l| l.starts_with("  -> deadlocked"));
    let survived = section
        .lines()
        .find(|l| l.starts_with("  -> did not deadlock this time: "));
    match (deadlocked, survived) {
        (Some(line), None) => {
            // "deadlocked at once: ..." or "deadlocked: its last report came after N signals
            // sent, with K handled; none since."; then where /proc says it sleeps.
            if !line.contains("deadlocked at once: not one progress report") {
                let sent = number_after(line, "came after ");
                assert!(sent <= signals, "{line}");
                let handled = line_after(section, line);
                assert!(handled.ends_with("handled; none since."), "{handled}");
                assert!(number_after(handled.trim_start(), "") <= sent, "{handled}");
            }
            assert!(section.contains("     Asleep in the kernel"), "{section}");
        }
        (None, Some(line)) => assert!(number_after(line, ": ") <= signals, "{line}"),
        _ => panic!("step 7 gives neither or both outcomes:\n{section}"),
    }
    assert!(section.contains("(a race: "), "{section}");
    let safe = line_with(section, "handled by the main loop");
    assert_eq!(number_after(safe, "-> "), signals, "{safe}");
    assert_eq!(number_after(safe, "sent, "), signals, "{safe}");
    let killed = section
        .lines()
        .filter(|l| l.contains(", SIGKILL): the child was killed by SIGKILL"))
        .count();
    assert_eq!(killed, 2, "both children killed and reaped:\n{section}");
}

#[test]
fn tour_shows_every_observation() {
    // An 80-column terminal: every line of the default run must fit (checked at the end).
    let text = run_tour(|tour| {
        tour.env("COLUMNS", "80");
    });
    check_tour(&text);
}

/// Runs the whole tour, set up by `configure`, and returns its stdout; fails if it fails or
/// leaves a child behind.
fn run_tour(configure: impl FnOnce(&mut Command)) -> String {
    let mut tour = Command::new(BIN);
    tour.stdout(Stdio::piped()).stderr(Stdio::piped());
    configure(&mut tour);
    let output = tour.spawn().expect("spawn");
    stdout_of(&finish(output, Duration::from_secs(30)))
}

/// Every step's observation, in the tour's output.
fn check_tour(text: &str) {
    // Step 1: real numbers; KILL and STOP refused by the kernel, the others accepted.
    assert!(line_with(text, "Int ").contains(&format!(" {} ", libc::SIGINT)));
    assert!(line_with(text, "Kill ").contains("no: EINVAL"));
    assert!(line_with(text, "Stop ").contains("no: EINVAL"));
    assert!(line_with(text, "Usr1 ").contains("yes"));
    // What a signal carries, said the same way in step 1 and in step 5, where si_values print.
    for n in [1, 5] {
        let section = step(text, n);
        assert!(section.contains("carries only its number"), "{section}");
        assert!(section.contains("one integer"), "{section}");
        assert!(!section.contains("no payload"), "{section}");
    }
    // Step 2: caught by the iterator; TERM ends gracefully, INT is re-raised.
    let catching = step(text, 2);
    assert!(line_after(catching, "SIGUSR1)").contains("child: caught SIGUSR1"));
    assert!(line_after(catching, "SIGTERM)").contains("child: caught SIGTERM"));
    assert!(
        catching.contains("the child exited with status 0"),
        "{catching}"
    );
    assert!(line_after(catching, "SIGINT)").contains("child: caught SIGINT"));
    assert!(line_with(catching, "waitpid").contains("exited with status 0"));
    assert!(line_after(catching, "killed by SIGINT").contains("caught, yet Ctrl-C"));
    // Step 3: refusal shown; a stopped child makes no progress, a continued one does.
    assert!(line_with(text, "handler for SIGKILL").contains("refused, sigaction -> EINVAL"));
    assert!(line_with(text, "handler for SIGSTOP").contains("refused, sigaction -> EINVAL"));
    let running = line_with(text, "(handles INT, TERM, USR1): progress");
    assert!(
        number_after(running, " in ") >= 200,
        "watched 200 ms: {running}"
    );
    assert!(line_with(text, "kill SIGSTOP").contains("stopped by SIGSTOP"));
    // The claim "0 lines in 300 ms" only means something if the parent really watched.
    let stopped = line_after(text, "kill SIGSTOP");
    assert_eq!(number_after(stopped, "then "), 0, "{stopped}");
    assert!(number_after(stopped, "lines in ") >= 300, "{stopped}");
    let resumed = line_with(text, "kill SIGCONT");
    assert!(number_after(resumed, " in ") >= 200, "{resumed}");
    let after_resume = number_after(resumed.rsplit_once("-> ").unwrap().1, "");
    assert!(
        after_resume > number_after(stopped, "counter stays at "),
        "{resumed}"
    );
    assert!(line_with(text, "kill SIGKILL").contains("killed by SIGKILL"));
    assert!(line_after(text, "FORBIDDEN").contains("SIGKILL SIGSTOP"));
    // Step 4: all three statuses reported and reaped.
    for status in [
        "exited with status 0",
        "exited with status 3",
        "killed by SIGTERM",
    ] {
        assert!(
            text.lines()
                .any(|l| l.contains("reaped") && l.contains(status)),
            "{status}"
        );
    }
    assert_eq!(
        number_after(line_with(text, "ECHILD for "), "ECHILD for "),
        3
    );
    // Step 5 (50 of each): one pending bit for SIGUSR1, a queue entry for each SIGRTMIN.
    check_pending(text, 50);
    // Step 6: EINTR without SA_RESTART; with it the read waited for the data, which the
    // parent wrote after the wait it claims: at least 200 ms, all of it inside the read.
    assert!(line_with(text, "without SA_RESTART:").contains("EINTR"));
    let restarted = line_with(text, "with SA_RESTART:");
    assert_eq!(number_after(restarted, "-> "), 5, "{restarted}");
    let read_ms = number_after(restarted, "bytes after ");
    let waited = line_with(text, "it resumed: the parent waited ");
    let waited_ms = number_after(waited, "waited ");
    assert!(waited_ms >= 200, "{waited}");
    assert!(
        read_ms + 1 >= waited_ms,
        "read {read_ms} ms < wait {waited_ms} ms"
    );
    // Step 7: the unsafe handler's outcome, honestly; the safe one handles every signal.
    check_handler_safety(text, 1000);
    // Steps 8-9: measured, and said where.
    let same = line_with(step(text, 8), "same core (CPU ");
    assert!(micros_after(same, "p50 ") > 0.0, "{same}");
    assert!(
        micros_after(same, "p99 ") >= micros_after(same, "p50 "),
        "{same}"
    );
    let pays = line_with(step(text, 9), "same core (CPU ");
    assert!(micros_after(pays, "sender ") > 0.0, "{pays}");
    assert!(micros_after(pays, "receiver ") > 0.0, "{pays}");
    assert_fits_80_columns(text);
}

/// Started by a parent that ignores SIGCHLD and blocks every signal (both are inherited
/// across exec), the tour works all the same: plumbing's main resets them, and the steps rely
/// on it (waitpid needs SIGCHLD not ignored; SIGCHLD, SIGUSR1, SIGRTMIN must not stay blocked).
#[test]
fn tour_works_with_sigchld_ignored_and_every_signal_blocked() {
    let text = run_tour(|tour| {
        testkit::start_carelessly(tour);
    });
    check_tour(&text);
}

/// A restrictive umask changes nothing: the tour creates no named object (its children talk
/// through pipes), and it works under each.
#[test]
fn tour_works_under_a_restrictive_umask() {
    for mask in [0o277, 0o377, 0o777] {
        let text = run_tour(|tour| {
            testkit::with_umask(tour, mask);
        });
        check_tour(&text);
    }
}

#[test]
fn realtime_queue_keeps_every_value_in_order() {
    for count in [200, 1000] {
        let output = Command::new(BIN)
            .args(["pending", "--count", &count.to_string()])
            .env("COLUMNS", "80")
            .output()
            .expect("run signal-demo");
        let text = stdout_of(&output);
        check_pending(&text, count);
        assert_fits_80_columns(&text);
        assert!(text.contains("\n5. "), "the same step number alone: {text}");
    }
}

/// The storm step alone, twice (it is a race): each run gives one of the two outcomes, the
/// safe child handles every signal, and no child survives the run (`finish` checks).
#[test]
fn a_handler_that_locks_deadlocks_or_says_it_did_not() {
    for _ in 0..2 {
        let run = Command::new(BIN)
            .args(["handler-safety", "--signals", "300"])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn");
        let text = stdout_of(&finish(run, Duration::from_secs(15)));
        check_handler_safety(&text, 300);
    }
}

/// Each step run alone prints the number it has in the tour, and fits 80 columns too.
#[test]
fn steps_alone_keep_their_tour_numbers() {
    let steps: [&[&str]; 9] = [
        &["table"],
        &["catch"],
        &["uncatchable"],
        &["sigchld"],
        &["pending"],
        &["eintr"],
        &["handler-safety", "--signals", "10"],
        &["cost", "--rounds", "10"],
        &["who-pays", "--rounds", "10"],
    ];
    for (n, args) in (1..).zip(steps) {
        let text = stdout_of(&run(args));
        let heading = text.lines().find(|l| is_heading(l)).unwrap();
        assert!(
            heading.starts_with(&format!("{n}. ")),
            "{args:?}: {heading}"
        );
        assert_fits_80_columns(&text);
    }
}

#[test]
fn send_by_name_reports_what_happened() {
    let caught = stdout_of(&run(&["send", "usr1"]));
    assert!(caught.contains("caught SIGUSR1"), "{caught}");
    let stopped = stdout_of(&run(&["send", "SIGSTOP"]));
    assert!(stopped.contains("stopped by SIGSTOP"), "{stopped}");
    let killed = stdout_of(&run(&["send", "KILL"]));
    assert!(killed.contains("killed by SIGKILL"), "{killed}");
}

#[test]
fn bad_input_is_one_line_and_exit_2() {
    let table: &[&[&str]] = &[
        &["send", "sigfoo"],
        &["send", "9"],
        &["send", "segv"],
        &["send"],
        &["pending", "--count", "0"],
        &["pending", "--count", "-1"],
        &["pending", "--count", "1001"],
        &["pending", "--count", "many"],
        &["handler-safety", "--signals", "9"],
        &["handler-safety", "--signals", "10001"],
        &["cost", "--rounds", "0"],
        &["cost", "--rounds", "99999999999999999999"],
        &["who-pays", "--rounds", "5"],
        &["no-such-step"],
    ];
    for args in table {
        let output = run(args);
        let err = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{args:?}: {err}");
        assert_eq!(err.lines().count(), 1, "{args:?}: {err}");
        assert!(err.starts_with("signal-demo: "), "{args:?}: {err}");
        assert!(!err.contains("panicked at"), "{args:?}: {err}");
    }
    // A runtime error (here: the hidden child role whose parent is not its parent) exits 1.
    let output = run(&["child", "--parent", "1", "sleeper"]);
    let err = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.starts_with("signal-demo: child "), "{err}");
    assert!(err.contains("(pid 1) is already gone"), "{err}");
}

#[test]
fn two_tours_at_once_both_succeed() {
    let first = Command::new(BIN)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let second = Command::new(BIN)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    for tour in [first, second] {
        let text = stdout_of(&finish(tour, Duration::from_secs(60)));
        assert!(text.contains("Done: every child was reaped"));
    }
}

#[test]
fn tour_runs_unprivileged() {
    if !nix::unistd::geteuid().is_root() {
        println!("not root: this whole suite already ran unprivileged");
        return;
    }
    let copy = testkit::NobodyCopy::of(BIN);
    let output = copy.command().output();
    match output {
        Ok(output) => {
            let text = stdout_of(&output);
            assert!(text.contains("Done: every child was reaped"));
        }
        Err(e) => println!("setpriv unavailable ({e}); unprivileged run skipped"),
    }
}
