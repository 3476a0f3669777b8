//! What the README promises for every tour: any umask gives queues of mode 0600, another
//! user's queue is never swept, every stop signal (SIGHUP and SIGQUIT too) ends the run
//! cleanly, and an inherited signal state (SIGCHLD ignored, everything blocked) changes nothing.
#![cfg(target_os = "linux")]
#![allow(clippy::unwrap_used)]

mod common;

use std::os::fd::AsFd;
use std::process::Command;
use std::thread::sleep;
use std::time::{Duration, Instant};

use common::*;
use nix::mqueue::{MQ_OFlag, mq_close, mq_open, mq_unlink};
use nix::sys::stat::{Mode, fstat};
use testkit::{Exited, Running, text};

/// The mode bits of the queue `name`, seen through a descriptor (fstat).
fn queue_mode(name: &str) -> u32 {
    let mqd = mq_open(name, MQ_OFlag::O_RDONLY, Mode::empty(), None).unwrap();
    let mode = fstat(mqd.as_fd()).unwrap().st_mode & 0o777;
    mq_close(mqd).unwrap();
    mode
}

#[test]
fn restrictive_umasks_give_0600_queues_and_the_tour_works() {
    for umask in [0o277, 0o377, 0o777] {
        let q = format!("/mq-test-{}-umask{umask:o}", std::process::id());
        let mut create = command(&["create", &q], &unique_tag());
        testkit::with_umask(&mut create, umask);
        let out = testkit::output(&mut create, "mq-demo create");
        assert!(out.status.success(), "{}", text(&out.stderr));
        let mode = queue_mode(&q);
        mq_unlink(q.as_str()).unwrap();
        assert_eq!(mode, 0o600, "umask {umask:o}: mode {mode:o}");

        let tag = unique_tag();
        let mut tour = command(&[], &tag);
        testkit::with_umask(&mut tour, umask);
        let child = tour.spawn().unwrap();
        let pid = child.id();
        let out = output_of(child);
        let stdout = text(&out.stdout);
        assert!(
            out.status.success(),
            "umask {umask:o}: {stdout}\n{}",
            text(&out.stderr)
        );
        assert!(stdout.contains("perms 600"), "umask {umask:o}: {stdout}");
        assert_eq!(
            leftovers(pid, &stdout),
            Vec::<String>::new(),
            "umask {umask:o}"
        );
        assert_eq!(processes_with_tag(&tag), Vec::<String>::new());
    }
}

/// A queue that `nobody` created, with a name in the tour's pattern and a dead pid, survives
/// the tour's start-up sweep (run as root, which could remove it). Needs root, setpriv and
/// /dev/mqueue mounted (the sweep lists it); skipped otherwise.
#[test]
fn the_sweep_never_removes_a_queue_another_user_created() {
    if !nix::unistd::geteuid().is_root() || !mqueue_listable() {
        eprintln!("skipped: needs root (to act as nobody) and /dev/mqueue mounted");
        return;
    }
    let mut gone = Command::new("true").spawn().unwrap();
    gone.wait().unwrap(); // reaped: its pid names a run that was killed
    let theirs = format!("/ipc-tour-mq-{}-0badf00d", gone.id());
    // nobody runs a copy of the binary from a directory it can reach.
    let copy = testkit::NobodyCopy::of(BIN);
    let created = testkit::output(copy.command().args(["create", &theirs]), "setpriv");
    drop(copy);
    assert!(created.status.success(), "{}", text(&created.stderr));
    let owner = std::fs::metadata(format!("/dev/mqueue{theirs}"))
        .map(|m| std::os::unix::fs::MetadataExt::uid(&m))
        .unwrap();

    let out = run(&[]);
    let survived = queue_exists(&theirs);
    let _ = mq_unlink(theirs.as_str());
    let stdout = text(&out.stdout);
    assert_eq!(owner, 65534, "setpriv should have made nobody its owner");
    assert!(out.status.success(), "{stdout}\n{}", text(&out.stderr));
    assert!(survived, "the sweep removed nobody's {theirs}:\n{stdout}");
    assert!(!stdout.contains(&theirs), "{stdout}");
}

