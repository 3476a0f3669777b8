//! The tour's closing block, "The lecture, checked on this machine": one line per claim of the
//! lecture's "Message Queues" section, each CONFIRMED, QUALIFIED or REFUTED. Every line must
//! quote the numbers its step printed earlier in the same run, and carry the verdict those
//! numbers call for. Each test spawns the binary as a user would; nothing here forks.
#![cfg(target_os = "linux")]
#![allow(clippy::unwrap_used)]

mod common;

use std::collections::BTreeSet;
use std::process::Command;
use std::time::Duration;

use common::{BIN, command, unique_tag};
use testkit::verdicts::{
    Tour, after, as_nobody, between, leading_number, quoted_after, run_tour, verdict,
};

fn run(command: &mut Command) -> Tour {
    run_tour(command, Duration::from_secs(60), "mq-demo").0
}

fn tour(args: &[&str]) -> Tour {
    run(&mut command(args, &unique_tag()))
}

/// "300.1 ms" or "3 µs", in µs.
fn micros(text: &str) -> f64 {
    let mut words = text.split_whitespace();
    let value: f64 = words.next().unwrap().parse().unwrap();
    match words.next().unwrap() {
        "µs" => value,
        "ms" => value * 1000.0,
        unit => panic!("unit {unit:?} in {text}"),
    }
}

/// Step 1: the worker took what the coordinator sent, highest priority first, FIFO within one.
fn order(run: &Tour) {
    let c = run.claim("FIFO order, the highest priority first");
    let step = run.step(1);
    let task = |line: &str| {
        let priority = leading_number(after(line, "prio "));
        (priority, between(line, "\"", "\"").to_string())
    };
    let sent: Vec<(u64, String)> = step
        .lines()
        .filter(|l| l.contains("coordinator sent"))
        .map(task)
        .collect();
    let took: Vec<(u64, String)> = step
        .lines()
        .filter(|l| l.trim_start().starts_with("took "))
        .map(task)
        .collect();
    let priorities = |tasks: &[(u64, String)]| {
        let p: Vec<String> = tasks.iter().map(|(p, _)| p.to_string()).collect();
        p.join(" ")
    };
    assert_eq!(
        after(step, "priorities in the order taken: "),
        priorities(&took)
    );
    let mut expected = sent.clone();
    expected.sort_by_key(|(p, _)| std::cmp::Reverse(*p));
    let mut because = format!(
        "sent priorities {}, taken {}",
        priorities(&sent),
        priorities(&took)
    );
    if took != expected && priorities(&took) == priorities(&expected) {
        because += ", equal ones out of sending order";
    }
    assert_eq!(c.because, because);
    assert_eq!(c.verdict, verdict(took == expected, false));
    // The worker that took them is the one the coordinator reaped.
    let worker = leading_number(after(step, "  worker (pid "));
    assert_eq!(
        after(step, "coordinator: worker (pid "),
        format!("{worker}) exited 0")
    );
}

/// The reads of step 2 that follow `title`: (length, text) per read, until EAGAIN.
fn reads(step: &str, title: &str) -> Vec<(u64, String)> {
    let section = &step[step.find(title).unwrap()..];
    section
        .lines()
        .skip(1)
        .take_while(|l| !l.contains("EAGAIN"))
        .map(|l| {
            let length = leading_number(after(l, ": ").trim_start());
            (length, between(l, "\"", "\"").to_string())
        })
        .collect()
}

/// Step 2: each write came out of the queue as it went in; the pipe merged them.
fn boundaries(run: &Tour) {
    let c = run.claim("a queue keeps message boundaries");
    let step = run.step(2);
    let writes: Vec<String> = after(step, "writes: ")
        .split('"')
        .skip(1)
        .step_by(2)
        .map(str::to_string)
        .collect();
    let pipe = reads(step, "pipe: read(1024 bytes)");
    let queue = reads(step, "queue: mq_receive(1024 bytes)");
    let lengths = |reads: &[(u64, String)]| {
        let l: Vec<String> = reads.iter().map(|(n, _)| n.to_string()).collect();
        l.join(" ")
    };
    let plural = |n: usize, one: &str| format!("{n} {one}{}", if n == 1 { "" } else { "s" });
    let expected = format!(
        "{} writes came out of the queue as {} (bytes: {}), of a pipe as {} ({})",
        writes.len(),
        plural(queue.len(), "message"),
        lengths(&queue),
        plural(pipe.len(), "read"),
        lengths(&pipe)
    );
    assert_eq!(c.because, expected);
    let texts: Vec<String> = queue.iter().map(|(_, t)| t.clone()).collect();
    assert_eq!(c.verdict, verdict(texts == writes, false));

    let c = run.claim("each receive returns one whole message");
    let msgsize = leading_number(after(step, "10 messages of up to "));
    let small = after(step, "byte message\n    -> ");
    let got = match small.split_once(" bytes") {
        Some((n, _)) if n.bytes().all(|b| b.is_ascii_digit()) => format!("{n} bytes"),
        _ => small.split_whitespace().next().unwrap().to_string(),
    };
    let whole = texts.iter().filter(|t| writes.contains(t)).count();
    let expected = format!(
        "{} receives, {whole} whole; a buffer below msgsize {msgsize} got {got}",
        queue.len()
    );
    assert_eq!(c.because, expected);
    let partial = got.ends_with(" bytes") && got != format!("{} bytes", writes[0].len());
    assert_eq!(
        c.verdict,
        verdict(texts == writes && !partial, got == "EMSGSIZE")
    );
}

