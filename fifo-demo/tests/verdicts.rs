//! The tour's closing block, "The lecture, checked on this machine": one line per claim,
//! each CONFIRMED, QUALIFIED or REFUTED. Every line must quote the numbers its step printed
//! earlier in the same run, and carry the verdict those numbers call for.
#![allow(clippy::unwrap_used)]

mod common;

use std::os::unix::fs::PermissionsExt;
use std::process::{Command, Stdio};
use std::time::Duration;

use common::*;
use testkit::verdicts::{self, Tour, after, leading_number, number_after, verdict};

/// The tour `command` starts, run to its end; it must succeed and say nothing on stderr.
fn run_tour(command: &mut Command) -> Tour {
    let (run, done) = verdicts::run_tour(
        command.stdin(Stdio::null()),
        Duration::from_secs(60),
        "fifo-demo",
    );
    assert_eq!(done.stderr, "");
    run
}

/// The tour (or the step `args` names) with its FIFOs under `dir`, opened to other users'
/// search (0711) so that step 9's writer, as nobody, can reach the FIFO when we are root.
fn tour_in(dir: &TestDir, args: &[&str]) -> Tour {
    std::fs::set_permissions(&dir.0, std::fs::Permissions::from_mode(0o711)).unwrap();
    let run = run_tour(tour(&dir.0).args(args));
    dir.assert_empty();
    run
}

/// The number just before `marker` on the first line holding it.
fn number_before(text: &str, marker: &str) -> u64 {
    let line = text.lines().find(|l| l.contains(marker)).unwrap();
    let before = line.split_once(marker).unwrap().0;
    before.rsplit(' ').next().unwrap().parse().unwrap()
}

/// A duration as the tour prints it ("300.4 ms", "10 µs"), at the start of `text`: the text
/// and the value in ms.
fn duration_at(text: &str) -> (String, f64) {
    let mut words = text.split_whitespace();
    let number = words.next().unwrap();
    let unit = words.next().unwrap().trim_end_matches([':', ',']);
    let value: f64 = number.parse().unwrap();
    let ms = if unit == "µs" { value / 1000.0 } else { value };
    assert!(unit == "ms" || unit == "µs", "{text}");
    (format!("{number} {unit}"), ms)
}

fn named(run: &Tour) {
    let c = run.claim("a FIFO is a pipe with a name");
    let stat = after(run.step(1), "   stat: type ");
    let (kind, rest) = stat.split_once(", mode ").unwrap();
    let mode = &rest[..4];
    let expected = format!("stat of sensor_pipe says type {kind}, mode {mode}");
    assert_eq!(c.because, expected);
    assert_eq!(c.verdict, verdict(kind == "fifo", false));
}

fn open_waits(run: &Tour) {
    let c = run.claim("open() waits for the other end");
    let step = run.step(2);
    let errno = after(step, "open(O_WRONLY|O_NONBLOCK) fails: ")
        .split(',')
        .next()
        .unwrap();
    let reader = duration_at(after(step, "open returned after "));
    let writer = duration_at(after(step, "open waited ")).0;
    let expected = format!(
        "O_NONBLOCK write open with no reader: {errno}; the reader's open() took {}, the \
         writer's {writer}",
        reader.0
    );
    assert_eq!(c.because, expected);
    assert_eq!(
        c.verdict,
        verdict(errno == "ENXIO" && reader.1 >= 150.0, false)
    );
}

fn meet(run: &Tour) {
    let c = run.claim("unrelated processes meet through the name");
    let step = run.step(2);
    // The pid whose descriptors were listed is the reader the step started.
    let started = number_after(step, "started reader (pid ");
    let listed = after(step, ", in open(), holds fds ");
    assert!(step.contains(&format!("   reader {started}, in open(), holds fds ")));
    let (fds, of_fifo) = listed.split_once(": ").unwrap();
    let of_fifo = match of_fifo {
        "none of them the FIFO" => 0,
        n => leading_number(n),
    };
    let fds = fds.split(' ').count();
    let got = number_after(step, "EOF after ");
    let sent = number_before(step, " bytes in ");
    let expected = format!(
        "the reader held {fds} fds, {of_fifo} of the FIFO, before open(); it then read {got} \
         of the writer's {sent} bytes"
    );
    assert_eq!(c.because, expected);
    assert_eq!(c.verdict, verdict(of_fifo == 0 && got == sent, false));
}

fn in_kernel(run: &Tour) {
    let c = run.claim("the data stays in the kernel");
    let step = run.step(3);
    let size = number_after(step, "fstat says type fifo, size ");
    let waiting = number_after(step, "FIONREAD: ");
    let through = number_after(step, "   stat after ");
    let size_after = number_after(step, "went through: type fifo, mode 0600, size ");
    let expected = format!(
        "size {size} while {waiting} bytes waited in the pipe; {size_after} after {through} \
         went through"
    );
    assert_eq!(c.because, expected);
    let holds = size == 0 && waiting > 0 && size_after == 0;
    assert_eq!(c.verdict, verdict(holds, false));
}

