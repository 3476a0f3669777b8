//! What both charts share (`plot.rs`, the lines; `bars.rs`, the bars of a single size): the
//! canvas width and text sizes, the caption, and how each mechanism is drawn. Drawn 880 px
//! wide, so that shown at that width no text is under 14 px; no two lines differ by colour
//! alone (each has its own marker and dash pattern, on a colour-blind-safe palette).

use std::error::Error;

use plotters::coord::Shift;
use plotters::prelude::*;

use crate::report::records::build_profile;
use crate::row::{Mechanism, Row, Run, fit};

/// Stroke width of a mechanism's line.
pub const SERIES_WIDTH: u32 = 3;
/// The canvas width; every text size below is for this width.
pub const WIDTH: u32 = 880;
/// Font sizes as plotters takes them; it writes them into the SVG as px at 1/1.24 of this
/// (18 -> 14.5 px, 24 -> 19.4 px).
pub const TEXT: u32 = 18;
pub const TITLE: u32 = 24;

pub type Area<'a> = DrawingArea<SVGBackend<'a>, Shift>;

/// Okabe and Ito's colour-blind-safe palette (yellow left out: too pale on white).
const PALETTE: [RGBColor; 7] = [
    RGBColor(0, 114, 178),   // blue
    RGBColor(230, 159, 0),   // orange
    RGBColor(0, 158, 115),   // bluish green
    RGBColor(213, 94, 0),    // vermillion
    RGBColor(86, 180, 233),  // sky blue
    RGBColor(204, 121, 167), // reddish purple
    RGBColor(0, 0, 0),       // black
];

/// How mechanism number `i` is drawn: colour, marker and dash all change with `i`, so two
/// lines never differ by colour alone.
#[derive(Clone, Copy)]
pub struct Look {
    pub color: RGBColor,
    pub marker: usize,
    /// (dash, gap) in px; None: solid
    pub dash: Option<(u32, u32)>,
}

pub fn look(i: usize) -> Look {
    Look {
        color: PALETTE[i % PALETTE.len()],
        marker: i % 4,
        dash: [None, Some((12, 6)), Some((4, 4))][i % 3],
    }
}

/// The title and, under it, what the numbers were measured on.
pub fn caption(area: &Area<'_>, title: &str, run: &Run) -> Result<(), Box<dyn Error>> {
    let m = run.machine;
    area.draw(&Text::new(
        title.to_string(),
        (16, 10),
        ("sans-serif", TITLE).into_font().style(FontStyle::Bold),
    ))?;
    let on = format!(
        "{} ({} CPUs), {}, {} build, {} rounds",
        m.cpu_model,
        m.cpus_online,
        m.kernel,
        build_profile(),
        run.rounds
    );
    // At most about 8 px a character at this size (7.5 measured): a long CPU name must not run
    // off the canvas.
    let on = fit(&on, (WIDTH as usize - 32) / 8);
    area.draw(&Text::new(on, (16, 40), ("sans-serif", TEXT)))?;
    Ok(())
}

/// (µs of the p50, µs of the p99) of a measured row.
pub fn p50_p99(r: &Row) -> Option<(f64, f64)> {
    let l = r.latency.as_ref().ok()?;
    Some((l.p50() as f64 / 1e3, l.p99() as f64 / 1e3))
}

/// Each mechanism once, in the rows' order, with its legend label and how it is drawn (the
/// same in every chart of the run).
pub fn keys(rows: &[Row]) -> Vec<(Mechanism, String, Look)> {
    let mut keys: Vec<(Mechanism, String, Look)> = Vec::new();
    for row in rows {
        if !keys.iter().any(|(m, _, _)| m.key == row.mechanism.key) {
            let mut label = row.mechanism.label.to_string();
            if !row.mechanism.carries_bytes {
                label += " (no payload: a level)";
            }
            keys.push((row.mechanism, label, look(keys.len())));
        }
    }
    keys
}
