//! Text for the terminal: the width the report is laid out for, and words wrapped to it.

use comfy_table::Table;

/// The terminal report's full layout needs this many columns; it is also the width used when
/// stdout is not a terminal and COLUMNS is not set (a pipe, a file).
pub const FULL_WIDTH: usize = 120;

/// The width the terminal report is laid out for: COLUMNS when it is set (a shell sets it for
/// its terminal; a user may set it for a file), else the terminal's width when stdout is one,
/// else `FULL_WIDTH`; never more than `FULL_WIDTH` nor less than 40.
pub fn width() -> usize {
    let columns = std::env::var("COLUMNS")
        .ok()
        .and_then(|c| c.trim().parse::<usize>().ok())
        .filter(|w| *w > 0);
    columns
        .or_else(|| Table::new().width().map(usize::from))
        .unwrap_or(FULL_WIDTH)
        .clamp(40, FULL_WIDTH)
}

/// `first` then `text` wrapped at spaces into lines of at most `width` characters, lines after
/// the first indented by `indent` spaces. A word longer than a line gets a line of its own.
pub fn wrap(first: &str, text: &str, indent: usize, width: usize) -> String {
    let mut out = String::new();
    let mut line = first.to_string();
    let mut empty = true; // no word on this line yet
    for word in text.split(' ').filter(|w| !w.is_empty()) {
        let len = line.chars().count();
        if !empty && len + 1 + word.chars().count() > width {
            out += line.trim_end();
            out.push('\n');
            line = " ".repeat(indent);
            empty = true;
        }
        if !empty {
            line.push(' ');
        }
        line += word;
        empty = false;
    }
    out += line.trim_end();
    out.push('\n');
    out
}
