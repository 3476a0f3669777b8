//! The tour's closing block, "The lecture, checked on this machine": one line per claim,
//! each CONFIRMED, QUALIFIED or REFUTED. Every line must quote the numbers its step printed
//! earlier in the same run, and carry the verdict those numbers call for. Each test spawns the
//! binary as a user would; nothing here forks.
#![allow(clippy::unwrap_used)]

use std::collections::BTreeSet;
use std::process::Command;
use std::time::Duration;

use testkit::verdicts::{Tour, as_nobody, between, leading_number, run_tour, verdict};

const BIN: &str = env!("CARGO_BIN_EXE_pipe-demo");

fn run(command: &mut Command) -> Tour {
    run_tour(command, Duration::from_secs(60), "pipe-demo").0
}

fn tour(args: &[&str]) -> Tour {
    run(Command::new(BIN).args(args))
}

/// The bytes that went in before EAGAIN in the measurement that follows `marker`.
fn filled_after(run: &Tour, marker: &str) -> u64 {
    let text = between(&run.steps, marker, " bytes went in before write() failed");
    leading_number(text.rsplit(char::is_whitespace).next().unwrap())
}

fn one_way(run: &Tour) {
    let c = run.claim("a pipe is one-way");
    let line = run.after("   write() on the read end: ");
    let (wrong_write, wrong_read) = line.split_once("; read() on the write end: ").unwrap();
    let expected =
        format!("write() on the read end gave {wrong_write}, read() on the write end {wrong_read}");
    assert_eq!(c.because, expected);
    assert_eq!(
        c.verdict,
        verdict(wrong_write == "EBADF" && wrong_read == "EBADF", false)
    );
}

fn end_of_file(run: &Tour) {
    let c = run.claim("end-of-file once the last write end closes");
    let written = run.number_after("readings (");
    assert_eq!(run.number_after("with all "), written, "{}", run.steps);
    let place = match run.after("       the child is asleep (") {
        p if p.starts_with("state S, in the kernel function ") => {
            between(p, "function ", ")").to_string()
        }
        _ => "state S".to_string(),
    };
    let ended = run.number_after("read() returned 0 (end-of-file) after ") == written
        && run
            .after("parent: reaped child ")
            .ends_with("it exited with status 0");
    let after = if ended {
        "end-of-file"
    } else {
        "no end-of-file"
    };
    let expected = format!(
        "{written} bytes read, then asleep ({place}) while a dup() was open; \
         {after} after the last closed"
    );
    assert_eq!(c.because, expected);
    assert_eq!(c.verdict, verdict(ended, false));
}

fn bounded(run: &Tour) {
    let c = run.claim("a pipe is a bounded buffer of 64 KiB");
    let reported = run.number_after("3a. a new pipe: F_GETPIPE_SZ says ");
    let filled = filled_after(run, "3a. a new pipe");
    let resized = filled_after(run, "the resized pipe");
    let mut expected = format!("{filled} bytes went in, then EAGAIN");
    if filled != reported {
        expected += &format!(" (F_GETPIPE_SZ said {reported})");
    }
    if resized != filled {
        expected += &format!("; after F_SETPIPE_SZ {resized}");
    }
    assert_eq!(c.because, expected);
    let holds = filled == reported && filled > 0;
    assert_eq!(
        c.verdict,
        verdict(holds, filled != 65536 || resized != filled)
    );
}

fn blocking(run: &Tour) {
    let c = run.claim("a full pipe stops the writer");
    // "       after 200 ms the writer is still asleep (anon_pipe_write)"
    let side = |who: &str| {
        let line = run.line_with(&format!(" ms the {who} is "));
        let hold = leading_number(line.trim_start().strip_prefix("after ").unwrap());
        match line.split_once("is still asleep (") {
            Some((_, place)) => (true, format!("{who} still asleep after {hold} ms ({place}")),
            None => (false, format!("{who} awake after {hold} ms")),
        }
    };
    let (writer_slept, writer) = side("writer");
    let (reader_slept, reader) = side("reader");
    assert_eq!(c.because, format!("{writer}, {reader}"));
    assert_eq!(c.verdict, verdict(writer_slept && reader_slept, false));
}

