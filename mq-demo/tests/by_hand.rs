//! The one-operation subcommands as the //! header of src/roles/mod.rs tells a reader to run them.
#![cfg(target_os = "linux")]
#![allow(clippy::unwrap_used)]

mod common;

use std::time::{Duration, Instant};

use common::*;
use testkit::text;

/// The header's `cargo run -p mq-demo -- ARGS` lines, in order, each split into words as a
/// shell would (double quotes group words; `# ...` is a comment).
fn header_commands() -> Vec<Vec<String>> {
    let source = include_str!("../src/roles/mod.rs");
    let prefix = "//!     cargo run -p mq-demo -- ";
    let mut commands = Vec::new();
    for line in source.lines().filter_map(|l| l.strip_prefix(prefix)) {
        let (mut words, mut word, mut quoted) = (Vec::new(), String::new(), false);
        for c in line.chars() {
            match c {
                '"' => quoted = !quoted,
                '#' if !quoted && word.is_empty() => break,
                ' ' if !quoted => words.push(std::mem::take(&mut word)),
                c => word.push(c),
            }
        }
        words.push(word);
        words.retain(|w| !w.is_empty());
        commands.push(words);
    }
    commands
}

/// Every command of the header, in the order written, on a test-private name instead of /jobs.
/// A `receive --wait` runs in the background (terminal 1) until its "waiting" line; the commands
/// after it play terminal 2. Each must succeed, the receiver must get the message, and the name
/// must be gone at the end.
#[test]
fn the_headers_commands_work_in_the_order_written() {
    let commands = header_commands();
    assert!(commands.len() >= 8, "{commands:?}");
    let name = format!("/mq-test-{}-header", std::process::id());
    let tag = unique_tag();
    let mut waiting = None;
    for words in &commands {
        let args: Vec<&str> = words
            .iter()
            .map(|w| if w == "/jobs" { name.as_str() } else { w })
            .collect();
        if args.contains(&"--wait") {
            let mut receiver = start(&args, &tag);
            let line = receiver.expect_prefix("");
            assert!(
                line.starts_with(&format!("waiting up to 60 s for a message on {name}")),
                "{args:?}: {line:?}"
            );
            waiting = Some(receiver);
            continue;
        }
        let out = run(&args);
        assert!(out.status.success(), "{args:?}: {}", text(&out.stderr));
        if let Some(receiver) = waiting.take() {
            // The first command after the receiver sends it a message: it must wake up and end.
            let exited = receiver.finish(Duration::from_secs(5));
            assert_eq!(
                exited.unread(),
                ["received prio 0, 15 bytes: \"temperature: 42\""]
            );
            assert!(exited.status.success(), "{}", exited.stderr);
        }
    }
    assert!(waiting.is_none(), "no command came after `receive --wait`");
    assert!(
        !queue_exists(&name),
        "{name} left after the header's commands"
    );
}

#[test]
fn receive_wait_says_that_it_waits_and_that_nothing_came() {
    let name = format!("/mq-test-{}-wait", std::process::id());
    assert!(run(&["create", &name]).status.success());
    let start = Instant::now();
    let out = run(&["receive", &name, "--wait", "1"]);
    let waited = start.elapsed();
    assert!(run(&["unlink", &name]).status.success());
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(waited >= Duration::from_secs(1), "{waited:?}");
    assert_eq!(
        text(&out.stdout),
        format!(
            "waiting up to 1 s for a message on {name} (send one from another terminal)\n\
             waited 1 s: no message came to {name}\n"
        )
    );
}

/// The advice for a message larger than the queue's mq_msgsize works when followed, and names
/// msgsize_max and its knob when no queue could take the message.
#[test]
fn an_oversized_message_gets_advice_that_works() {
    let name = format!("/mq-test-{}-advice", std::process::id());
    assert!(run(&["create", &name, "--msgsize", "64"]).status.success());
    let big = "x".repeat(100);
    let out = run(&["send", &name, &big]);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    let advice = format!("recreate {name} with --msgsize 100");
    assert!(stderr.contains(&advice), "{stderr}");
    // Follow it.
    assert!(run(&["unlink", &name]).status.success());
    assert!(run(&["create", &name, "--msgsize", "100"]).status.success());
    assert!(run(&["send", &name, &big]).status.success());

    let limit = mq_demo::msgsize_max().unwrap();
    if limit >= 100_000 {
        println!("msgsize_max {limit}: too big to pass as an argument; skipped");
        assert!(run(&["unlink", &name]).status.success());
        return;
    }
    let out = run(&["send", &name, &"x".repeat(limit + 1)]);
    assert!(run(&["unlink", &name]).status.success());
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.contains(&format!("/proc/sys/fs/mqueue/msgsize_max is {limit}"))
            && stderr.contains("sysctl fs.mqueue.msgsize_max=")
            && !stderr.contains("--msgsize"),
        "{stderr}"
    );
}

/// `receive` takes no message off the queue once nobody reads its output: its stdout is a
/// pipe whose read end is already closed (as after `| head -1` has exited).
#[test]
fn receive_into_a_closed_pipe_takes_no_message() {
    let q = format!("/mq-test-{}-closedpipe", std::process::id());
    assert!(run(&["create", &q]).status.success());
    assert!(run(&["send", &q, "one", "two", "three"]).status.success());
    // Close-on-exec (std's pipe): a child another test spawns meanwhile must not inherit
    // the read end, which would keep the pipe open.
    let (read_end, write_end) = std::io::pipe().unwrap();
    drop(read_end);
    let mut cmd = command(&["receive", &q], &unique_tag());
    cmd.stdout(write_end);
    let out = output_of(cmd.spawn().expect("spawn mq-demo"));
    let attr = text(&run(&["attr", &q]).stdout);
    assert!(run(&["unlink", &q]).status.success());
    assert_eq!(out.status.code(), Some(141), "{}", text(&out.stderr));
    assert!(attr.contains("curmsgs 3 "), "a message was taken: {attr}");
}

/// Every line the one-operation subcommands print, errors included, and every --help fits
/// 80 columns (counted in characters), for a short name like the header's /jobs. (Usage
/// errors, which quote what the user typed, are plumbing's one-line format.)
#[test]
fn by_hand_output_and_help_fit_80_columns() {
    let q = format!("/w{}", std::process::id());
    let runs: [&[&str]; 9] = [
        &["create", &q, "--maxmsg", "1", "--msgsize", "64"],
        &["send", &q, "temperature: 42"],
        &["send", &q, "temperature: 43"], // full
        &["send", &q, &"x".repeat(65)],   // too long
        &["attr", &q],
        &["receive", &q],
        &["receive", &q], // empty
        &["unlink", &q],
        &["attr", &q], // gone
    ];
    let mut printed = Vec::new();
    for args in runs {
        let out = run(args);
        printed.push((args.join(" "), text(&out.stdout) + &text(&out.stderr)));
    }
    for sub in [
        "", "tour", "dispatch", "create", "send", "receive", "attr", "unlink",
    ] {
        let args: Vec<&str> = [sub, "--help"]
            .into_iter()
            .filter(|a| !a.is_empty())
            .collect();
        let out = run(&args);
        assert!(out.status.success(), "{args:?}");
        printed.push((args.join(" "), text(&out.stdout)));
    }
    assert!(!queue_exists(&q));
    for (args, output) in printed {
        for line in output.lines() {
            let n = line.chars().count();
            assert!(n <= 80, "`mq-demo {args}`: {n} characters: {line}");
        }
    }
}
