//! Reading back a tour's closing block, "The lecture, checked on this machine": one line per
//! claim, "  VERDICT    claim: because", wrapped lines indented to column 14. Each crate's
//! `tests/verdicts.rs` rebuilds every claim's line from the numbers its step printed earlier in
//! the same run; what they all need to do that (split the output at the block, parse the
//! block, slice a step, find a number in a line) is here.

use std::collections::BTreeSet;
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::Finished;

/// The heading of the closing block.
pub const HEADING: &str = "The lecture, checked on this machine";

/// One line of the block: "  VERDICT    claim: because", continuation lines joined.
#[derive(Debug)]
pub struct Claim {
    pub verdict: String,
    pub claim: String,
    pub because: String,
}

/// One run's stdout, split at the block.
#[derive(Debug)]
pub struct Tour {
    /// The pid of the process that printed it (what /proc paths and SO_PEERCRED name).
    pub pid: u32,
    /// Everything before the heading: the steps' own lines.
    pub steps: String,
    /// The block, parsed; empty when the run printed no block.
    pub claims: Vec<Claim>,
}

impl Tour {
    /// What process `pid` printed, split at [`HEADING`] (no heading: all of it is steps).
    pub fn of(pid: u32, stdout: &str) -> Tour {
        let (steps, block) = split(stdout);
        Tour {
            pid,
            steps: steps.to_string(),
            claims: parse_block(block),
        }
    }

    /// The one claim whose words start with `start`; the test fails if none or several do.
    pub fn claim(&self, start: &str) -> &Claim {
        let found: Vec<&Claim> = self
            .claims
            .iter()
            .filter(|c| c.claim.starts_with(start))
            .collect();
        assert_eq!(found.len(), 1, "{start:?} in {:?}", self.claims);
        found[0]
    }

    /// The test fails unless the block holds `count` claims, no two alike.
    pub fn assert_claims(&self, count: usize) {
        let names: BTreeSet<&str> = self.claims.iter().map(|c| c.claim.as_str()).collect();
        assert_eq!(
            names.len(),
            self.claims.len(),
            "a claim twice: {:?}",
            self.claims
        );
        assert_eq!(self.claims.len(), count, "{:?}", self.claims);
    }

    /// The test fails unless the block's claims, in order, start with `starts`, one each;
    /// `what` names the run (the step it ran alone) in the message.
    pub fn assert_claims_start(&self, starts: &[&str], what: &str) {
        let got: Vec<&str> = self.claims.iter().map(|c| c.claim.as_str()).collect();
        assert_eq!(got.len(), starts.len(), "{what}: {got:?}");
        for (got, start) in got.iter().zip(starts) {
            assert!(got.starts_with(start), "{what}: {got:?}");
        }
    }

    /// [`after`] in the steps.
    pub fn after(&self, before: &str) -> &str {
        after(&self.steps, before)
    }

    /// [`number_after`] in the steps.
    pub fn number_after(&self, before: &str) -> u64 {
        number_after(&self.steps, before)
    }

    /// [`line_with`] in the steps.
    pub fn line_with(&self, needle: &str) -> &str {
        line_with(&self.steps, needle)
    }

    /// [`quoted_after`] in the steps.
    pub fn quoted_after(&self, before: &str) -> &str {
        quoted_after(&self.steps, before)
    }

    /// [`step`] `n` of the steps.
    pub fn step(&self, n: u32) -> &str {
        step(&self.steps, n)
    }
}

/// Runs `command` to its end with stdout and stderr captured (stdin as the caller set it);
/// the test fails, naming `what`, if it has not exited within `limit` or did not succeed.
/// Returns the run split at the block, and what it printed.
pub fn run_tour(command: &mut Command, limit: Duration, what: &str) -> (Tour, Finished) {
    let child =
        crate::bounded::spawned(command.stdout(Stdio::piped()).stderr(Stdio::piped()), what);
    let pid = child.id();
    let done = Finished::from(crate::output_within(child, limit, what));
    assert!(done.status.success(), "{}\n{}", done.stderr, done.stdout);
    (Tour::of(pid, &done.stdout), done)
}

/// The tour once more as `nobody`: `run` gets the command of a copy of `bin` (see
/// [`NobodyCopy`](crate::NobodyCopy)), to add arguments and run it. None, having said
/// "skipped", when this test does not run as root: the other tests already ran unprivileged.
pub fn as_nobody(bin: &str, run: impl FnOnce(&mut Command) -> Tour) -> Option<Tour> {
    if !crate::is_root() {
        println!("skipped: not root, so the test above already ran unprivileged");
        return None;
    }
    let copy = crate::NobodyCopy::of(bin);
    let tour = run(&mut copy.command());
    drop(copy);
    Some(tour)
}

