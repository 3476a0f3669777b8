//! What users complain about in IPC code: leftovers, hangs, orphans, bad input, wrong modes.
#![cfg(target_os = "linux")]
#![allow(clippy::unwrap_used)]

mod common;

use std::io::{BufRead, BufReader, Read};
use std::os::fd::AsFd;
use std::os::unix::process::ExitStatusExt;
use std::process::Child;
use std::sync::mpsc::RecvTimeoutError;
use std::thread::sleep;
use std::time::{Duration, Instant};

use common::*;
use nix::mqueue::{MQ_OFlag, mq_close, mq_open};
use nix::sys::signal::{Signal, kill};
use nix::sys::stat::{Mode, fstat};
use nix::unistd::Pid;
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use testkit::{Exited, KillAfter, LIMIT, Running, text};

fn signal(pid: u32, signal: Signal) {
    kill(Pid::from_raw(pid as i32), signal).unwrap();
}

/// A test-private queue name.
fn name(what: &str) -> String {
    format!("/mq-test-{}-{what}", std::process::id())
}

fn assert_one_line_error(out: &std::process::Output, code: i32, context: &str) {
    let stderr = text(&out.stderr);
    assert_eq!(
        out.status.code(),
        Some(code),
        "{context}: stderr {stderr:?}"
    );
    assert_eq!(stderr.lines().count(), 1, "{context}: stderr {stderr:?}");
    assert!(
        stderr.starts_with("mq-demo: "),
        "{context}: stderr {stderr:?}"
    );
    assert!(
        !stderr.contains("panicked at"),
        "{context}: stderr {stderr:?}"
    );
}

#[test]
fn bad_input_gives_one_line_and_leaves_nothing() {
    let long = format!("/{}", "q".repeat(256));
    let (jobs, jobs2) = (name("bad"), name("bad2"));
    let too_big = (mq_demo::msgsize_max().unwrap() + 1).to_string();
    let too_many = (mq_demo::msg_max().unwrap() + 1).to_string();
    let usage: &[&[&str]] = &[
        &["bogus"],
        &["tour", "extra"],
        &["create"],
        &["create", "jobs"],
        &["create", "/"],
        &["create", "/a/b"],
        &["create", &long],
        &["create", &jobs, "--maxmsg", "0"],
        &["create", &jobs, "--maxmsg", "-1"],
        &["create", &jobs, "--maxmsg", "ten"],
        &["create", &jobs, "--maxmsg", "99999999999999999999"],
        &["create", &jobs, "--msgsize", "0"],
        &["create", &jobs, "--msgsize", "16777217"],
        &["send", &jobs],
        &["send", &jobs, "x", "--priority", "32768"],
        &["send", &jobs, "x", "--priority", "-1"],
        &["send", "no-slash", "x"],
        &["receive", &jobs, "--wait", "3601"],
        &["receive", &jobs, "--wait", "soon"],
        &["attr"],
        &["unlink", "//"],
        &["dispatch", "--work-ms", "10001"],
        &["dispatch", "--work-ms", "-5"],
    ];
    for args in usage {
        assert_one_line_error(&run(args), 2, &format!("{args:?}"));
    }
    let runtime: &[&[&str]] = &[
        &["attr", &jobs],
        &["receive", &jobs],
        &["send", &jobs, "temperature: 42"],
        &["unlink", &jobs],
        &["create", &jobs, "--msgsize", &too_big],
        &["create", &jobs2, "--maxmsg", &too_many],
    ];
    for args in runtime {
        let out = run(args);
        assert_one_line_error(&out, 1, &format!("{args:?}"));
    }
    let out = run(&["create", &jobs, "--msgsize", &too_big]);
    assert!(
        text(&out.stderr).contains("msgsize_max")
            && text(&out.stderr).contains("sysctl fs.mqueue.msgsize_max=")
    );
    let out = run(&["create", &jobs2, "--maxmsg", &too_many]);
    assert!(
        text(&out.stderr).contains("msg_max")
            && text(&out.stderr).contains("sysctl fs.mqueue.msg_max=")
    );
    assert!(!queue_exists(&jobs) && !queue_exists(&jobs2));
}

