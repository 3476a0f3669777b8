//! The charts (SVG). Round trips against message size, log-log: one panel per placement, one
//! line per mechanism, p50 on the line and a whisker up to p99; a row that cannot carry a size
//! stops with an "n/a" mark, and a doorbell (no payload) is a level reference line. With a
//! single size, bars per mechanism instead (`bars.rs`). What both share (the canvas and text
//! sizes, the caption, each mechanism's colour, marker and dash) is `chart.rs`; the legend has
//! rows of its own under the panels, never outside the canvas.

use std::error::Error;
use std::ops::Range;
use std::path::Path;

use plotters::coord::combinators::BindKeyPoints;
use plotters::prelude::*;

use crate::report::bars;
use crate::report::chart::{Area, Look, SERIES_WIDTH, TEXT, TITLE, WIDTH, caption, keys, p50_p99};
use crate::row::{Mechanism, Placement, Row, Run, Skip, placement_words, size_words};

const PANEL_HEIGHT: u32 = 440;
const LEGEND_COLUMNS: usize = 3;
const LEGEND_ROW: u32 = 26;

/// The axes' ranges: message sizes (bytes) and round trips (µs).
struct Bounds {
    x: Range<f64>,
    y: Range<f64>,
}

/// Round trips against message size into `path`; bars per mechanism when one size was measured.
pub fn latency(
    path: &Path,
    rows: &[Row],
    placements: &[Placement],
    run: &Run,
) -> Result<(), Box<dyn Error>> {
    if !rows.iter().any(|r| r.latency.is_ok()) || placements.is_empty() {
        return Err("no round trip was measured, so there is nothing to draw".into());
    }
    if sizes(rows).len() <= 1 {
        return bars::svg(path, rows, placements, run);
    }
    lines(path, rows, placements, run, Quantity::RoundTrip)
}

/// One-way throughput against message size into `path` (rows measured with streams).
pub fn throughput(
    path: &Path,
    rows: &[Row],
    placements: &[Placement],
    run: &Run,
) -> Result<(), Box<dyn Error>> {
    if !rows.iter().any(|r| Quantity::Stream.value(r).is_some()) || placements.is_empty() {
        return Err("no throughput was measured, so there is nothing to draw".into());
    }
    lines(path, rows, placements, run, Quantity::Stream)
}

/// What a line chart shows.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Quantity {
    /// round trip: p50 on the line, a whisker to p99
    RoundTrip,
    /// one-way throughput at each size: the headline of the rounds, a bar from lowest to highest
    Stream,
}

impl Quantity {
    /// (on the line, whisker from, whisker to) of a measured row.
    fn value(self, r: &Row) -> Option<(f64, f64, f64)> {
        match self {
            Quantity::RoundTrip => p50_p99(r).map(|(p50, p99)| (p50, p50, p99)),
            Quantity::Stream => {
                let rates = r.stream.as_ref()?.as_ref().ok()?;
                let (low, high) = rates.mib_s_range();
                Some((rates.mib_s(), low, high))
            }
        }
    }

    /// The row cannot carry its size.
    fn not_applicable(self, r: &Row) -> bool {
        match self {
            Quantity::RoundTrip => matches!(r.latency, Err(Skip::NotApplicable(_))),
            Quantity::Stream => matches!(r.stream, Some(Err(Skip::NotApplicable(_)))),
        }
    }

    fn title(self) -> &'static str {
        match self {
            Quantity::RoundTrip => {
                "Round trip against message size: p50, whisker to p99 (lower is better)"
            }
            Quantity::Stream => {
                "One-way throughput by message size, whisker: rounds (higher is better)"
            }
        }
    }

    fn axis(self) -> &'static str {
        match self {
            Quantity::RoundTrip => "round trip (µs)",
            Quantity::Stream => "one way (MiB/s)",
        }
    }
}

