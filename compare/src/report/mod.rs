//! The report: the lecture's design-space table with this run's numbers. Measured numbers
//! only: a cell without one says why. It reads rows (`crate::row`) and never measures. The
//! formats: `header.rs` (what was measured, on what), `tables.rs` and `cells.rs` (terminal
//! and Markdown, laid out by `layout.rs`), `lessons.rs` with `lessons/coordination.rs` (what
//! the run shows), `records.rs` (JSON and CSV), `plot.rs` with `bars.rs` and what both draw
//! with, `chart.rs` (SVG, written through `pending.rs`);
//! `text.rs` lays text out for the terminal; `lecture.rs` (the lecture's design-space table
//! against the probes) and `verdicts.rs` (the lecture, checked on this machine).

pub mod bars;
pub mod cells;
pub mod chart;
pub mod header;
pub mod layout;
pub mod lecture;
pub mod lessons;
pub mod pending;
pub mod plot;
pub mod records;
pub mod tables;
pub mod text;
pub mod verdicts;
