//! The closing block's reader on a block written here, and on outputs it must refuse.
#![allow(clippy::unwrap_used)]

use std::process::Command;
use std::time::Duration;

use testkit::verdicts::{
    HEADING, Tour, after, as_nobody, between, leading_number, line_with, number_after, parse_block,
    quoted_after, run_tour, split, step, verdict,
};

const OUTPUT: &str = "\
pipe-demo: a tour of pipes

1. first: wrote 4096 bytes in 12 ms
   the reader said \"sensor_reading: 0x2a\"

2. second: 3 of 5 arrived
   after 200 ms the writer is still asleep (pipe_write)

The lecture, checked on this machine
  CONFIRMED  a pipe is one-way: write() on the read end gave EBADF
  QUALIFIED  a full pipe stops the writer: writer still asleep after 200
             ms (pipe_write)
  REFUTED    with no reader left: write() did not fail with EPIPE
";

#[test]
fn a_tour_splits_at_the_heading_and_joins_wrapped_claims() {
    let tour = Tour::of(7, OUTPUT);
    assert_eq!(tour.pid, 7);
    assert!(tour.steps.ends_with("(pipe_write)\n\n"), "{}", tour.steps);
    assert!(!tour.steps.contains(HEADING));
    assert_eq!(tour.claims.len(), 3);
    let full = tour.claim("a full pipe");
    assert_eq!(full.verdict, "QUALIFIED");
    assert_eq!(full.claim, "a full pipe stops the writer");
    assert_eq!(
        full.because,
        "writer still asleep after 200 ms (pipe_write)"
    );
    assert_eq!(tour.claim("with no").verdict, "REFUTED");
}

#[test]
fn no_heading_means_only_steps_and_no_claims() {
    let (steps, block) = split("1. only a step\n");
    assert_eq!((steps, block), ("1. only a step\n", ""));
    assert!(Tour::of(1, "1. only a step\n").claims.is_empty());
}

#[test]
#[should_panic(expected = "in [")]
fn a_claim_that_two_lines_start_with_fails() {
    Tour::of(1, OUTPUT).claim("a");
}

#[test]
#[should_panic]
fn a_verdict_not_in_the_three_fails() {
    parse_block("  MAYBE      a claim: because\n");
}

#[test]
#[should_panic]
fn a_line_wider_than_80_columns_fails() {
    parse_block(&format!("  CONFIRMED  a claim: {}\n", "x".repeat(70)));
}

#[test]
#[should_panic]
fn a_line_indented_neither_as_a_claim_nor_as_a_continuation_fails() {
    parse_block("  CONFIRMED  a claim: because\n     half-indented\n");
}

#[test]
#[should_panic(expected = "a continuation after a claim")]
fn a_continuation_with_no_claim_before_it_fails() {
    parse_block("             continued\n");
}

#[test]
fn a_step_runs_from_its_heading_to_the_next_blank_line() {
    let tour = Tour::of(1, OUTPUT);
    assert_eq!(
        tour.step(2),
        "2. second: 3 of 5 arrived\n   after 200 ms the writer is still asleep (pipe_write)"
    );
    assert!(step(&tour.steps, 1).starts_with("1. first"));
    assert!(step(&tour.steps, 1).ends_with("0x2a\""));
}

#[test]
#[should_panic(expected = "step 3 in")]
fn a_missing_step_fails() {
    step("\n1. one\n", 3);
}

#[test]
fn numbers_and_text_are_found_on_their_line() {
    let tour = Tour::of(1, OUTPUT);
    assert_eq!(tour.after("first: "), "wrote 4096 bytes in 12 ms");
    assert_eq!(tour.number_after("wrote "), 4096);
    assert_eq!(number_after(&tour.steps, "second: "), 3);
    assert_eq!(
        tour.line_with("asleep"),
        "   after 200 ms the writer is still asleep (pipe_write)"
    );
    assert_eq!(tour.quoted_after("the reader said"), "sensor_reading: 0x2a");
    assert_eq!(quoted_after(OUTPUT, "said "), "sensor_reading: 0x2a");
    assert_eq!(leading_number("65536 bytes"), 65536);
    assert_eq!(between("fd 3 (\"pipe:[7]\")", "[", "]"), "7");
    assert_eq!(line_with(OUTPUT, "3 of 5"), "2. second: 3 of 5 arrived");
}

#[test]
#[should_panic(expected = "a number at")]
fn no_leading_number_fails() {
    leading_number("about 3");
}

#[test]
#[should_panic]
fn between_with_no_close_fails() {
    between("\"open and never closed", "\"", "\"");
}

#[test]
#[should_panic]
fn after_a_missing_marker_fails() {
    after(OUTPUT, "not printed");
}

#[test]
fn the_verdict_follows_the_numbers() {
    assert_eq!(verdict(false, false), "REFUTED");
    assert_eq!(verdict(false, true), "REFUTED");
    assert_eq!(verdict(true, true), "QUALIFIED");
    assert_eq!(verdict(true, false), "CONFIRMED");
}

#[test]
fn run_tour_splits_what_the_program_printed_and_names_its_pid() {
    let mut printf = Command::new("printf");
    printf.arg("%s").arg(OUTPUT);
    let (tour, done) = run_tour(&mut printf, Duration::from_secs(20), "printf");
    assert_eq!(done.stdout, OUTPUT);
    assert_eq!(done.stderr, "");
    assert_eq!(tour.claims.len(), 3);
    assert!(tour.pid > 0);
}

#[test]
#[should_panic]
fn run_tour_fails_when_the_program_fails() {
    run_tour(&mut Command::new("false"), Duration::from_secs(20), "false");
}

#[test]
fn assert_claims_counts_distinct_claims() {
    Tour::of(1, OUTPUT).assert_claims(3);
}

#[test]
#[should_panic]
fn assert_claims_fails_on_another_count() {
    Tour::of(1, OUTPUT).assert_claims(4);
}

#[test]
#[should_panic(expected = "a claim twice")]
fn assert_claims_fails_on_a_claim_twice() {
    let twice = format!("{OUTPUT}  CONFIRMED  a pipe is one-way: again\n");
    Tour::of(1, &twice).assert_claims(4);
}

#[test]
fn assert_claims_start_takes_the_claims_in_order() {
    let tour = Tour::of(1, OUTPUT);
    tour.assert_claims_start(&["a pipe is", "a full pipe", "with no reader"], "all");
    Tour::of(1, "1. a step alone\n").assert_claims_start(&[], "none");
}

#[test]
#[should_panic(expected = "out of order")]
fn assert_claims_start_fails_out_of_order() {
    let tour = Tour::of(1, OUTPUT);
    tour.assert_claims_start(
        &["a full pipe", "a pipe is", "with no reader"],
        "out of order",
    );
}

#[test]
#[should_panic(expected = "one missing")]
fn assert_claims_start_fails_on_a_claim_more() {
    Tour::of(1, OUTPUT).assert_claims_start(&["a pipe is", "a full pipe"], "one missing");
}

#[test]
fn as_nobody_runs_the_copy_as_uid_65534_or_says_skipped() {
    let Some(tour) = as_nobody("/usr/bin/printf", |printf| {
        let (tour, _) = run_tour(
            printf.arg("%s\n").arg(OUTPUT),
            Duration::from_secs(20),
            "printf",
        );
        tour
    }) else {
        assert!(!testkit::is_root());
        return;
    };
    assert_eq!(tour.claims.len(), 3);
    assert_ne!(tour.pid, 0);
}