#[test]
fn oversized_message_and_full_queue_are_one_line_errors() {
    let q = name("small");
    assert!(
        run(&["create", &q, "--maxmsg", "1", "--msgsize", "64"])
            .status
            .success()
    );
    let out = run(&["send", &q, &"x".repeat(65)]);
    assert_one_line_error(&out, 1, "oversized");
    assert!(
        text(&out.stderr).contains("65-byte message > mq_msgsize 64"),
        "{}",
        text(&out.stderr)
    );
    assert!(run(&["send", &q, "temperature: 42"]).status.success());
    let out = run(&["send", &q, "temperature: 43"]);
    assert_one_line_error(&out, 1, "full");
    assert!(text(&out.stderr).contains("EAGAIN: full (1 of 1 messages)"));
    let out = run(&["create", &q]);
    assert_one_line_error(&out, 1, "exists");
    assert!(text(&out.stderr).contains("EEXIST"));
    let out = run(&["receive", &q]);
    assert_eq!(
        text(&out.stdout),
        "received prio 0, 15 bytes: \"temperature: 42\"\n"
    );
    assert!(run(&["unlink", &q]).status.success());
    assert!(!queue_exists(&q));
}

/// The per-user byte budget, lowered for one process with prlimit(1): mq_open fails with
/// EMFILE, and the error names RLIMIT_MSGQUEUE, its value and how to raise it.
#[test]
fn exhausted_rlimit_msgqueue_is_explained() {
    let q = name("rlimit");
    // (util-linux's prlimit; the test fails naming it if it cannot be started)
    let out = testkit::run("prlimit", &["--msgqueue=1000", BIN, "create", &q]);
    assert_one_line_error(&out, 1, "prlimit --msgqueue=1000");
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("EMFILE")
            && stderr.contains("RLIMIT_MSGQUEUE (1000 bytes")
            && stderr.contains("ulimit -q"),
        "{stderr}"
    );
    assert!(!queue_exists(&q));
}

