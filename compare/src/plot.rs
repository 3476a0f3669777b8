//! The chart: round-trip latency (p50) against message size, log-log, one line per mechanism,
//! one panel per placement. Series lines are 3 px wide; grid and axes are thinner.

use std::error::Error;
use std::fs::{self, OpenOptions};
use std::io;
use std::ops::Range;
use std::path::{Path, PathBuf};

use plotters::coord::Shift;
use plotters::prelude::*;

use crate::harness::Placement;
use crate::header::Run;
use crate::mechanisms::Transport;
use crate::report::{Row, placement_words};

/// Stroke width of a mechanism's line (tests count these).
pub const SERIES_WIDTH: u32 = 3;

type Panel<'a> = DrawingArea<SVGBackend<'a>, Shift>;

/// The axes' ranges: message sizes (bytes) and round trips (µs).
struct Bounds {
    x: Range<f64>,
    y: Range<f64>,
}

/// A chart file being written: drawn into a temporary file beside it, which replaces it only
/// when complete; an interrupted run leaves the previous chart as it was.
pub struct Pending {
    path: PathBuf,
    temporary: PathBuf,
    committed: bool,
}

impl Pending {
    /// Creates the temporary file now, so a path that cannot be written fails the run before
    /// it measures; the file keeps the usual mode of a new file (0666 less the umask).
    pub fn create(path: &Path) -> Result<Pending, String> {
        let name = path.file_name().map(|n| n.to_string_lossy().into_owned());
        let Some(name) = name else {
            return Err(format!("{}: not a file name", path.display()));
        };
        let temporary = path.with_file_name(format!(".{name}.{}.tmp", std::process::id()));
        OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&temporary)
            .map_err(|e| format!("{}: {e}", temporary.display()))?;
        Ok(Pending {
            path: path.to_path_buf(),
            temporary,
            committed: false,
        })
    }

    /// Where to draw.
    pub fn temporary(&self) -> &Path {
        &self.temporary
    }

    /// The chart is complete: it replaces the file (rename is atomic).
    pub fn commit(mut self) -> Result<PathBuf, Box<dyn Error>> {
        fs::rename(&self.temporary, &self.path).map_err(|e| {
            io::Error::new(e.kind(), format!("rename to {}: {e}", self.path.display()))
        })?;
        self.committed = true;
        Ok(self.path.clone())
    }
}

impl Drop for Pending {
    fn drop(&mut self) {
        if !self.committed {
            let _ = fs::remove_file(&self.temporary);
        }
    }
}

pub fn latency(
    path: &Path,
    rows: &[Row],
    placements: &[Placement],
    _run: &Run,
) -> Result<(), Box<dyn Error>> {
    let points: Vec<(f64, f64)> = rows.iter().filter_map(point).collect();
    if points.is_empty() || placements.is_empty() {
        return Err("no round trip was measured, so there is nothing to draw".into());
    }
    let bounds = bounds(&points);
    let width = 760 * placements.len() as u32;
    let root = SVGBackend::new(path, (width, 600)).into_drawing_area();
    root.fill(&WHITE)?;
    let (charts, legend_strip) = root.split_vertically(540);
    let panels = charts.split_evenly((1, placements.len()));
    let keys = keys(rows);
    legend(&legend_strip, &keys)?;
    for (panel, placement) in panels.iter().zip(placements) {
        draw_panel(panel, rows, placement, &keys, &bounds)?;
    }
    root.present()?;
    Ok(())
}

/// A measured row as (message size, round trip p50 in µs).
fn point(r: &Row) -> Option<(f64, f64)> {
    Some((r.size as f64, r.latency.as_ref().ok()?.p50() as f64 / 1e3))
}

fn bounds(points: &[(f64, f64)]) -> Bounds {
    let sizes = || points.iter().filter(|p| p.0 > 0.0).map(|p| p.0);
    let x_min = sizes().fold(f64::MAX, f64::min).min(64.0) / 1.5;
    let x_max = sizes().fold(0.0, f64::max).max(65536.0) * 1.5;
    let y_min = points.iter().map(|p| p.1).fold(f64::MAX, f64::min).min(1.0) / 2.0;
    let y_max = points.iter().map(|p| p.1).fold(0.0, f64::max).max(10.0) * 2.0;
    Bounds {
        x: x_min..x_max,
        y: y_min..y_max,
    }
}

/// Each mechanism once, in the rows' order, with its legend label.
fn keys(rows: &[Row]) -> Vec<(&'static str, String)> {
    let mut keys: Vec<(&str, String)> = Vec::new();
    for row in rows {
        if !keys.iter().any(|(k, _)| *k == row.mechanism.key) {
            let mut label = row.mechanism.label.to_string();
            if matches!(row.mechanism.transport, Transport::Doorbell(_)) {
                label += " (no payload)";
            }
            keys.push((row.mechanism.key, label));
        }
    }
    keys
}

/// The legend: one strip under the panels, so it never hides a line.
fn legend(strip: &Panel<'_>, keys: &[(&str, String)]) -> Result<(), Box<dyn Error>> {
    for (i, (_, label)) in keys.iter().enumerate() {
        let color = Palette99::pick(i).to_rgba();
        let x = 20 + (i as i32 % 6) * 200;
        let y = 12 + (i as i32 / 6) * 22;
        strip.draw(&Rectangle::new([(x, y), (x + 18, y + 10)], color.filled()))?;
        strip.draw(&Text::new(
            label.clone(),
            (x + 26, y - 1),
            ("sans-serif", 14),
        ))?;
    }
    Ok(())
}

/// One placement's chart: a line per mechanism.
fn draw_panel(
    panel: &Panel<'_>,
    rows: &[Row],
    placement: &Placement,
    keys: &[(&str, String)],
    bounds: &Bounds,
) -> Result<(), Box<dyn Error>> {
    let (x, y) = (bounds.x.clone(), bounds.y.clone());
    let mut chart = ChartBuilder::on(panel)
        .caption(
            format!(
                "round trip p50 vs message size, {} (CPUs {}/{})",
                placement_words(placement.name),
                placement.parent_cpu,
                placement.child_cpu
            ),
            ("sans-serif", 18),
        )
        .margin(12)
        .x_label_area_size(44)
        .y_label_area_size(64)
        .build_cartesian_2d(x.log_scale(), y.log_scale())?;
    chart
        .configure_mesh()
        .x_desc("message size (bytes)")
        .y_desc("round trip p50 (µs)")
        .x_label_formatter(&|x| format!("{x:.0}"))
        .y_label_formatter(&|y| format!("{y}"))
        .draw()?;
    for (i, (key, _)) in keys.iter().enumerate() {
        let ours: Vec<&Row> = rows
            .iter()
            .filter(|r| r.mechanism.key == *key && r.placement.name == placement.name)
            .filter(|r| r.latency.is_ok())
            .collect();
        let Some(first) = ours.first() else { continue };
        let color = Palette99::pick(i).to_rgba();
        let mut line: Vec<(f64, f64)> = ours.iter().filter_map(|r| point(r)).collect();
        if matches!(first.mechanism.transport, Transport::Doorbell(_)) {
            // No payload: its cost does not depend on a size, so draw it across all of them.
            let y = line[0].1;
            line = vec![(bounds.x.start * 1.2, y), (bounds.x.end / 1.2, y)];
        }
        chart.draw_series(LineSeries::new(
            line.clone(),
            color.stroke_width(SERIES_WIDTH),
        ))?;
        chart.draw_series(line.iter().map(|p| Circle::new(*p, 4, color.filled())))?;
    }
    Ok(())
}
