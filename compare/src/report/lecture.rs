//! The lecture's design-space table ("IPC Design-Space Map"), word for word, against what the
//! probes found: each table cell shows the demo crate's word and what was observed (or "(as
//! documented)"), and each mechanism gets a verdict on the lecture's words for its row. TCP
//! and UDP are not rows of that table; the lecture sets them against each other as a stream
//! (like a pipe) and messages (like a queue), which is their structure word here.

use plumbing::verdict::{Claim, Verdict, judge};

use crate::row::{Fact, Mechanism, PROBED, Probe, Row, probe};

/// The lecture's row for a mechanism: its name there and its words for the probed columns
/// (structure, direction, naming, persistence; None where the lecture says nothing).
pub fn lecture_row(key: &str) -> Option<(&'static str, [Option<&'static str>; 4])> {
    let row = |name, words| Some((name, words));
    match key {
        "pipe" => row(
            "Pipe",
            [
                Some("Stream"),
                Some("Uni"),
                Some("Anonymous"),
                Some("Transient"),
            ],
        ),
        "fifo" => row(
            "FIFO",
            [
                Some("Stream"),
                Some("Uni"),
                Some("Named"),
                Some("Persistent"),
            ],
        ),
        "signal" => row(
            "Signal",
            [Some("Enum"), Some("Uni"), Some("By PID"), Some("Transient")],
        ),
        "mq" | "sysv-mq" => row(
            "Msg Queue",
            [
                Some("Messages"),
                Some("Bi"),
                Some("Named"),
                Some("Persistent"),
            ],
        ),
        shm if shm.starts_with("shm") => row(
            "Shared Mem",
            [Some("Raw"), Some("Bi"), Some("Named"), Some("Persistent")],
        ),
        "uds-stream" => row(
            "Unix Socket",
            [
                Some("Both: stream"),
                Some("Bi"),
                Some("Named"),
                Some("Persistent"),
            ],
        ),
        "uds-datagram" => row(
            "Unix Socket",
            [
                Some("Both: messages"),
                Some("Bi"),
                Some("Named"),
                Some("Persistent"),
            ],
        ),
        "tcp" => row("TCP (sockets)", [Some("Stream"), None, None, None]),
        "udp" => row("UDP (sockets)", [Some("Messages"), None, None, None]),
        _ => None,
    }
}

/// How the lecture's `word` fares against what a probe found; None when the probe decides
/// nothing (it failed, or the word is not one a probe speaks to).
pub fn judge_cell(word: &str, fact: Fact) -> Option<Verdict> {
    let word = word.rsplit(": ").next().unwrap_or(word).to_lowercase();
    let (confirm, qualify, refute): (&[Fact], &[Fact], &[Fact]) = match word.as_str() {
        "uni" => (&[Fact::OneWay], &[], &[Fact::BothWays, Fact::NoEnds]),
        "bi" => (&[Fact::BothWays], &[Fact::NoEnds], &[Fact::OneWay]),
        "stream" | "raw" => (&[Fact::Stream], &[], &[Fact::Messages]),
        "messages" => (&[Fact::Messages], &[], &[Fact::Stream]),
        "anonymous" => (&[Fact::NoName], &[], &[Fact::ByName]),
        "named" | "by pid" => (&[Fact::ByName], &[], &[Fact::NoName]),
        "persistent" => (&[Fact::Outlived], &[Fact::NameOnly], &[Fact::Gone]),
        "transient" => (&[Fact::Gone], &[], &[Fact::Outlived, Fact::NameOnly]),
        _ => return None,
    };
    match fact {
        f if confirm.contains(&f) => Some(judge(true, false)),
        f if qualify.contains(&f) => Some(judge(true, true)),
        f if refute.contains(&f) => Some(judge(false, false)),
        _ => None,
    }
}

/// What compare times for a queue row, said where the direction cell says a queue has no ends.
pub const QUEUE_TIMED: &str = "timed: a queue each way";

/// A qualitative cell: the demo crate's word, then what was observed ("(as documented)" where
/// no probe looked), on a second line, or after a semicolon (`one_line`, for Markdown).
pub fn cell(m: &Mechanism, probes: &[Probe], column: &str, one_line: bool) -> String {
    let word = m
        .design
        .cells()
        .iter()
        .find(|(c, _)| *c == column)
        .map_or("", |(_, v)| *v);
    let seen = match probe(probes, column) {
        Some(p) if p.fact == Fact::NoEnds => format!("{}; {QUEUE_TIMED}", p.seen),
        Some(p) => p.seen.clone(),
        None => "(as documented)".to_string(),
    };
    match one_line {
        true => format!("{word}; {seen}"),
        false => format!("{word}\n{}", seen.replace("; ", ";\n")),
    }
}

/// The probes of `m`, from its first row.
pub fn probes_of<'a>(rows: &'a [Row], m: &Mechanism) -> &'a [Probe] {
    rows.iter()
        .find(|r| r.mechanism.key == m.key)
        .map_or(&[], |r| r.probes.as_slice())
}