/// Step 3: the messages waited for the later processes; the name was found by each of them,
/// and not from another IPC namespace.
fn persistence(run: &Tour) {
    let step = run.step(3);
    let c = run.claim("the queue persists while both sides are absent");
    let sent = step.matches("\n      sent prio ").count();
    let senders = step.matches("$ mq-demo send ").count();
    let waiting = leading_number(after(step, "curmsgs "));
    let received = step.matches("\n      received prio ").count();
    let expected = format!(
        "{sent} messages from {senders} send processes, gone by then: attr saw curmsgs \
         {waiting}, receive took {received}"
    );
    assert_eq!(c.because, expected);
    let holds = sent > 0 && waiting == sent as u64 && received == sent;
    assert_eq!(c.verdict, verdict(holds, false));

    let c = run.claim("named by a system-wide name");
    let by_name = step.matches("  $ mq-demo ").count() - 2;
    let elsewhere = namespace(step, "    mq_open $Q -> ");
    let mut expected = format!("{by_name} processes opened it by name");
    expected += &match &elsewhere {
        Ok(found) => format!("; from a new IPC namespace: {found}"),
        Err(why) => format!("; another IPC namespace not tried ({why})"),
    };
    assert_eq!(c.because, expected);
    let hidden = matches!(&elsewhere, Ok(found) if found != "found");
    assert_eq!(c.verdict, verdict(by_name > 0, hidden));
}

/// What the namespace probe of a step printed after `before`: Ok(what it found), or Err(why
/// it was not tried).
fn namespace(step: &str, before: &str) -> Result<String, String> {
    match step.find(before) {
        Some(_) => {
            let found = after(step, before);
            Ok(found.split(':').next().unwrap().to_string())
        }
        None => Err(after(step, "a new IPC namespace was not tried: ").to_string()),
    }
}