/// `stdout` split at [`HEADING`]: the steps before it and the block after it (empty when
/// there is no heading).
pub fn split(stdout: &str) -> (&str, &str) {
    stdout.split_once(HEADING).unwrap_or((stdout, ""))
}

/// The claims of `block` (the text after [`HEADING`]). The test fails on a line wider than 80
/// columns, a line that is neither a claim (indented 2) nor a continuation (indented 13 or
/// more), a claim with no ": ", or a verdict other than CONFIRMED, QUALIFIED and REFUTED.
pub fn parse_block(block: &str) -> Vec<Claim> {
    let mut joined: Vec<String> = Vec::new();
    for line in block.lines().filter(|l| !l.trim().is_empty()) {
        assert!(line.chars().count() <= 80, "{line:?}");
        if line.starts_with(&" ".repeat(13)) {
            let last = joined.last_mut().expect("a continuation after a claim");
            last.push(' ');
            last.push_str(line.trim());
        } else {
            assert!(
                line.starts_with("  ") && !line.starts_with("   "),
                "{line:?}"
            );
            joined.push(line.trim().to_string());
        }
    }
    joined.iter().map(|line| claim_of(line)).collect()
}

/// One joined line, "VERDICT claim: because".
fn claim_of(line: &str) -> Claim {
    let (verdict, rest) = line
        .split_once(' ')
        .unwrap_or_else(|| panic!("no verdict in {line:?}"));
    let (claim, because) = rest
        .trim()
        .split_once(": ")
        .unwrap_or_else(|| panic!("no \": \" in {line:?}"));
    assert!(
        ["CONFIRMED", "QUALIFIED", "REFUTED"].contains(&verdict),
        "{line}"
    );
    Claim {
        verdict: verdict.to_string(),
        claim: claim.to_string(),
        because: because.to_string(),
    }
}

/// The verdict the numbers call for: REFUTED unless the claim `holds`, QUALIFIED if it holds
/// `but` with a reservation, else CONFIRMED.
pub fn verdict(holds: bool, but: bool) -> &'static str {
    match (holds, but) {
        (false, _) => "REFUTED",
        (true, true) => "QUALIFIED",
        (true, false) => "CONFIRMED",
    }
}

/// The lines of step `n` of `steps`: from its heading ("\nN. ") to the next blank line (or
/// the end). The test fails if there is no such heading.
pub fn step(steps: &str, n: u32) -> &str {
    let heading = format!("\n{n}. ");
    let start = steps
        .find(&heading)
        .unwrap_or_else(|| panic!("step {n} in:\n{steps}"));
    let rest = &steps[start + 1..];
    let end = rest.find("\n\n").unwrap_or(rest.len());
    &rest[..end]
}

/// The text after the first `before` in `text`, up to the end of that line. The test fails
/// if `text` does not hold `before`.
pub fn after<'a>(text: &'a str, before: &str) -> &'a str {
    let at = text
        .find(before)
        .unwrap_or_else(|| panic!("{before:?} in:\n{text}"));
    let rest = &text[at + before.len()..];
    &rest[..rest.find('\n').unwrap_or(rest.len())]
}

/// The number that starts the text [`after`] `before`.
pub fn number_after(text: &str, before: &str) -> u64 {
    leading_number(after(text, before))
}

/// The digits at the start of `text`, as a number; the test fails if there are none.
pub fn leading_number(text: &str) -> u64 {
    let digits: String = text.chars().take_while(char::is_ascii_digit).collect();
    digits
        .parse()
        .unwrap_or_else(|_| panic!("a number at {text:?}"))
}

/// The first line of `text` holding `needle`; the test fails if none does.
pub fn line_with<'a>(text: &'a str, needle: &str) -> &'a str {
    text.lines()
        .find(|l| l.contains(needle))
        .unwrap_or_else(|| panic!("{needle:?} in:\n{text}"))
}

/// The text between the first `open` in `text` and the next `close`; the test fails if
/// either is missing.
pub fn between<'a>(text: &'a str, open: &str, close: &str) -> &'a str {
    let start = text
        .find(open)
        .unwrap_or_else(|| panic!("{open:?} in {text:?}"))
        + open.len();
    let len = text[start..]
        .find(close)
        .unwrap_or_else(|| panic!("{close:?} after {open:?} in {text:?}"));
    &text[start..start + len]
}

/// The first "quoted" text [`after`] `before`, on the same line.
pub fn quoted_after<'a>(text: &'a str, before: &str) -> &'a str {
    between(after(text, before), "\"", "\"")
}
