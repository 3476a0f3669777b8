//! What every tour must survive: 80 columns.
#![allow(clippy::unwrap_used)]

mod common;

use std::process::Command;

use common::{BIN, run, stderr, stdout};

#[test]
fn the_default_run_fits_80_columns() {
    let out = Command::new(BIN).env("COLUMNS", "80").output().unwrap();
    let text = stdout(&out);
    assert!(out.status.success(), "{text}{}", stderr(&out));
    for (i, line) in text.lines().enumerate() {
        let width = line.chars().count();
        assert!(width <= 80, "line {} is {width} characters: {line}", i + 1);
    }
    assert!(text.contains("\n9. "), "{text}");
}

#[test]
fn a_step_run_alone_keeps_its_tour_number() {
    let counter = stdout(&run(&["counter", "--increments", "1000"]));
    assert!(counter.starts_with("5. "), "{counter}");
    let ring = stdout(&run(&["ring", "--messages", "10"]));
    let steps: Vec<&str> = ring.lines().filter(|l| !l.starts_with(' ')).collect();
    assert!(
        steps.len() == 2 && steps[0].starts_with("6. ") && steps[1].starts_with("7. "),
        "{ring}"
    );
}