fn whole(run: &Tour) {
    let c = run.claim("writes of at most PIPE_BUF bytes arrive whole");
    let step = run.step(3);
    let writers = step.matches(": open waited ").count() as u64;
    let each = number_after(step, "each writer sends ");
    let bytes = number_after(step, &format!("sends {each} lines of "));
    let lines = writers * each;
    let (w, t) = (
        number_after(step, ": whole "),
        number_after(step, ", torn "),
    );
    let turns = number_after(step, "writer changes between lines: ");
    let mut expected = format!(
        "{w} of {lines} lines of {bytes} bytes arrived whole, {t} torn, with {turns} changes \
         of writer between lines"
    );
    if turns == 0 {
        expected += "; the writers never took turns, so none could tear";
    }
    assert_eq!(c.because, expected);
    assert_eq!(c.verdict, verdict(w == lines && t == 0, turns == 0));
}

fn interleave(run: &Tour) {
    let c = run.claim("writes above PIPE_BUF may interleave");
    let step = run.step(4);
    let big = number_after(step, "each send 2 lines of ");
    let lines = 2 * step.matches(": open waited ").count() as u64;
    let (w, t) = (
        number_after(step, ": whole "),
        number_after(step, ", torn "),
    );
    let inside = number_after(step, "; inside lines: ");
    let got = number_after(step, "EOF after ");
    // The reader's summary agrees with the torn lines it printed (it shows all 4).
    assert_eq!(step.matches("got TORN line").count() as u64, t, "{step}");
    let mut expected = format!(
        "{t} of {lines} lines of {big} bytes torn, with {inside} changes of writer inside lines"
    );
    if inside == 0 {
        expected += "; none interleaved in this run";
    }
    assert_eq!(c.because, expected);
    let holds = got == lines * big && w + t == lines;
    assert_eq!(c.verdict, verdict(holds, inside == 0));
}

fn end_of_file(run: &Tour) {
    let c = run.claim("EOF comes when the last writer leaves");
    let step = run.step(5);
    let a = duration_at(after(step, "'sensor A' +"));
    let b = duration_at(after(step, "'sensor B' +"));
    let reader = duration_at(after(step, "the reader (after EOF) +"));
    let got = number_after(step, "EOF after ");
    let sent: u64 = step
        .lines()
        .filter(|l| l.contains(" bytes in "))
        .map(|l| number_before(l, " bytes in "))
        .sum();
    let expected = format!(
        "EOF after {got} of {sent} bytes; the reader left at +{}, the writers at +{} and +{}",
        reader.0, a.0, b.0
    );
    assert_eq!(c.because, expected);
    let holds = got == sent && reader.1 + 20.0 >= a.1.max(b.1);
    assert_eq!(c.verdict, verdict(holds, false));
}

/// Step 6's maker: the pid it printed itself, and the pid the tour says exited.
fn maker(run: &Tour) -> (u64, u64) {
    let step = run.step(6);
    let made = number_after(step, "   maker ");
    let line = step
        .lines()
        .find(|l| l.contains(" exited with status 0"))
        .unwrap();
    let exited = leading_number(line.trim_start().strip_prefix("maker ").unwrap());
    (made, exited)
}

fn outlives(run: &Tour) {
    let c = run.claim("a FIFO outlives the process that made it");
    let step = run.step(6);
    let (made, exited) = maker(run);
    assert_eq!(made, exited, "{step}");
    let kind = after(step, "   stat: type ").split(',').next().unwrap();
    let got = number_after(step, "EOF after ");
    let sent = number_before(step, " bytes in ");
    let expected = format!(
        "maker {exited} exited; then stat said type {kind}, and {got} of {sent} bytes went through it"
    );
    assert_eq!(c.because, expected);
    assert_eq!(c.verdict, verdict(kind == "fifo" && got == sent, false));
}

fn pipe_limits(run: &Tour) {
    let c = run.claim("a FIFO is one-way and a byte stream");
    let step = run.step(8);
    let (wrong_write, wrong_read) = after(step, "   write() on the read end: ")
        .split_once("; read() on the write end: ")
        .unwrap();
    let each = number_after(step, "two write()s of ");
    let got = number_after(step, "it returned ");
    let expected = format!(
        "write() on the read end gave {wrong_write}, read() on the write end {wrong_read}; \
         2 writes of {each} bytes came out as 1 read of {got}"
    );
    assert_eq!(c.because, expected);
    let holds = wrong_write == "EBADF" && wrong_read == "EBADF" && got == 2 * each;
    assert_eq!(c.verdict, verdict(holds, false));
}