/// One claim per mechanism the lecture has a row for: its words for the probed columns,
/// judged by what the probes found; the worst cell decides, and a row not CONFIRMED ends by
/// naming the cells that decided it ("; qualified: Bi"), so a reader need not find them.
/// None when no probe decided a cell.
pub fn design_claim(m: &Mechanism, probes: &[Probe]) -> Option<Claim> {
    let (name, words) = lecture_row(m.key)?;
    let mut verdicts: Vec<(&str, Verdict)> = Vec::new();
    let mut said = Vec::new();
    let mut because = Vec::new();
    for (column, word) in PROBED.iter().zip(words) {
        let Some(word) = word else { continue };
        said.push(word);
        match probe(probes, column) {
            Some(p) => {
                let mut seen = format!("{word}: {}", p.seen);
                if p.fact == Fact::NoEnds {
                    seen += &format!(" ({QUEUE_TIMED}, as the pipe row uses two pipes)");
                }
                verdicts.extend(judge_cell(word, p.fact).map(|v| (word, v)));
                because.push(seen);
            }
            None => because.push(format!("{word}: as documented")),
        }
    }
    let rank = |v: &Verdict| match v {
        Verdict::Confirmed => 0,
        Verdict::Qualified => 1,
        Verdict::Refuted => 2,
    };
    let worst = verdicts.iter().map(|(_, v)| *v).max_by_key(rank)?;
    if worst != Verdict::Confirmed {
        let decided: Vec<&str> = verdicts
            .iter()
            .filter(|(_, v)| *v == worst)
            .map(|(word, _)| *word)
            .collect();
        let verdict = worst.to_string().to_lowercase();
        because.push(format!("{verdict}: {}", decided.join(", ")));
    }
    Some(Claim {
        claim: format!(
            "the table's {name} row ({}) for {}",
            said.join(", "),
            m.label
        ),
        verdict: worst,
        because: because.join("; "),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_word_is_judged_by_what_was_observed() {
        assert_eq!(judge_cell("Uni", Fact::OneWay), Some(Verdict::Confirmed));
        assert_eq!(judge_cell("Uni", Fact::BothWays), Some(Verdict::Refuted));
        assert_eq!(judge_cell("Bi", Fact::NoEnds), Some(Verdict::Qualified));
        assert_eq!(
            judge_cell("Both: stream", Fact::Stream),
            Some(Verdict::Confirmed)
        );
        assert_eq!(
            judge_cell("Both: messages", Fact::Stream),
            Some(Verdict::Refuted)
        );
        assert_eq!(
            judge_cell("Persistent", Fact::NameOnly),
            Some(Verdict::Qualified)
        );
        assert_eq!(judge_cell("Persistent", Fact::Gone), Some(Verdict::Refuted));
        assert_eq!(
            judge_cell("Transient", Fact::Gone),
            Some(Verdict::Confirmed)
        );
        assert_eq!(judge_cell("Named", Fact::Failed), None);
    }

    /// A byte row with the pipe's design words, under `key` and `label`.
    fn mechanism(key: &'static str, label: &'static str) -> Mechanism {
        Mechanism {
            key,
            label,
            design: pipe_demo::DESIGN_ROW,
            carries_bytes: true,
            wraps: None,
        }
    }

    fn probe(column: &'static str, fact: Fact) -> Probe {
        Probe {
            column,
            fact,
            seen: "seen".into(),
        }
    }

    #[test]
    fn the_worst_cell_decides_a_row_and_a_changed_fact_changes_it() {
        let m = mechanism("pipe", "pipe");
        let mut probes = vec![
            probe("structure", Fact::Stream),
            probe("direction", Fact::OneWay),
        ];
        let claim = design_claim(&m, &probes).expect("a claim");
        assert_eq!(claim.verdict, Verdict::Confirmed);
        assert!(
            claim.because.contains("Transient: as documented"),
            "{claim:?}"
        );
        assert!(!claim.because.contains("qualified"), "{claim:?}");
        probes[1].fact = Fact::BothWays;
        let refuted = design_claim(&m, &probes).expect("a claim");
        assert_eq!(refuted.verdict, Verdict::Refuted);
        assert!(refuted.because.ends_with("; refuted: Uni"), "{refuted:?}");
        probes[1].fact = Fact::Failed;
        assert_eq!(
            design_claim(&m, &probes).map(|c| c.verdict),
            Some(Verdict::Confirmed)
        );
        assert!(
            design_claim(&m, &[]).is_none(),
            "nothing observed, nothing judged"
        );
    }

    #[test]
    fn a_qualified_row_names_the_cells_that_qualified_it() {
        let m = mechanism("mq", "POSIX mq");
        let mut probes = vec![
            probe("structure", Fact::Messages),
            probe("direction", Fact::NoEnds),
            probe("persistence", Fact::Outlived),
        ];
        let claim = design_claim(&m, &probes).expect("a claim");
        assert_eq!(claim.verdict, Verdict::Qualified);
        assert!(claim.because.ends_with("; qualified: Bi"), "{claim:?}");
        probes[2].fact = Fact::NameOnly;
        let claim = design_claim(&m, &probes).expect("a claim");
        assert!(
            claim.because.ends_with("; qualified: Bi, Persistent"),
            "{claim:?}"
        );
    }
}