/// A line chart of `quantity`: a panel per placement, the legend under them.
fn lines(
    path: &Path,
    rows: &[Row],
    placements: &[Placement],
    run: &Run,
    quantity: Quantity,
) -> Result<(), Box<dyn Error>> {
    let sizes = sizes(rows);
    let mut keys = keys(rows);
    if quantity == Quantity::Stream {
        keys.retain(|(m, _, _)| m.carries_bytes);
    }
    let height = 70 + PANEL_HEIGHT * placements.len() as u32 + legend_height(keys.len());
    let root = SVGBackend::new(path, (WIDTH, height)).into_drawing_area();
    root.fill(&WHITE)?;
    let (top, rest) = root.split_vertically(70);
    caption(&top, quantity.title(), run)?;
    let (panels, legend_strip) = rest.split_vertically(PANEL_HEIGHT * placements.len() as u32);
    let bounds = bounds(rows, &sizes, quantity);
    let panels = panels.split_evenly((placements.len(), 1));
    for (panel, placement) in panels.iter().zip(placements) {
        draw_panel(panel, rows, placement, &keys, &sizes, &bounds, quantity)?;
    }
    legend(&legend_strip, &keys)?;
    root.present()?;
    Ok(())
}

/// The measured message sizes (a doorbell's 0 left out).
fn sizes(rows: &[Row]) -> Vec<usize> {
    let mut sizes: Vec<usize> = rows.iter().map(|r| r.size).filter(|s| *s > 0).collect();
    sizes.sort_unstable();
    sizes.dedup();
    sizes
}

fn bounds(rows: &[Row], sizes: &[usize], quantity: Quantity) -> Bounds {
    let ys = || rows.iter().filter_map(|r| quantity.value(r));
    let first = *sizes.first().unwrap_or(&64) as f64;
    let last = *sizes.last().unwrap_or(&65536) as f64;
    let y_min = ys().map(|y| y.1.min(y.0)).fold(f64::MAX, f64::min);
    let y_max = ys().map(|y| y.2.max(y.0)).fold(0.0, f64::max);
    Bounds {
        x: first / 1.6..last * 1.6,
        y: y_min / 1.6..y_max * 1.6,
    }
}

fn legend_height(entries: usize) -> u32 {
    entries.div_ceil(LEGEND_COLUMNS) as u32 * LEGEND_ROW + 20
}

/// The legend: rows of its own under the panels, `LEGEND_COLUMNS` entries a row.
fn legend(strip: &Area<'_>, keys: &[(Mechanism, String, Look)]) -> Result<(), Box<dyn Error>> {
    let column = (WIDTH as i32 - 32) / LEGEND_COLUMNS as i32;
    for (i, (_, label, look)) in keys.iter().enumerate() {
        let x = 16 + (i % LEGEND_COLUMNS) as i32 * column;
        let y = 10 + (i / LEGEND_COLUMNS) as i32 * LEGEND_ROW as i32;
        let sample = [(x, y + 9), (x + 44, y + 9)];
        strip.draw(&PathElement::new(sample.to_vec(), WHITE))?;
        line(strip, look, &sample)?;
        marker(strip, look, (x + 22, y + 9))?;
        strip.draw(&Text::new(label.clone(), (x + 54, y), ("sans-serif", TEXT)))?;
    }
    Ok(())
}

/// A polyline in `look`'s colour and dash pattern, in pixel coordinates.
fn line(area: &Area<'_>, look: &Look, points: &[(i32, i32)]) -> Result<(), Box<dyn Error>> {
    let style = look.color.stroke_width(SERIES_WIDTH);
    match look.dash {
        None => area.draw(&PathElement::new(points.to_vec(), style))?,
        Some((dash, gap)) => {
            area.draw(&plotters::element::DashedPathElement::new(
                points.to_vec(),
                dash,
                gap,
                style,
            ))?;
        }
    }
    Ok(())
}

/// `look`'s marker at a pixel.
fn marker(area: &Area<'_>, look: &Look, at: (i32, i32)) -> Result<(), Box<dyn Error>> {
    let (fill, edge) = (look.color.filled(), look.color.stroke_width(2));
    match look.marker {
        0 => area.draw(&Circle::new(at, 5, fill))?,
        1 => area.draw(&TriangleMarker::new(at, 7, fill))?,
        2 => area.draw(&Rectangle::new(
            [(at.0 - 5, at.1 - 5), (at.0 + 5, at.1 + 5)],
            fill,
        ))?,
        _ => area.draw(&Cross::new(at, 6, edge))?,
    }
    Ok(())
}

