//! What the run observed of the lecture's design-space table: a probe is a few system calls
//! made once per mechanism before the timing (`measure/probes.rs`), and this is what it found,
//! as data: the column it speaks to, the fact it establishes and what was seen. `report/`
//! prints it beside the lecture's word and judges the word by it.

/// What a probe established about one column of a mechanism's row.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fact {
    /// direction: the object has a read end and a write end (a write on the read end failed)
    OneWay,
    /// direction: one endpoint both sent and received (a socket, a mapping seen from two sides)
    BothWays,
    /// direction: one queue, no ends: whoever sends may receive, even its own message back
    NoEnds,
    /// structure: two writes came back as one read (no boundaries)
    Stream,
    /// structure: two writes came back as two reads (boundaries kept)
    Messages,
    /// naming: nothing to open it by (an inherited descriptor only)
    NoName,
    /// naming: a process other than its creator reached it by its name alone
    ByName,
    /// persistence: after its creator exited, the object was still there
    Outlived,
    /// persistence: after its creator exited, its name was there but led nowhere
    NameOnly,
    /// persistence: after its creator exited, nothing was left
    Gone,
    /// the probe itself failed (what was seen says why): it decides nothing
    Failed,
}

impl Fact {
    /// The fact as a word for JSON and CSV ("one_way", "name_only").
    pub fn word(self) -> &'static str {
        match self {
            Fact::OneWay => "one_way",
            Fact::BothWays => "both_ways",
            Fact::NoEnds => "no_ends",
            Fact::Stream => "stream",
            Fact::Messages => "messages",
            Fact::NoName => "no_name",
            Fact::ByName => "by_name",
            Fact::Outlived => "outlived",
            Fact::NameOnly => "name_only",
            Fact::Gone => "gone",
            Fact::Failed => "failed",
        }
    }
}

/// One probe's result.
#[derive(Clone, Debug, PartialEq)]
pub struct Probe {
    /// the design-space column it speaks to: "direction", "structure", "naming", "persistence"
    pub column: &'static str,
    pub fact: Fact,
    /// what was seen, in a few words ("a write on the read end: EBADF")
    pub seen: String,
}

/// The columns a probe can speak to, in the lecture's order.
pub const PROBED: [&str; 4] = ["structure", "direction", "naming", "persistence"];

/// `column`'s probe among `probes`, if one ran.
pub fn probe<'a>(probes: &'a [Probe], column: &str) -> Option<&'a Probe> {
    probes.iter().find(|p| p.column == column)
}
