//! The lecture, checked on this machine. A tour's steps record what they observed against
//! one claim of the lecture each; the tour ends by printing one line per claim:
//!
//! ```text
//! The lecture, checked on this machine
//!   CONFIRMED  a pipe is a bounded buffer: the writer blocked after 65536 bytes
//!   QUALIFIED  signals carry no data: SIGRTMIN carried one integer each (50 of 50)
//! ```
//!
//! A verdict is computed from this run's numbers, never typed: a step calls [`judge`] with
//! the condition the claim stands on, so a machine where the lecture holds gets CONFIRMED.

use std::fmt;
use std::sync::Mutex;

/// How a claim of the lecture fared in this run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// What the lecture says is what this run saw.
    Confirmed,
    /// True as far as it goes, but this run saw more (a limit, a cost, an exception).
    Qualified,
    /// This run saw the opposite.
    Refuted,
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.pad(match self {
            Verdict::Confirmed => "CONFIRMED",
            Verdict::Qualified => "QUALIFIED",
            Verdict::Refuted => "REFUTED",
        })
    }
}

/// One claim of the lecture and what this run observed of it.
#[derive(Clone, Debug, PartialEq)]
pub struct Claim {
    /// the lecture's claim, in a few words ("a pipe is a bounded buffer")
    pub claim: String,
    pub verdict: Verdict,
    /// the number or system-call result from this run that decides it
    pub because: String,
}

/// The verdict for a claim that stands on `holds`, and that is qualified when `but` is true
/// as well: refuted when it does not hold, qualified when it holds with an exception, else
/// confirmed.
pub fn judge(holds: bool, but: bool) -> Verdict {
    match (holds, but) {
        (false, _) => Verdict::Refuted,
        (true, true) => Verdict::Qualified,
        (true, false) => Verdict::Confirmed,
    }
}

static CLAIMS: Mutex<Vec<Claim>> = Mutex::new(Vec::new());

/// Records a claim for the closing block of this run ([`print`]).
pub fn record(claim: &str, verdict: Verdict, because: impl Into<String>) {
    let claim = Claim {
        claim: claim.to_string(),
        verdict,
        because: because.into(),
    };
    CLAIMS
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
        .push(claim);
}

/// The claims recorded so far, in order.
pub fn recorded() -> Vec<Claim> {
    CLAIMS
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
        .clone()
}

/// Prints "The lecture, checked on this machine" and one line per recorded claim, wrapped to
/// 80 columns; nothing when no claim was recorded (a role, or a step with none).
pub fn print() {
    let claims = recorded();
    if claims.is_empty() {
        return;
    }
    println!("\nThe lecture, checked on this machine");
    for c in &claims {
        for line in lines(c) {
            println!("{line}");
        }
    }
}

/// One claim as lines of at most 80 columns: "  VERDICT    claim: because", continued under
/// the claim.
pub fn lines(c: &Claim) -> Vec<String> {
    let text = format!("{}: {}", c.claim, c.because);
    let indent = " ".repeat(13);
    let mut out = Vec::new();
    let mut line = format!("  {:<10} ", c.verdict);
    let mut empty = true;
    for word in text.split_whitespace() {
        if !empty && line.chars().count() + 1 + word.chars().count() > 80 {
            out.push(line);
            line = indent.clone();
            empty = true;
        }
        if !empty {
            line.push(' ');
        }
        line.push_str(word);
        empty = false;
    }
    out.push(line);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_verdict_follows_the_numbers() {
        assert_eq!(judge(true, false), Verdict::Confirmed);
        assert_eq!(judge(true, true), Verdict::Qualified);
        assert_eq!(judge(false, false), Verdict::Refuted);
        assert_eq!(judge(false, true), Verdict::Refuted);
    }

    #[test]
    fn lines_fit_80_columns_and_keep_every_word() {
        let c = Claim {
            claim: "signals carry no data".into(),
            verdict: Verdict::Qualified,
            because: "50 of 50 SIGRTMIN arrived, each with the integer it was sent with, \
                      and siginfo named the sender's pid and uid"
                .into(),
        };
        let lines = lines(&c);
        assert!(lines[0].starts_with("  QUALIFIED  signals carry no data:"));
        assert!(lines.len() > 1);
        assert!(lines.iter().all(|l| l.chars().count() <= 80), "{lines:?}");
        let words: Vec<&str> = lines.iter().flat_map(|l| l.split_whitespace()).collect();
        assert_eq!(words[0], "QUALIFIED");
        assert_eq!(words.last(), Some(&"uid"));
    }
}