/// One placement's chart: a line per mechanism, whiskers to p99, "n/a" where a row stops.
fn draw_panel(
    panel: &Area<'_>,
    rows: &[Row],
    placement: &Placement,
    keys: &[(Mechanism, String, Look)],
    sizes: &[usize],
    bounds: &Bounds,
    quantity: Quantity,
) -> Result<(), Box<dyn Error>> {
    let ticks: Vec<f64> = sizes.iter().map(|s| *s as f64).collect();
    let x = bounds.x.clone().log_scale().with_key_points(ticks);
    let mut chart = ChartBuilder::on(panel)
        .caption(
            format!(
                "{} (CPUs {} and {})",
                placement_words(placement.name),
                placement.parent_cpu,
                placement.child_cpu
            ),
            ("sans-serif", TITLE),
        )
        .margin(14)
        .x_label_area_size(48)
        .y_label_area_size(64)
        .build_cartesian_2d(x, bounds.y.clone().log_scale())?;
    chart
        .configure_mesh()
        .x_desc("message size")
        .y_desc(quantity.axis())
        .label_style(("sans-serif", TEXT))
        .axis_desc_style(("sans-serif", TEXT))
        .x_label_formatter(&|x| size_words(x.round() as usize))
        .y_label_formatter(&|y| format!("{y}"))
        .light_line_style(RGBColor(235, 235, 235))
        .draw()?;
    let plot = chart.plotting_area().strip_coord_spec();
    let to_px = |p: (f64, f64)| chart.backend_coord(&p);
    let base = plot.get_base_pixel();
    let local = |p: (i32, i32)| (p.0 - base.0, p.1 - base.1);
    for (m, label, look) in keys {
        let ours: Vec<&Row> = rows
            .iter()
            .filter(|r| r.mechanism.key == m.key && r.placement.name == placement.name)
            .collect();
        if let Some(bell) = ours.iter().find(|r| r.size == 0) {
            let Some((p50, _, _)) = quantity.value(bell) else {
                continue;
            };
            let left = local(to_px((bounds.x.start, p50)));
            let right = local(to_px((bounds.x.end, p50)));
            line(&plot, look, &[left, right])?;
            let name = label.split(" (").next().unwrap_or(label).to_string();
            let at = (right.0 - 8 * name.chars().count() as i32 - 12, left.1 - 22);
            plot.draw(&Text::new(
                name,
                at,
                ("sans-serif", TEXT).into_font().color(&look.color),
            ))?;
            continue;
        }
        let measured: Vec<(f64, (f64, f64, f64))> = ours
            .iter()
            .filter_map(|r| Some((r.size as f64, quantity.value(r)?)))
            .collect();
        let points: Vec<(i32, i32)> = measured
            .iter()
            .map(|(x, y)| local(to_px((*x, y.0))))
            .collect();
        line(&plot, look, &points)?;
        for (x, (value, from, to)) in &measured {
            let (from, to) = (local(to_px((*x, *from))), local(to_px((*x, *to))));
            let whisker = look.color.stroke_width(1);
            plot.draw(&PathElement::new(vec![from, to], whisker))?;
            for end in [from, to] {
                let cap = vec![(end.0 - 4, end.1), (end.0 + 4, end.1)];
                plot.draw(&PathElement::new(cap, whisker))?;
            }
            marker(&plot, look, local(to_px((*x, *value))))?;
        }
        let stops = ours.iter().find(|r| quantity.not_applicable(r));
        if let (Some(stop), Some(last)) = (stops, points.last()) {
            let at = local(to_px((stop.size as f64, 1.0)));
            let style = ("sans-serif", TEXT).into_font().color(&look.color);
            plot.draw(&Text::new(
                "n/a".to_string(),
                (at.0 - 12, last.1 - 9),
                style,
            ))?;
        }
    }
    Ok(())
}