fn no_reader(run: &Tour) {
    let c = run.claim("with no reader left");
    let epipe = run
        .after("4a. write() with no reader left ")
        .starts_with("failed: EPIPE");
    let killed = run
        .after("wrote the same bytes:\n       ")
        .starts_with("killed by SIGPIPE");
    let expected = format!(
        "write() {}; a child with the default action {}",
        if epipe {
            "failed with EPIPE"
        } else {
            "did not fail with EPIPE"
        },
        if killed {
            "was killed by SIGPIPE"
        } else {
            "lived"
        }
    );
    assert_eq!(c.because, expected);
    assert_eq!(c.verdict, verdict(epipe && killed, false));
}

fn pipeline(run: &Tour) {
    let c = run.claim("`ls | grep .rs | wc -l` is 2 pipes, 3 processes");
    let pipes_line = run.after("   pipes: ");
    let inodes: BTreeSet<&str> = pipes_line
        .split("pipe:[")
        .skip(1)
        .map(|s| s.split(']').next().unwrap())
        .collect();
    let hand = run.after("   by hand (");
    let (pids, counts) = hand.split_once("): ").unwrap();
    let pids: BTreeSet<&str> = pids
        .split(", ")
        .map(|p| p.rsplit(' ').next().unwrap())
        .collect();
    let (by_hand, shell) = counts.split_once("; the shell: ").unwrap();
    let agree = if by_hand == shell { "as" } else { "but" };
    let expected = format!(
        "{} pipes and {} processes counted {by_hand}, {agree} the shell did {shell}",
        inodes.len(),
        pids.len()
    );
    assert_eq!(c.because, expected);
    let holds = inodes.len() == 2 && pids.len() == 3 && by_hand == shell;
    assert_eq!(c.verdict, verdict(holds, false));
}

/// The readings of step 6: what 6a wrote and cat read, what 6b wrote and head read.
fn readings(run: &Tour) -> [String; 4] {
    let quoted = |text: &str| between(text, "\"", "\"").to_string();
    let a = between(&run.steps, "6a. wrote ", "6b. ");
    let b = &run.steps[run.steps.find("6b. wrote ").unwrap()..];
    [
        quoted(a),
        quoted(&a[a.find("read \"").unwrap()..]),
        quoted(b),
        quoted(&b[b.find("and read \"").unwrap()..]),
    ]
}

fn copied(run: &Tour) {
    let c = run.claim("the data is copied through the kernel");
    let [sent, got, ..] = readings(run);
    assert!(sent.starts_with("sensor_reading: 0x"), "{sent}");
    let expected = match got == sent {
        true => format!("cat read {got:?} after we overwrote ours"),
        false => format!("cat read {got:?}, not {sent:?}"),
    };
    assert_eq!(c.because, expected);
    assert_eq!(c.verdict, verdict(got == sent, false));
}

fn anonymous(run: &Tour) {
    let c = run.claim("only related processes share an anonymous pipe");
    let [.., sent, got] = readings(run);
    let fd = run.number_after("into a new pipe with no name: fd ");
    let link = between(run.after("into a new pipe with no name: fd "), "\"", "\"");
    // head opened our read end in the tour's own /proc entry: a fake could not guess the pid.
    let opened = run.after("which inherited neither end, opened ");
    assert_eq!(opened, format!("/proc/{}/fd/{fd}", run.pid));
    let same_user = got == sent;
    let other = if run.steps.contains("as uid 65534, head ") {
        let refused = run.after("as uid 65534, head ").contains(" was refused: ");
        Some(refused)
    } else {
        assert!(run.steps.contains("(another user's process not tried"));
        None
    };
    let mut expected = match same_user {
        true => format!("no name ({link}), yet head read it via /proc"),
        false => format!("no name ({link}); head could not read it via /proc"),
    };
    expected += match other {
        Some(true) => "; another user's head was refused",
        Some(false) => "; another user's head read it too",
        None => "; another user not tried",
    };
    assert_eq!(c.because, expected);
    let holds = link.starts_with("pipe:[");
    assert_eq!(c.verdict, verdict(holds, same_user || other == Some(false)));
}