/// Starts the tour with `setup` in pre_exec, reads up to the line starting with `moment`,
/// sends `signal`, and checks the one closing line, the status and that nothing is left.
fn stop_mid_run(signal: i32, moment: &str, inherited: bool) {
    let tag = unique_tag();
    let mut cmd = command(&[], &tag);
    if inherited {
        inherit_hostile_signal_state(&mut cmd);
    }
    let mut tour = Running::start(&mut cmd);
    let pid = tour.id();
    tour.expect_prefix(moment);
    // SAFETY: kill takes two integers; the pid is our own unreaped child.
    assert_eq!(unsafe { libc::kill(pid as i32, signal) }, 0);
    let Exited {
        status,
        stdout,
        stderr,
        ..
    } = tour.finish(Duration::from_secs(2));
    let seen = stdout.join("\n");
    let name = nix::sys::signal::Signal::try_from(signal).unwrap().as_str();
    assert_eq!(status.code(), Some(128 + signal), "{name}: {stderr}");
    assert_eq!(
        stderr,
        format!("mq-demo: stopped by {name}; removed everything this run created\n")
    );
    assert_eq!(leftovers(pid, &seen), Vec::<String>::new(), "{name}");
    let deadline = Instant::now() + Duration::from_secs(2);
    while !processes_with_tag(&tag).is_empty() && Instant::now() < deadline {
        sleep(Duration::from_millis(10));
    }
    assert_eq!(processes_with_tag(&tag), Vec::<String>::new(), "{name}");
}

#[test]
fn sighup_and_sigquit_mid_run_end_the_tour_and_leave_nothing() {
    // Step 3 has a named queue at that moment; step 4 blocks in mq_timedsend.
    for moment in ["  $ mq-demo send", "  blocking descriptor: mq_timedsend"] {
        stop_mid_run(libc::SIGHUP, moment, false);
        stop_mid_run(libc::SIGQUIT, moment, false);
    }
}

/// What a careless parent may hand down across exec: SIGCHLD ignored (waitpid would then find
/// no child) and every signal blocked (Ctrl-C would not arrive).
fn inherit_hostile_signal_state(cmd: &mut Command) {
    testkit::start_carelessly(cmd);
}

#[test]
fn an_inherited_ignored_sigchld_and_blocked_mask_change_nothing() {
    let tag = unique_tag();
    let mut cmd = command(&[], &tag);
    inherit_hostile_signal_state(&mut cmd);
    let child = cmd.spawn().unwrap();
    let pid = child.id();
    let out = output_of(child);
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{stdout}\n{}", text(&out.stderr));
    // The forked worker and echo were waited for, and their output is all there.
    assert!(stdout.contains("coordinator: worker (pid"), "{stdout}");
    assert!(stdout.contains("exited 0"), "{stdout}");
    assert!(stdout.contains("0 bytes (EOF)"), "{stdout}");
    assert!(
        stdout.contains("\nNothing is left behind.\n\nThe lecture, checked on this machine\n"),
        "{stdout}"
    );
    assert_eq!(leftovers(pid, &stdout), Vec::<String>::new());
    // And a stop signal still gets through the inherited mask.
    stop_mid_run(libc::SIGTERM, "  $ mq-demo send", true);
}

/// The long-running role, `receive --wait`, ends on SIGHUP and SIGQUIT too. It created
/// nothing, so its closing line claims no removal; the queue it waited on stays.
#[test]
fn a_waiting_receive_ends_on_sighup_and_sigquit() {
    /// Removes the test's queue however the test ends.
    struct Unlink(String);
    impl Drop for Unlink {
        fn drop(&mut self) {
            let _ = mq_unlink(self.0.as_str());
        }
    }
    let q = format!("/mq-test-{}-hup", std::process::id());
    assert!(run(&["create", &q]).status.success());
    let _unlink = Unlink(q.clone());
    for signal in [libc::SIGHUP, libc::SIGQUIT] {
        let mut receive = start(&["receive", &q, "--wait", "30"], &unique_tag());
        receive.expect_prefix("waiting up to 30 s "); // the handlers are set
        // SAFETY: kill takes two integers; the pid is our own unreaped child.
        assert_eq!(unsafe { libc::kill(receive.id() as i32, signal) }, 0);
        let Exited { status, stderr, .. } = receive.finish(Duration::from_secs(2));
        let name = nix::sys::signal::Signal::try_from(signal).unwrap().as_str();
        assert_eq!(status.code(), Some(128 + signal), "{name}: {stderr}");
        assert_eq!(stderr, format!("mq-demo: stopped by {name}\n"));
    }
    assert!(queue_exists(&q), "the queue it waited on should stay");
}
