//! `child::fork_with` and `Child::reap`, through real forks. One test runs every case in turn:
//! a process must not fork while another test's thread may hold a lock the child would need.

use std::io::{Read, Write};
use std::os::fd::AsFd;
use std::time::{Duration, Instant};

use nix::sys::signal::{SigHandler, Signal, signal};
use nix::sys::wait::WaitStatus;
use nix::unistd::pipe;
use plumbing::child::{Child, ExitReason, Reaped, Start, fork_with};
use plumbing::stop;

const PLAIN: Start = Start {
    name: "test",
    close: &[],
    default_actions: &[],
    pin: None,
};

/// Reaps `child`, which should end by itself well within 5 s.
fn reaped(mut child: Child) -> Reaped {
    let reaped = child.reap(Duration::from_secs(5)).expect("reap");
    assert!(child.is_reaped());
    reaped
}

/// The reason `child` exited with, by its status.
fn reason(child: Child) -> Option<ExitReason> {
    match reaped(child) {
        Reaped {
            status: WaitStatus::Exited(_, code),
            killed: false,
        } => ExitReason::from_code(code),
        other => panic!("the child did not exit by itself: {other:?}"),
    }
}

#[test]
fn fork_with_and_reap() {
    the_reason_is_the_exit_status();
    each_process_holds_only_its_own_end();
    a_start_that_fails_is_a_setup_failure();
    the_default_actions_are_restored();
    a_child_that_will_not_end_is_killed_and_reaped();
    // Last: the stop flag cannot be cleared.
    a_stop_shortens_the_patience();
}

fn the_reason_is_the_exit_status() {
    let codes = [
        (ExitReason::Done, 0),
        (ExitReason::Mismatch, 10),
        (ExitReason::Io, 11),
        (ExitReason::Setup, 12),
        (ExitReason::PeerGone, 13),
        (ExitReason::Panic, 14),
    ];
    for (want, code) in codes {
        assert_eq!(want.code(), code);
        let (child, ()) = fork_with(&PLAIN, (), || want).expect("fork");
        assert_eq!(reason(child), Some(want));
    }
    assert_eq!(ExitReason::from_code(1), None);
    let (child, ()) = fork_with(&PLAIN, (), || panic!("on purpose")).expect("fork");
    assert_eq!(reason(child), Some(ExitReason::Panic));
    assert_eq!(
        ExitReason::Mismatch.to_string(),
        "the child received a corrupted message"
    );
}

/// The child reads to end-of-file, which it sees only if no copy of the write end is left
/// in it: dropped (`parents`) or closed (`close`). A kept copy would hang it, and the reap
/// would have to kill it.
fn each_process_holds_only_its_own_end() {
    let read_to_eof = |mut from: std::fs::File| {
        move || {
            let mut text = String::new();
            match from.read_to_string(&mut text) {
                Ok(_) if text == "hello" => ExitReason::Done,
                Ok(_) => ExitReason::Mismatch,
                Err(_) => ExitReason::Io,
            }
        }
    };
    // Dropped: the parent's end goes in as `parents` and comes back.
    let (r, w) = pipe().expect("pipe");
    let (child, w) = fork_with(&PLAIN, w, read_to_eof(r.into())).expect("fork");
    std::fs::File::from(w).write_all(b"hello").expect("write");
    assert_eq!(reason(child), Some(ExitReason::Done));
    // Closed: the parent keeps its end where it is.
    let (r, w) = pipe().expect("pipe");
    let start = Start {
        close: &[w.as_fd()],
        ..PLAIN
    };
    let (child, ()) = fork_with(&start, (), read_to_eof(r.into())).expect("fork");
    std::fs::File::from(w).write_all(b"hello").expect("write");
    assert_eq!(reason(child), Some(ExitReason::Done));
}

fn a_start_that_fails_is_a_setup_failure() {
    let start = Start {
        pin: Some(100_000),
        ..PLAIN
    };
    let (child, ()) = fork_with(&start, (), || ExitReason::Done).expect("fork");
    assert_eq!(reason(child), Some(ExitReason::Setup));
}

/// An ignored SIGUSR1 is inherited across fork; restored, it ends the child.
fn the_default_actions_are_restored() {
    // SAFETY: SIG_IGN and SIG_DFL run no code in this process.
    unsafe { signal(Signal::SIGUSR1, SigHandler::SigIgn) }.expect("ignore SIGUSR1");
    let raise = || {
        let _ = nix::sys::signal::raise(Signal::SIGUSR1);
        ExitReason::Done
    };
    let (child, ()) = fork_with(&PLAIN, (), raise).expect("fork");
    assert_eq!(
        reason(child),
        Some(ExitReason::Done),
        "ignored, as inherited"
    );
    let start = Start {
        default_actions: &[libc::SIGUSR1],
        ..PLAIN
    };
    let (child, ()) = fork_with(&start, (), raise).expect("fork");
    let status = reaped(child).status;
    assert!(
        matches!(status, WaitStatus::Signaled(_, Signal::SIGUSR1, _)),
        "{status:?}"
    );
    // SAFETY: as above.
    unsafe { signal(Signal::SIGUSR1, SigHandler::SigDfl) }.expect("restore SIGUSR1");
}

fn sleeper() -> Child {
    let (child, ()) = fork_with(&PLAIN, (), || {
        std::thread::sleep(Duration::from_secs(30));
        ExitReason::Done
    })
    .expect("fork");
    child
}

fn a_child_that_will_not_end_is_killed_and_reaped() {
    let mut child = sleeper();
    let started = Instant::now();
    let reaped = child.reap(Duration::from_millis(300)).expect("reap");
    let took = started.elapsed();
    assert!(reaped.killed);
    assert!(
        matches!(reaped.status, WaitStatus::Signaled(_, Signal::SIGKILL, _)),
        "{reaped:?}"
    );
    assert!(child.is_reaped());
    assert!(took >= Duration::from_millis(300) && took < Duration::from_secs(3));
    assert!(child.reap(Duration::ZERO).is_err(), "reaped twice");
}

fn a_stop_shortens_the_patience() {
    let mut child = sleeper();
    stop::request(libc::SIGTERM);
    let started = Instant::now();
    let reaped = child.reap(Duration::from_secs(20)).expect("reap");
    assert!(reaped.killed);
    assert!(started.elapsed() < Duration::from_secs(5), "{reaped:?}");
}