#[test]
fn created_queue_has_mode_0600() {
    let q = name("mode");
    let out = run(&["create", &q]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    // A queue descriptor is a file descriptor on Linux: fstat shows the queue's mode.
    let mqd = mq_open(q.as_str(), MQ_OFlag::O_RDONLY, Mode::empty(), None).unwrap();
    let mode = fstat(mqd.as_fd()).unwrap().st_mode & 0o777;
    mq_close(mqd).unwrap();
    assert!(run(&["unlink", &q]).status.success());
    assert_eq!(mode, 0o600, "mode {mode:o}");
}

fn interrupt_at_random_points(args: &[&str], runs: usize, max_delay_ms: u64, rng: &mut StdRng) {
    for sig in [Signal::SIGINT, Signal::SIGTERM] {
        for _ in 0..runs {
            let delay = rng.random_range(5..max_delay_ms);
            let tag = unique_tag();
            let tour = start(args, &tag);
            let pid = tour.id();
            sleep(Duration::from_millis(delay));
            signal(pid, sig);
            let Exited {
                status,
                stdout,
                stderr,
                ..
            } = tour.finish(Duration::from_secs(2));
            let stdout = stdout.join("\n");
            println!("{args:?} {sig} after {delay} ms: {status}");
            // A signal that lands before mq-demo has registered its handlers (a slow exec on a
            // loaded machine) takes the default action; it had printed nothing, so it had
            // created nothing yet either.
            let before_start = status.signal() == Some(sig as i32) && stdout.is_empty();
            if status.code() != Some(0) && !before_start {
                assert_eq!(status.code(), Some(128 + sig as i32), "{stderr}");
                // `receive` creates no queue, so it must not claim to have removed any.
                let expected = if args.first() == Some(&"receive") {
                    format!("mq-demo: stopped by {sig}\n")
                } else {
                    format!("mq-demo: stopped by {sig}; removed everything this run created\n")
                };
                assert_eq!(stderr, expected);
            }
            assert_eq!(
                leftovers(pid, &stdout),
                Vec::<String>::new(),
                "{args:?} {sig} after {delay} ms"
            );
            assert_eq!(
                processes_with_tag(&tag),
                Vec::<String>::new(),
                "{args:?} {sig} after {delay} ms"
            );
        }
    }
}

#[test]
fn interrupted_runs_leave_no_queue_and_no_process() {
    let mut rng = StdRng::seed_from_u64(testkit::seed("MQ_DEMO_SEED"));
    interrupt_at_random_points(&[], 3, 850, &mut rng);
    interrupt_at_random_points(&["dispatch", "--work-ms", "100"], 1, 600, &mut rng);
    interrupt_at_random_points(&["flow"], 1, 800, &mut rng);

    let q = name("wait");
    assert!(run(&["create", &q]).status.success());
    interrupt_at_random_points(&["receive", &q, "--wait", "30"], 1, 300, &mut rng);
    assert!(run(&["unlink", &q]).status.success());
}

/// Interrupts each step at a known moment: while the persistence queue has a name, while the
/// worker holds the dispatch queue, while the flow step is blocked in mq_timedsend.
#[test]
fn interrupted_at_known_moments_leaves_nothing() {
    // (args, the start of the line after which the signal is sent, indentation included)
    let moments: [(&[&str], &str); 5] = [
        (&["persistence"], "  $ mq-demo send"),
        (&["dispatch", "--work-ms", "100"], "    took "),
        (&["flow"], "  O_NONBLOCK descriptor"),
        (&["duplex"], "  (mq_demo::duplex."),
        (&[], "3. "),
    ];
    for (args, prefix) in moments {
        for sig in [Signal::SIGINT, Signal::SIGTERM] {
            let tag = unique_tag();
            let mut step = start(args, &tag);
            let pid = step.id();
            step.expect_prefix(prefix);
            signal(pid, sig);
            let Exited {
                status,
                stdout,
                stderr,
                ..
            } = step.finish(Duration::from_secs(2));
            // The duplex step may finish its few milliseconds of round trips before the signal lands.
            let finished_first = status.success() && args == ["duplex"];
            if !finished_first {
                assert_eq!(
                    status.code(),
                    Some(128 + sig as i32),
                    "{args:?} {sig}: {stderr}"
                );
            }
            let names = listed_queues(&format!("ipc-tour-mq-{pid}-"));
            assert_eq!(names, Vec::<String>::new(), "{args:?} {sig}");
            let step_name = stdout
                .iter()
                .flat_map(|line| line.split_whitespace())
                .find(|w| w.starts_with("/ipc-tour-mq-"));
            if let Some(name) = step_name {
                assert!(
                    !queue_exists(name.trim_end_matches(':')),
                    "{args:?} {sig}: {name} left"
                );
            }
            assert_eq!(
                processes_with_tag(&tag),
                Vec::<String>::new(),
                "{args:?} {sig}"
            );
        }
    }
}

/// Starts `dispatch` with a slow worker; returns the coordinator and the worker's pid.
fn start_dispatch(tag: &str) -> (Running, u32) {
    let mut coordinator = start(&["dispatch", "--work-ms", "300"], tag);
    let line = coordinator.expect_prefix("  worker (pid ");
    let worker = line["  worker (pid ".len()..].split(')').next().unwrap();
    (coordinator, worker.parse().unwrap())
}

#[test]
fn coordinator_notices_a_killed_worker() {
    let tag = unique_tag();
    let (coordinator, worker) = start_dispatch(&tag);
    signal(worker, Signal::SIGKILL);
    let exited = coordinator.finish(Duration::from_secs(2));
    assert_eq!(exited.status.code(), Some(1));
    assert_eq!(
        exited.stderr,
        format!("mq-demo: worker (pid {worker}) was killed by SIGKILL before it finished\n")
    );
    assert_eq!(processes_with_tag(&tag), Vec::<String>::new());
}

#[test]
fn worker_notices_a_killed_coordinator() {
    let tag = unique_tag();
    let (mut coordinator, worker) = start_dispatch(&tag);
    let pid = coordinator.id();
    coordinator.kill(); // SIGKILL to the coordinator alone, as `kill -9 PID`
    // The worker holds the other copy of stderr: it ends when the worker has exited (this
    // waits for that end, testkit::LIMIT at most).
    let start = Instant::now();
    let stderr = coordinator.stderr();
    assert!(
        start.elapsed() < Duration::from_secs(2),
        "worker took {:?}",
        start.elapsed()
    );
    assert_eq!(
        stderr,
        format!("mq-demo: worker: the coordinator (pid {pid}) died; worker exiting\n")
    );
    let deadline = Instant::now() + Duration::from_secs(2);
    while processes_with_tag(&tag).contains(&worker.to_string()) && Instant::now() < deadline {
        sleep(Duration::from_millis(10));
    }
    assert_eq!(processes_with_tag(&tag), Vec::<String>::new());
}

/// A run killed with SIGKILL while its persistence queue exists leaves that name; the next run
/// must still succeed, and (where /dev/mqueue is mounted, so it can list queues) remove it.
#[test]
fn a_run_after_a_sigkilled_run_succeeds() {
    let mut killed = start(&["persistence"], &unique_tag());
    // The step prints its queue's name once, then calls it $Q.
    killed.expect_prefix("      created $Q");
    let stale = printed_names(killed.id(), &killed.seen().join("\n"))
        .pop()
        .unwrap();
    killed.kill();
    assert!(
        queue_exists(&stale),
        "the killed run should have left {stale}"
    );

    let out = run(&[]);
    let stdout = text(&out.stdout);
    let listed = mqueue_listable();
    let cleaned = !queue_exists(&stale);
    if !cleaned {
        nix::mqueue::mq_unlink(stale.as_str()).unwrap(); // not listable here: tidy up ourselves
    }
    assert!(out.status.success(), "{stdout}\n{}", text(&out.stderr));
    if listed {
        // Another test's tour, running at the same time, may be the one that removed it (and
        // said so in its own output); what must hold is that the name is gone.
        assert!(cleaned, "{stale} is still there:\n{stdout}");
    }
}

/// Reads `child`'s stdout, whole lines, until what it has read satisfies `enough`; returns
/// that. For the tests that must read (or close) the pipe themselves, so that no line waits
/// unread in a reader thread. Bounded: a child still running after [`LIMIT`] is killed (its
/// own children die with it), which ends its output, and the test fails.
fn read_until(
    child: &mut Child,
    stdout: &mut impl BufRead,
    enough: impl Fn(&str) -> bool,
) -> String {
    let watchdog = KillAfter::new(child, LIMIT);
    let mut seen = String::new();
    while !enough(&seen) {
        if stdout.read_line(&mut seen).unwrap() == 0 {
            testkit::kill_and_reap(child);
            panic!("mq-demo: output ended (or stalled {LIMIT:?}) after:\n{seen}");
        }
    }
    drop(watchdog);
    seen
}

/// The rest of `stream`, a child's stdout or stderr, which a process it started may hold
/// open after it has exited; the test fails if it has not ended within [`LIMIT`].
fn rest_of(stream: impl Read + Send + 'static) -> String {
    let lines = testkit::line_channel(stream);
    let mut rest = String::new();
    let end = Instant::now() + LIMIT;
    loop {
        match lines.recv_timeout(end.saturating_duration_since(Instant::now())) {
            Ok(line) => rest.push_str(&(line + "\n")),
            Err(RecvTimeoutError::Disconnected) => return rest,
            Err(RecvTimeoutError::Timeout) => panic!("output still open after {LIMIT:?}:\n{rest}"),
        }
    }
}

/// `mq-demo | head -3`, and a worker that is first to find stdout closed: nothing on stderr
/// (not even from the coordinator), exit status 141 as if SIGPIPE had ended it, nothing left
/// behind.
#[test]
fn a_closed_stdout_ends_quietly_with_141_and_leaves_nothing() {
    // (args, lines to read before closing): the tour's coordinator is the first to write
    // again; with --work-ms 200 the forked worker is (it prints the next "took" line).
    let cases: [(&[&str], usize); 2] = [(&[], 3), (&["dispatch", "--work-ms", "200"], 12)];
    for (args, lines) in cases {
        let tag = unique_tag();
        let mut child = spawn(args, &tag);
        let pid = child.id();
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        let seen = read_until(&mut child, &mut stdout, |seen| {
            seen.lines().count() == lines
        });
        drop(stdout); // what `head` does when it has enough
        let status = testkit::exit_within(&mut child, Duration::from_secs(5), "mq-demo");
        let stderr = rest_of(child.stderr.take().unwrap());
        assert_eq!(status.code(), Some(141), "{args:?}: {stderr}");
        assert_eq!(stderr, "", "{args:?}");
        assert_eq!(leftovers(pid, &seen), Vec::<String>::new(), "{args:?}");
        let deadline = Instant::now() + Duration::from_secs(2);
        while !processes_with_tag(&tag).is_empty() && Instant::now() < deadline {
            sleep(Duration::from_millis(10));
        }
        assert_eq!(processes_with_tag(&tag), Vec::<String>::new(), "{args:?}");
    }
}

/// The start-up sweep removes what this user's killed runs left, and never another user's
/// queue, even one with our name shape and a dead pid. Needs root (to give a queue away) and
/// /dev/mqueue mounted (the sweep lists it); skipped otherwise.
#[test]
fn the_sweep_removes_our_stale_queues_and_no_one_elses() {
    if !nix::unistd::geteuid().is_root() || !mqueue_listable() {
        println!("needs root and the mqueue file system on /dev/mqueue; skipped");
        return;
    }
    let mut gone = std::process::Command::new("true").spawn().unwrap();
    gone.wait().unwrap(); // reaped: its pid names a run that was killed
    let (ours, theirs) = (
        format!("/ipc-tour-mq-{}-0000f00d", gone.id()),
        format!("/ipc-tour-mq-{}-0badf00d", gone.id()),
    );
    // (With no attributes, nix 0.32 calls mq_open without the mode: pass them.)
    let attr = nix::mqueue::MqAttr::new(0, 1, 8, 0);
    for name in [&ours, &theirs] {
        let mqd = mq_open(
            name.as_str(),
            MQ_OFlag::O_CREAT | MQ_OFlag::O_EXCL | MQ_OFlag::O_RDONLY,
            Mode::S_IRUSR | Mode::S_IWUSR,
            Some(&attr),
        )
        .unwrap();
        mq_close(mqd).unwrap();
    }
    let nobody = Some(nix::unistd::Uid::from_raw(65534));
    nix::unistd::chown(format!("/dev/mqueue{theirs}").as_str(), nobody, None).unwrap();

    let out = run(&[]);
    let left_theirs = queue_exists(&theirs);
    let left_ours = queue_exists(&ours);
    for name in [&ours, &theirs] {
        let _ = nix::mqueue::mq_unlink(name.as_str());
    }
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{stdout}\n{}", text(&out.stderr));
    assert!(
        left_theirs,
        "the sweep removed another user's {theirs}:\n{stdout}"
    );
    assert!(!stdout.contains(&theirs), "{stdout}");
    // Another test's tour, running at the same time, may be the one that removed it.
    assert!(!left_ours, "{ours} is still there:\n{stdout}");
}

/// The step numbers of the "N. title" headings in `text`, in order.
fn headings(text: &str) -> Vec<u32> {
    text.lines()
        .filter_map(|l| l.split_once(". ")?.0.parse().ok())
        .collect()
}

/// Reads what the (stopped) child has already written to `stdout`, without blocking.
fn drain_now(stdout: &mut BufReader<std::process::ChildStdout>, seen: &mut String) {
    use nix::fcntl::{FcntlArg, OFlag, fcntl};
    let flags = OFlag::from_bits_truncate(fcntl(stdout.get_ref(), FcntlArg::F_GETFL).unwrap());
    fcntl(
        stdout.get_ref(),
        FcntlArg::F_SETFL(flags | OFlag::O_NONBLOCK),
    )
    .unwrap();
    let mut bytes = Vec::new();
    match stdout.read_to_end(&mut bytes) {
        Ok(_) => {}
        Err(e) => assert_eq!(e.kind(), std::io::ErrorKind::WouldBlock, "{e}"),
    }
    fcntl(stdout.get_ref(), FcntlArg::F_SETFL(flags)).unwrap();
    seen.push_str(&String::from_utf8(bytes).unwrap());
}

/// A stop signal ends the tour before its next step: the tour is frozen (SIGSTOP) as step 2
/// begins, everything it printed so far is read, the signal is queued and the tour thawed.
/// Step 3 may have passed its check just before the freeze and print its heading and
/// introduction, but it starts no process (`  $ mq-demo ...`) and no later step starts.
#[test]
fn a_stop_signal_ends_the_tour_before_its_next_step() {
    for sig in [Signal::SIGINT, Signal::SIGHUP] {
        let tag = unique_tag();
        let mut child = spawn(&[], &tag);
        let pid = child.id();
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        let mut before = read_until(&mut child, &mut stdout, |seen| {
            seen.lines().any(|l| l.starts_with("2. "))
        });
        signal(pid, Signal::SIGSTOP);
        let deadline = Instant::now() + Duration::from_secs(2);
        while plumbing::procfs::state(pid as i32).unwrap() != 'T' {
            assert!(Instant::now() < deadline, "pid {pid} did not stop");
            sleep(Duration::from_millis(1));
        }
        drain_now(&mut stdout, &mut before);
        signal(pid, sig);
        signal(pid, Signal::SIGCONT);
        let status = testkit::exit_within(&mut child, Duration::from_secs(5), "mq-demo");
        let after = rest_of(stdout);
        assert_eq!(status.code(), Some(128 + sig as i32), "{before}{after}");
        let last = *headings(&before).last().unwrap();
        let started = headings(&after);
        assert!(
            started.iter().all(|&n| n == last + 1),
            "{sig} arrived in step {last}; then steps {started:?} started:\n{after}"
        );
        if !started.is_empty() {
            let runs = after
                .lines()
                .filter(|l| l.starts_with("  $ mq-demo"))
                .count();
            assert_eq!(runs, 0, "{sig}: step {} went on:\n{after}", last + 1);
        }
        assert_eq!(leftovers(pid, &before), Vec::<String>::new(), "{sig}");
        assert_eq!(processes_with_tag(&tag), Vec::<String>::new(), "{sig}");
    }
}
