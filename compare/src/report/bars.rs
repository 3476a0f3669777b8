//! The chart when a single size was measured (`--quick --plot`): a bar per mechanism and
//! placement, p50 as the bar and a whisker to p99. The placements differ by fill as well as by
//! colour: same core solid, different cores hollow with a thick edge.

use std::error::Error;
use std::path::Path;

use plotters::prelude::*;

use crate::report::chart::{TEXT, WIDTH, caption, keys, p50_p99};
use crate::row::{Placement, Row, Run, placement_words, size_words};

const BAR_ROW: u32 = 46;
const SAME: RGBColor = RGBColor(0, 114, 178); // blue
const SPLIT: RGBColor = RGBColor(213, 94, 0); // vermillion

pub fn svg(
    path: &Path,
    rows: &[Row],
    placements: &[Placement],
    run: &Run,
) -> Result<(), Box<dyn Error>> {
    let keys = keys(rows);
    let n = keys.len();
    let height = 110 + BAR_ROW * n as u32 + 70;
    let root = SVGBackend::new(path, (WIDTH, height)).into_drawing_area();
    root.fill(&WHITE)?;
    let (top, rest) = root.split_vertically(110);
    let size = rows.iter().map(|r| r.size).max().unwrap_or(0);
    let title = format!(
        "Round trip of {} messages: p50, whisker to p99",
        size_words(size)
    );
    caption(&top, &format!("{title} (lower is better)"), run)?;
    for (j, p) in placements.iter().enumerate() {
        let x = 16 + j as i32 * 300;
        let style = bar_style(j);
        top.draw(&Rectangle::new([(x, 72), (x + 30, 90)], style))?;
        let words = format!(
            "{} (CPUs {}, {})",
            placement_words(p.name),
            p.parent_cpu,
            p.child_cpu
        );
        top.draw(&Text::new(words, (x + 40, 72), ("sans-serif", TEXT)))?;
    }
    let values: Vec<(f64, f64)> = rows.iter().filter_map(p50_p99).collect();
    let low = values.iter().map(|v| v.0).fold(f64::MAX, f64::min) / 2.0;
    let high = values.iter().map(|v| v.1).fold(0.0, f64::max) * 1.6;
    let mut chart = ChartBuilder::on(&rest)
        .margin(14)
        .x_label_area_size(48)
        .y_label_area_size(150)
        .build_cartesian_2d((low..high).log_scale(), 0.0..n as f64)?;
    chart
        .configure_mesh()
        .x_desc("round trip (µs)")
        .label_style(("sans-serif", TEXT))
        .axis_desc_style(("sans-serif", TEXT))
        .y_labels(0)
        .x_label_formatter(&|x| format!("{x}"))
        .disable_y_mesh()
        .draw()?;
    for (i, (m, _, _)) in keys.iter().enumerate() {
        let top = n as f64 - i as f64;
        // The mechanism's name, right-aligned before the axis (in the root's pixels).
        let (x, y) = chart.backend_coord(&(low, top - 0.5));
        let name = m.label.to_string();
        let at = (x - 12 - 9 * name.chars().count() as i32, y - 9);
        root.draw(&Text::new(name, at, ("sans-serif", TEXT)))?;
        for (j, p) in placements.iter().enumerate() {
            let row = rows
                .iter()
                .find(|r| r.mechanism.key == m.key && r.placement.name == p.name);
            let Some((p50, p99)) = row.and_then(p50_p99) else {
                continue;
            };
            let width = 0.8 / placements.len() as f64;
            let (y0, y1) = (
                top - 0.1 - j as f64 * width,
                top - 0.1 - (j + 1) as f64 * width,
            );
            chart.draw_series([Rectangle::new([(low, y0), (p50, y1)], bar_style(j))])?;
            let mid = (y0 + y1) / 2.0;
            let whisker = BLACK.stroke_width(1);
            chart.draw_series([PathElement::new(vec![(p50, mid), (p99, mid)], whisker)])?;
            let cap = [(p99, mid - width / 4.0), (p99, mid + width / 4.0)];
            chart.draw_series([PathElement::new(cap.to_vec(), whisker)])?;
        }
    }
    root.present()?;
    Ok(())
}

/// Same core: solid; different cores: hollow with a thick edge.
fn bar_style(placement: usize) -> ShapeStyle {
    match placement {
        0 => SAME.filled(),
        _ => SPLIT.stroke_width(3),
    }
}