/// Step 9, when it was shown: what uid 65534's writer met at each mode, as the claim says it.
fn users(run: &Tour) {
    let step = run.step(9);
    if step.contains("   not shown: ") {
        let none = run
            .claims
            .iter()
            .all(|c| !c.claim.starts_with("processes of different users"));
        assert!(none, "a verdict it did not earn: {:?}", run.claims);
        return;
    }
    let c = run.claim("processes of different users meet at a FIFO");
    let met = |mode: &str| {
        let line = after(step, &format!("at mode {mode}, writer "));
        match line.split_once("open(O_WRONLY) ").unwrap().1 {
            "returns" => "returned".to_string(),
            fails => format!("failed with {}", fails.strip_prefix("fails: ").unwrap()),
        }
    };
    let (at_0600, at_0622) = (met("0600"), met("0622"));
    let arrived = after(step, "and we read what it wrote: ") == r#""hello from uid 65534\n""#;
    let expected = format!(
        "uid 65534's open(O_WRONLY) {at_0600} at mode 0600, {at_0622} at 0622, and its line {}",
        if arrived { "arrived" } else { "did not arrive" }
    );
    assert_eq!(c.because, expected);
    let holds = at_0622 == "returned" && arrived;
    assert_eq!(c.verdict, verdict(holds, at_0600 != "failed with EACCES"));
}

/// Every check, on one run of the whole tour; `others`: whether step 9 could show another
/// user (root, and a TMPDIR that user can reach).
fn check_every_claim(run: &Tour, others: bool) {
    run.assert_claims(if others { 10 } else { 9 });
    named(run);
    open_waits(run);
    meet(run);
    in_kernel(run);
    whole(run);
    interleave(run);
    end_of_file(run);
    outlives(run);
    pipe_limits(run);
    users(run);
}

fn is_root() -> bool {
    nix::unistd::geteuid().is_root()
}

#[test]
fn every_claim_quotes_this_runs_numbers_with_the_verdict_they_call_for() {
    let dir = TestDir::new("verdicts");
    let run = tour_in(&dir, &[]);
    check_every_claim(&run, is_root());
    if is_root() {
        // Refused at 0600, let in at 0622: the mode decides, as the lecture implies.
        assert_eq!(run.claim("processes of different").verdict, "CONFIRMED");
    } else {
        assert!(
            run.step(9)
                .contains("not shown: it needs a process of a second user")
        );
    }
}

/// As `nobody`: step 9 cannot start another user's process, says so, and judges nothing.
#[test]
fn as_an_ordinary_user_step_9_says_why_and_judges_nothing() {
    if !is_root() || !testkit::have_setpriv() {
        println!("skipped: needs root and setpriv (the test above ran unprivileged if not root)");
        return;
    }
    let dir = TestDir::new("verdicts-nobody");
    std::fs::set_permissions(&dir.0, std::fs::Permissions::from_mode(0o777)).unwrap();
    let copy = testkit::NobodyCopy::of(BIN);
    let mut command = copy.command();
    command.env("TMPDIR", &dir.0);
    let run = run_tour(&mut command);
    check_every_claim(&run, false);
    assert!(
        run.step(9)
            .contains("not shown: it needs a process of a second user, and only root can"),
        "{}",
        run.step(9)
    );
    dir.assert_empty();
}

/// As root, with a TMPDIR closed to others (0700): nobody's writer cannot reach the FIFO, so
/// the step says so and judges nothing, rather than blaming the FIFO's mode.
#[test]
fn a_fifo_that_another_user_cannot_reach_gets_no_verdict() {
    if !is_root() {
        println!("skipped: needs root to start another user's process");
        return;
    }
    let dir = TestDir::new("verdicts-closed"); // 0700
    let run = run_tour(tour(&dir.0).arg("users"));
    let step = run.step(9);
    assert!(
        step.contains("not shown: uid 65534 cannot reach the FIFO: stat fails with EACCES"),
        "{step}"
    );
    assert!(run.claims.is_empty(), "{:?}", run.claims);
    dir.assert_empty();
}

/// Issue 24: the maker prints its own pid, and the pid the tour says exited is that one; a
/// tour that printed a fixed "maker ... exited" would not match a fresh process's pid.
#[test]
fn the_maker_that_exited_is_the_process_that_made_the_fifo() {
    let dir = TestDir::new("verdicts-maker");
    let (first, second) = (tour_in(&dir, &["outlives"]), tour_in(&dir, &["outlives"]));
    let (made, exited) = maker(&first);
    assert_eq!(made, exited, "{}", first.step(6));
    assert_ne!(
        made,
        u64::from(first.pid),
        "the tour itself is not the maker"
    );
    assert_ne!(maker(&second).0, made, "two runs, two makers");
    assert_eq!(maker(&second).0, maker(&second).1);
    outlives(&first);
    outlives(&second);
}

/// A step run alone ends with its own claims and no others'.
#[test]
fn a_step_run_alone_prints_its_own_claims() {
    let users: &[&str] = if is_root() {
        &["processes of different users"]
    } else {
        &[]
    };
    let steps: [(&str, &[&str]); 9] = [
        ("mkfifo", &["a FIFO is a pipe with a name"]),
        ("open-blocks", &["open() waits", "unrelated processes"]),
        ("atomic-writes", &["the data stays", "writes of at most"]),
        ("interleaved-writes", &["writes above PIPE_BUF"]),
        ("eof", &["EOF comes when"]),
        ("outlives", &["a FIFO outlives"]),
        ("removal", &[]),
        ("limits", &["a FIFO is one-way"]),
        ("users", users),
    ];
    let dir = TestDir::new("verdicts-alone");
    for (step, claims) in steps {
        let run = tour_in(&dir, &[step]);
        run.assert_claims_start(claims, step);
    }
}