fn lightest(run: &Tour) {
    let c = run.claim("a pipe is the lightest IPC to set up");
    let setup = |name: &str| leading_number(run.after(name).trim_start());
    let pipe = setup("pipe() + close both ends");
    let socketpair = setup("socketpair() + close both ends");
    let msgget = setup("msgget(IPC_PRIVATE) + IPC_RMID");
    let expected = format!("pipe {pipe} ns, socketpair {socketpair} ns, msgget {msgget} ns");
    assert_eq!(c.because, expected);
    let least = socketpair.min(msgget);
    let expected = match pipe <= least {
        true => "CONFIRMED",
        false => verdict(pipe * 4 <= least * 5, true),
    };
    assert_eq!(c.verdict, expected);
}

/// Every check, on one run of the whole tour.
fn check_every_claim(run: &Tour) {
    run.assert_claims(9);
    one_way(run);
    end_of_file(run);
    bounded(run);
    blocking(run);
    no_reader(run);
    pipeline(run);
    copied(run);
    anonymous(run);
    lightest(run);
}

#[test]
fn every_claim_quotes_this_runs_numbers_with_the_verdict_they_call_for() {
    check_every_claim(&tour(&[]));
}

/// As root, once more as `nobody`: the other-user probe is not tried, and the line says so.
#[test]
fn every_claim_holds_together_as_an_ordinary_user_too() {
    let Some(nobody) = as_nobody(BIN, run) else {
        return;
    };
    check_every_claim(&nobody);
    assert!(
        nobody
            .claim("only related")
            .because
            .ends_with("another user not tried")
    );
}

/// A reading a fake could print every time would pass the checks above: each run draws its
/// own, so two runs never show the same one.
#[test]
fn the_readings_of_step_6_are_drawn_per_run() {
    let first = readings(&tour(&["copy"]));
    let second = readings(&tour(&["copy"]));
    for reading in first.iter().chain(&second) {
        assert!(reading.starts_with("sensor_reading: 0x"), "{reading}");
    }
    assert_ne!(first[0], second[0]);
    assert_ne!(first[2], second[2]);
    assert_ne!(first[0], first[2]);
}

/// The same claim, another number: a pipe left at 64 KiB confirms the lecture, one resized to
/// 128 KiB qualifies it.
#[test]
fn resizing_the_pipe_changes_the_bounded_buffer_verdict() {
    let small = tour(&["buffer", "--pipe-size", "4096"]);
    bounded(&small);
    assert_eq!(small.claim("a pipe is a bounded").verdict, "QUALIFIED");
    let default = filled_after(&small, "3a. a new pipe");
    for size in [default, default * 2] {
        let run = tour(&["buffer", "--pipe-size", &size.to_string()]);
        bounded(&run);
        let expected = match default == 65536 && size == default {
            true => "CONFIRMED",
            false => "QUALIFIED",
        };
        assert_eq!(run.claim("a pipe is a bounded").verdict, expected);
    }
}

/// A step run alone ends with its own claims and no others'.
#[test]
fn a_step_run_alone_prints_its_own_claims() {
    let steps: [(&str, &[&str]); 7] = [
        ("cat", &[]),
        ("fork", &["a pipe is one-way", "end-of-file once"]),
        ("buffer", &["a pipe is a bounded", "a full pipe stops"]),
        ("broken", &["with no reader left"]),
        ("pipeline", &["`ls | grep .rs | wc -l`"]),
        ("copy", &["the data is copied", "only related processes"]),
        ("setup", &["a pipe is the lightest"]),
    ];
    for (step, claims) in steps {
        let run = tour(&[step]);
        run.assert_claims_start(claims, step);
    }
}
