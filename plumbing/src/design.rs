//! The lecture's design-space table, one row a mechanism: the six qualitative columns, typed.
//! Every demo crate's library exports its row(s) of this type, and `compare` reads them by
//! field, so a column cannot be misspelt or left out.

/// One row of the design-space table: what a mechanism is, in the lecture's six words.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Row {
    /// how the bytes travel: "copy through kernel", "shared region, no kernel", ...
    pub data: &'static str,
    /// what the reader gets: "byte stream", "messages, by type", ...
    pub structure: &'static str,
    /// "one-way", "bidirectional", ...
    pub direction: &'static str,
    /// how a peer finds it: "anonymous (inherited fd)", "path in the filesystem", ...
    pub naming: &'static str,
    /// who waits and how: "kernel blocks and wakes", "process spins on atomics", ...
    pub coordination: &'static str,
    /// how long it lives: "until last fd closes", "until shm_unlink / reboot", ...
    pub persistence: &'static str,
}

/// The columns' names, in the lecture's order.
pub const COLUMNS: [&str; 6] = [
    "data",
    "structure",
    "direction",
    "naming",
    "coordination",
    "persistence",
];

/// The longest value a column may hold, in characters: the width a table column gets.
pub const WIDTH: usize = 28;

impl Row {
    /// The row as (column, value) pairs in the lecture's order (the names of [`COLUMNS`]).
    pub fn cells(&self) -> [(&'static str, &'static str); 6] {
        [
            ("data", self.data),
            ("structure", self.structure),
            ("direction", self.direction),
            ("naming", self.naming),
            ("coordination", self.coordination),
            ("persistence", self.persistence),
        ]
    }

    /// Is every value said (not empty) and at most [`WIDTH`] bytes long (so also at most as
    /// many characters)?
    pub fn fits(&self) -> bool {
        self.cells()
            .iter()
            .all(|(_, value)| !value.is_empty() && value.len() <= WIDTH)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ROW: Row = Row {
        data: "d",
        structure: "s",
        direction: "one-way",
        naming: "n",
        coordination: "c",
        persistence: "p",
    };

    #[test]
    fn cells_are_in_the_lectures_order() {
        let cells = ROW.cells();
        assert_eq!(cells.map(|(column, _)| column), COLUMNS);
        assert_eq!(cells[2], ("direction", "one-way"));
        assert!(ROW.fits());
        let long = Row {
            naming: "a value far longer than a column is wide",
            ..ROW
        };
        assert!(!long.fits());
        let empty = Row { data: "", ..ROW };
        assert!(!empty.fits());
    }
}