/// Step 4: the sends and the receive slept to their deadlines or until the worker acted.
fn blocking(run: &Tour) {
    let c = run.claim("a full queue blocks the sender");
    let step = run.step(4);
    // (outcome, duration) of each "-> OUTCOME ... after DURATION" line, in order.
    let waits: Vec<(String, String)> = step
        .lines()
        .filter(|l| l.contains("-> ") && l.contains(" after ") && !l.contains("O_NONBLOCK"))
        .map(|l| {
            let outcome = after(l, "-> ").split_whitespace().next().unwrap();
            (
                outcome.to_string(),
                l.rsplit(" after ").next().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(waits.len(), 3, "{step}");
    let [full, woken, empty] = [&waits[0], &waits[1], &waits[2]];
    let expected = format!(
        "full, mq_timedsend slept {} ({}), and {} ({}) until a receive; empty, \
         mq_timedreceive slept {} ({})",
        full.1, full.0, woken.1, woken.0, empty.1, empty.0
    );
    assert_eq!(c.because, expected);
    let holds = full.0 == "ETIMEDOUT"
        && micros(&full.1) >= 270_000.0
        && woken.0 == "sent"
        && micros(&woken.1) >= 180_000.0
        && empty.0 == "ETIMEDOUT"
        && micros(&empty.1) >= 270_000.0;
    assert_eq!(c.verdict, verdict(holds, false));
}

/// Step 6: the peer answered on the one queue, but our own message came back first.
fn bidirectional(run: &Tour) {
    let c = run.claim("bidirectional");
    let step = run.step(6);
    let question = quoted_after(step, "    mq_send ");
    assert!(question.starts_with("question "), "{question}");
    let own = between(after(step, "    mq_send "), "mq_receive -> \"", "\"").to_string();
    let answer = quoted_after(step, "gave the peer its turn, then mq_receive\n    -> ");
    let answered = answer == format!("answer to {question}");
    let mut expected = match answered {
        true => "the peer answered on the same queue".to_string(),
        false => format!("the peer's answer was {answer:?}"),
    };
    expected += &format!(", but a receive right after our send got {own:?}");
    if own == question {
        expected += ", our own";
    }
    assert_eq!(c.because, expected);
    assert_eq!(c.verdict, verdict(answered, own == question));
}

/// Step 7: every Task arrived whole, in sending order.
fn analog(run: &Tour) {
    let c = run.claim("mpsc is the thread analog");
    let step = run.step(7);
    let received = step.matches("received Task {").count();
    let in_order = after(step, "Tasks arrived as whole values, ") == "in sending order;";
    let order = if in_order { "in" } else { "NOT in" };
    let expected = format!("{received} of 3 Tasks arrived whole, typed, {order} sending order");
    assert_eq!(c.because, expected);
    assert_eq!(c.verdict, verdict(received == 3 && in_order, false));
}

/// Step 8: msgrcv chose by type; the key found the queue, and not from another namespace.
fn by_type(run: &Tour) {
    let step = run.step(8);
    let c = run.claim("selectable by message type (System V)");
    let (taken, sent) = after(step, "types taken: ").split_once("; sent: ").unwrap();
    assert_eq!(
        c.because,
        format!("msgrcv by type took {taken} of {sent} sent")
    );
    let parse = |list: &str| -> Vec<i64> {
        list.split_whitespace()
            .map(|t| t.parse().unwrap())
            .collect()
    };
    let (taken, sent) = (parse(taken), parse(sent));
    let (mut expected, mut rest): (Vec<i64>, Vec<i64>) = sent.iter().partition(|&&t| t == 2);
    rest.retain(|&t| t <= 3);
    rest.sort();
    expected.extend(rest);
    assert_eq!(c.verdict, verdict(taken == expected, false));

    let c = run.claim("named by a system-wide key (System V)");
    let id = leading_number(after(step, "IPC_CREAT | IPC_EXCL | 0600) -> queue id "));
    let found = after(step, "  msgget(key, 0) -> ");
    let found = found.strip_prefix("id ").map(leading_number);
    let elsewhere = namespace(step, "    msgget(key, 0) -> ");
    let mut expected = match found {
        Some(found) => format!("msgget(key, 0) gave id {found}, the queue's {id}"),
        None => format!("msgget(key, 0) gave ENOENT, not the queue's {id}"),
    };
    expected += &match &elsewhere {
        Ok(found) => format!("; from a new IPC namespace: {found}"),
        Err(why) => format!("; another IPC namespace not tried ({why})"),
    };
    assert_eq!(c.because, expected);
    let hidden = matches!(&elsewhere, Ok(found) if found != "found");
    assert_eq!(c.verdict, verdict(found == Some(id), hidden));
}

/// Every check, on one run of the whole tour.
fn check_every_claim(run: &Tour) {
    run.assert_claims(10);
    order(run);
    boundaries(run);
    persistence(run);
    blocking(run);
    bidirectional(run);
    analog(run);
    by_type(run);
}

#[test]
fn every_claim_quotes_this_runs_numbers_with_the_verdict_they_call_for() {
    check_every_claim(&tour(&[]));
}

/// As root, once more as `nobody`: the claims hold together for an ordinary user too (the
/// namespace probe then needs a user namespace, or says why it was not tried).
#[test]
fn every_claim_holds_together_as_an_ordinary_user_too() {
    if let Some(nobody) = as_nobody(BIN, run) {
        check_every_claim(&nobody);
    }
}

/// Values a fake could print every time would pass the checks above: each run draws its
/// own alert reading (step 1), three readings (step 2) and a question (step 6).
#[test]
fn the_values_of_steps_1_2_and_6_are_drawn_per_run() {
    let drawn = || {
        [
            quoted_after(tour(&["dispatch"]).step(1), "type 3  ").to_string(),
            after(tour(&["boundaries"]).step(2), "writes: ").to_string(),
            quoted_after(tour(&["duplex"]).step(6), "    mq_send ").to_string(),
        ]
    };
    let runs: Vec<[String; 3]> = (0..3).map(|_| drawn()).collect();
    for run in &runs {
        assert!(run[0].starts_with("alert: temperature: "), "{run:?}");
        assert!(run[2].starts_with("question "), "{run:?}");
    }
    // One reading in 900 repeats by chance; three runs alike would be one in 810,000.
    for i in 0..3 {
        let values: BTreeSet<&String> = runs.iter().map(|r| &r[i]).collect();
        assert!(values.len() > 1, "the same value in three runs: {runs:?}");
    }
}

/// A step run alone ends with its own claims and no others'.
#[test]
fn a_step_run_alone_prints_its_own_claims() {
    let steps: [(&str, &[&str]); 8] = [
        ("dispatch", &["FIFO order"]),
        ("boundaries", &["a queue keeps", "each receive"]),
        (
            "persistence",
            &["the queue persists", "named by a system-wide name"],
        ),
        ("flow", &["a full queue blocks"]),
        ("limits", &[]),
        ("duplex", &["bidirectional"]),
        ("mpsc", &["mpsc is"]),
        ("by-type", &["selectable", "named by a system-wide key"]),
    ];
    for (step, claims) in steps {
        let run = tour(&[step]);
        run.assert_claims_start(claims, step);
    }
}
