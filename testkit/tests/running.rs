//! `Running` does what its doc comment says, seen from small shell scripts: which lines each
//! wait returns, what it collects, and what is left of a script and its children after a
//! failed wait or a drop.
#![allow(clippy::unwrap_used)]

use std::os::unix::process::ExitStatusExt;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::time::{Duration, Instant};

use testkit::{Running, TempDir};

const WAIT: Duration = Duration::from_secs(10);

fn sh(script: &str) -> Running {
    Running::spawn("sh", &["-c", script])
}

/// Waits (bounded) until `pid` is neither running nor a zombie.
fn assert_gone(pid: i32, what: &str) {
    let end = Instant::now() + WAIT;
    while testkit::alive(pid) {
        assert!(Instant::now() < end, "{what} (pid {pid}) still alive");
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// The panic message of `run`, which must panic.
fn panic_of(run: impl FnOnce()) -> String {
    let panicked = catch_unwind(AssertUnwindSafe(run)).expect_err("no panic");
    let text = panicked.downcast_ref::<String>().cloned();
    text.unwrap_or_else(|| panicked.downcast_ref::<&str>().unwrap().to_string())
}

#[test]
fn each_wait_looks_after_the_last_and_finish_collects_everything() {
    let mut run = sh("echo one; echo two; echo two more; echo three; echo oops >&2; exit 3");
    assert_eq!(run.expect_prefix("tw"), "two");
    run.expect_line("two more");
    assert_eq!(run.seen(), ["one", "two", "two more"]);
    // "one" was passed over: a later wait does not go back to it.
    assert_eq!(run.wait_line("one", Duration::from_millis(300)), None);
    let done = run.finish(WAIT);
    assert_eq!(done.status.code(), Some(3));
    assert_eq!(done.stdout, ["one", "two", "two more", "three"]);
    assert_eq!(done.stderr, "oops\n");

    let mut run = sh("echo one; echo two; echo three");
    run.expect_line("one");
    assert_eq!(run.finish(WAIT).unread(), ["two", "three"]);
}

#[test]
fn a_line_that_never_comes_fails_naming_it_and_what_came_instead() {
    let said = panic_of(|| sh("echo one; echo oops >&2").expect_line("two"));
    assert!(said.contains("no line \"two\": its stdout ended"), "{said}");
    assert!(said.contains("one") && said.contains("oops"), "{said}");
    // A flood is cut to its last lines.
    let said = panic_of(|| sh("seq 100").expect_line("101"));
    assert!(said.contains("(60 lines before these):\n61\n"), "{said}");
    assert!(said.ends_with("\n100\nstderr so far:\n"), "{said}");

    let mut run = sh("echo ready; exec sleep 30");
    let pid = run.id() as i32;
    let started = Instant::now();
    assert_eq!(run.wait_line("never", Duration::from_millis(300)), None);
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    assert!(run.running());
    drop(run);
    assert_gone(pid, "sleep");
}

#[test]
fn stderr_is_readable_while_it_runs_and_whole_once_it_exits() {
    let mut run = sh("echo early >&2; echo ready; sleep 30");
    run.expect_line("ready");
    let end = Instant::now() + WAIT;
    while run.stderr() != "early\n" {
        assert!(Instant::now() < end, "{:?}", run.stderr());
        std::thread::sleep(Duration::from_millis(10));
    }
    run.kill();
    assert!(!run.running());
    assert_eq!(run.wait_exit(WAIT).unwrap().signal(), Some(libc::SIGKILL));

    let mut run = sh("exit 4");
    let end = Instant::now() + WAIT;
    while run.running() {
        assert!(Instant::now() < end, "sh did not exit");
        std::thread::sleep(Duration::from_millis(10));
    }
    // running() did not reap it: wait_exit still gets its status.
    assert_eq!(run.wait_exit(WAIT).unwrap().code(), Some(4));
}

#[test]
fn a_drop_gives_the_group_sigterm_and_time_then_sigkill() {
    let dir = TempDir::new("testkit-selftest-running");
    let mark = dir.join("got-term");
    // The shell takes its time to clean up on SIGTERM; its child ignores SIGTERM, so only
    // SIGKILL ends that one.
    let script = format!(
        "trap 'sleep 0.5; echo term > {}; exit 0' TERM; \
         (trap '' TERM; exec sleep 30) & echo $!; wait",
        mark.display()
    );
    let mut run = sh(&script);
    let sleep: i32 = run.expect_prefix("").parse().unwrap();
    drop(run);
    assert_eq!(std::fs::read_to_string(&mark).unwrap(), "term\n");
    assert_gone(sleep, "the child that ignored SIGTERM");
}

#[test]
fn a_failed_finish_leaves_nothing_running() {
    let run = sh("exec sleep 30");
    let pid = run.id() as i32;
    let said = panic_of(|| {
        run.finish(Duration::from_millis(300));
    });
    assert!(said.contains("still running after 300ms"), "{said}");
    assert_gone(pid, "sleep");

    // The script exits at once; the child it leaves holds its stdout open.
    let mut run = sh("sleep 30 & echo $!");
    let sleep: i32 = run.expect_prefix("").parse().unwrap();
    let said = panic_of(|| {
        run.finish(Duration::from_millis(500));
    });
    assert!(said.contains("exited, its output still open"), "{said}");
    assert_gone(sleep, "the child holding stdout");
}
