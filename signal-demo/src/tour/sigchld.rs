//! Step 4: SIGCHLD — the kernel tells a parent that a child changed state; the parent reaps it.

use std::mem::MaybeUninit;
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::sys::signal::{SigSet, Signal};
use nix::sys::wait::{WaitPidFlag, waitpid};
use plumbing::child::describe;
use plumbing::{Result, stop};

use crate::roles;

pub fn run(step: u32) -> Result {
    println!("\nStep {step}: SIGCHLD — told when a child ends, then reap it (no zombies)");
    // Block SIGCHLD so it stays pending until sigtimedwait takes it (no handler needed), and
    // drop any left over from earlier steps' children, which were reaped already.
    let mut chld = SigSet::empty();
    chld.add(Signal::SIGCHLD);
    chld.thread_block()
        .map_err(|e| format!("pthread_sigmask(SIGCHLD): {e}"))?;
    while sigtimedwait(&chld, Duration::ZERO)?.is_some() {}

    let mut children = [
        roles::start("exit", &["--code", "0"])?,
        roles::start("exit", &["--code", "3"])?,
        roles::start("sleeper", &[])?,
    ];
    println!(
        "  started {}, {}, {}: exit 0, exit 3, wait to be killed",
        children[0].pid(),
        children[1].pid(),
        children[2].pid()
    );
    children[2].signal(Signal::SIGTERM)?;
    println!("  kill({}, SIGTERM)", children[2].pid());

    let (mut notices, mut reaped) = (0, 0);
    let end = Instant::now() + Duration::from_secs(5);
    while reaped < children.len() {
        let info = next_sigchld(&chld, end)?;
        notices += 1;
        println!("  SIGCHLD #{notices}: siginfo says {}", explain(&info));
        // One SIGCHLD may stand for several children (it is a standard signal: it coalesces),
        // so poll every unreaped child, not just the one named in siginfo.
        for child in children.iter_mut().filter(|child| !child.is_reaped()) {
            if let Some(status) = child.try_wait(WaitPidFlag::empty())? {
                reaped += 1;
                println!("    reaped {}, which {}", child.pid(), describe(status));
            }
        }
    }
    chld.thread_unblock()
        .map_err(|e| format!("pthread_sigmask(SIGCHLD): {e}"))?;

    let gone = children
        .iter()
        .filter(|child| waitpid(child.pid(), Some(WaitPidFlag::WNOHANG)) == Err(Errno::ECHILD))
        .count();
    println!(
        "  {notices} SIGCHLD for {} children; reaped {reaped}",
        children.len()
    );
    println!("  waitpid now says ECHILD for {gone} of them: no zombie left");
    Ok(())
}

/// The next SIGCHLD with its siginfo, taken by sigtimedwait. Waits 100 ms at a time to notice
/// Ctrl-C, and gives up at `end`: a child that never ends must not hang the tour.
fn next_sigchld(chld: &SigSet, end: Instant) -> Result<libc::siginfo_t> {
    loop {
        stop::check()?;
        if Instant::now() > end {
            return Err("no SIGCHLD for 5 s while children were still running".into());
        }
        if let Some(info) = sigtimedwait(chld, Duration::from_millis(100))? {
            return Ok(info);
        }
    }
}

/// sigtimedwait(2) (nix does not wrap it): takes one signal of `set` — which must be blocked —
/// with its details, or None after `timeout` or when a handled signal (Ctrl-C) interrupts.
fn sigtimedwait(set: &SigSet, timeout: Duration) -> Result<Option<libc::siginfo_t>> {
    let limit = libc::timespec {
        tv_sec: libc::time_t::try_from(timeout.as_secs())?,
        tv_nsec: libc::c_long::from(timeout.subsec_nanos()),
    };
    let mut info = MaybeUninit::<libc::siginfo_t>::uninit();
    // SAFETY: `set` and `limit` are initialised; the kernel fills `info` when it returns a signal.
    let rc = unsafe { libc::sigtimedwait(set.as_ref(), info.as_mut_ptr(), &limit) };
    match Errno::result(rc) {
        // SAFETY: a signal number was returned, so the kernel wrote the whole siginfo_t.
        Ok(_) => Ok(Some(unsafe { info.assume_init() })),
        Err(Errno::EAGAIN | Errno::EINTR) => Ok(None),
        Err(e) => Err(format!("sigtimedwait: {e}").into()),
    }
}

/// What a SIGCHLD's siginfo says, read before any waitpid.
fn explain(info: &libc::siginfo_t) -> String {
    // SAFETY: for SIGCHLD the kernel fills the si_pid / si_status fields of the union.
    let (pid, status) = unsafe { (info.si_pid(), info.si_status()) };
    match info.si_code {
        libc::CLD_EXITED => format!("child {pid} exited, status {status}"),
        libc::CLD_KILLED | libc::CLD_DUMPED => format!("child {pid} killed by signal {status}"),
        code => format!("child {pid}, si_code {code}"),
    }
}
