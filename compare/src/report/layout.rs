//! Laying tables out: a terminal table that would be wider than `text::width()` is split by
//! columns into several, each repeating the key columns (the mechanism), so that no number is
//! wrapped inside its cell, and a column made to stand `beside` the one before it (a
//! placement's x pipe beside its round trip) is never split from it; Markdown tables are one
//! table, whatever their width.

use comfy_table::{ContentArrangement, Table, presets};

use crate::report::text::width;

/// A column of a terminal table: its header (lines) and one cell per table row.
pub struct Column {
    pub header: String,
    pub cells: Vec<String>,
    /// read with the column before it, so kept in the same table
    beside: bool,
}

impl Column {
    pub fn new(header: impl Into<String>, cells: Vec<String>) -> Column {
        Column {
            header: header.into(),
            cells,
            beside: false,
        }
    }

    /// A column that goes in the same table as the one before it.
    pub fn beside(header: impl Into<String>, cells: Vec<String>) -> Column {
        Column {
            beside: true,
            ..Column::new(header, cells)
        }
    }

    /// Characters of its widest line.
    fn width(&self) -> usize {
        self.header
            .lines()
            .chain(self.cells.iter().flat_map(|c| c.lines()))
            .map(|l| l.chars().count())
            .max()
            .unwrap_or(0)
    }
}

/// Width of a table of these columns: each column's content, plus "│ ", " ┆ ", " │".
fn table_width(columns: &[&Column]) -> usize {
    columns.iter().map(|c| c.width() + 3).sum::<usize>() + 1
}

/// `keys` followed by as many of `columns` as fit in `width()`, then the next table with the
/// same `keys` and the next columns, and so on, in the order given; a column `beside` the one
/// before it moves with it.
pub fn packed(keys: &[Column], columns: &[Column]) -> Vec<Table> {
    let mut units: Vec<Vec<&Column>> = Vec::new();
    for column in columns {
        match units.last_mut() {
            Some(unit) if column.beside => unit.push(column),
            _ => units.push(vec![column]),
        }
    }
    let mut groups: Vec<Vec<&Column>> = Vec::new();
    let mut current: Vec<&Column> = keys.iter().collect();
    for unit in units {
        let mut trial = current.clone();
        trial.extend(&unit);
        if current.len() > keys.len() && table_width(&trial) > width() {
            groups.push(current);
            current = keys.iter().collect();
        }
        current.extend(unit);
    }
    groups.push(current);
    let rows = keys.first().map_or(0, |k| k.cells.len());
    groups
        .into_iter()
        .map(|group| {
            let mut table = new_table(false);
            table.set_header(group.iter().map(|c| c.header.clone()));
            for i in 0..rows {
                table.add_row(group.iter().map(|c| c.cells[i].clone()));
            }
            table
        })
        .collect()
}

pub fn tables_text(tables: &[Table]) -> String {
    tables.iter().map(|t| format!("{t}\n")).collect()
}

pub fn new_table(markdown: bool) -> Table {
    let mut t = Table::new();
    if markdown {
        t.load_style(presets::ASCII_MARKDOWN);
    } else {
        t.load_style(presets::UTF8_FULL_CONDENSED);
        t.set_content_arrangement(ContentArrangement::Dynamic);
        t.set_width(u16::try_from(width()).unwrap_or(u16::MAX));
    }
    t
}
