//! Step 4: SIGCHLD — the kernel tells a parent that a child changed state; the parent reaps it.

use std::mem::MaybeUninit;
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::sys::signal::{SigSet, Signal};
use nix::sys::wait::{WaitPidFlag, WaitStatus, waitpid};
use nix::unistd::Pid;
use plumbing::child::{Child, describe};
use plumbing::tour::heading;
use plumbing::verdict::{self, Verdict, judge};
use plumbing::{Result, procfs, stop};

use crate::roles;

pub fn run(step: u32) -> Result {
    heading(
        step,
        "SIGCHLD — told when a child ends, then reap it (no zombies)",
    );
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
    let sleeper = children[2].pid();
    let opted_in = sigterm_set_up(sleeper)?;
    if opted_in.is_empty() {
        println!("  child {sleeper} set up nothing for SIGTERM: not in SigCgt, SigIgn, SigBlk");
    } else {
        println!("  child {sleeper} has SIGTERM in {}", opted_in.join(", "));
    }
    children[2].signal(Signal::SIGTERM)?;
    println!("  kill({sleeper}, SIGTERM)");
    let Reaping {
        notices,
        named,
        statuses,
    } = reap_all(&mut children, &chld)?;
    chld.thread_unblock()
        .map_err(|e| format!("pthread_sigmask(SIGCHLD): {e}"))?;

    let gone = children
        .iter()
        .filter(|child| waitpid(child.pid(), Some(WaitPidFlag::WNOHANG)) == Err(Errno::ECHILD))
        .count();
    println!(
        "  {notices} SIGCHLD for {} children; reaped {}",
        children.len(),
        statuses.len()
    );
    println!("  waitpid now says ECHILD for {gone} of them: no zombie left");
    let killed = statuses.iter().any(|&(pid, status)| {
        pid == sleeper && matches!(status, WaitStatus::Signaled(_, Signal::SIGTERM, _))
    });
    let (v, because) = opt_in_claim(sleeper, &opted_in, killed);
    verdict::record("a signal works without the receiver opting in", v, because);
    let (v, because) = details_claim(notices, &named);
    verdict::record("a signal says what happened, not the details", v, because);
    Ok(())
}

/// What the SIGCHLD of step 4 said, and what waitpid then collected.
struct Reaping {
    notices: u32,
    /// What siginfo said, for each SIGCHLD that named one of our children.
    named: Vec<String>,
    statuses: Vec<(Pid, WaitStatus)>,
}

/// Takes SIGCHLD after SIGCHLD, saying what siginfo says, and reaps the children that have
/// ended after each, until all have been reaped.
fn reap_all(children: &mut [Child], chld: &SigSet) -> Result<Reaping> {
    let mut seen = Reaping {
        notices: 0,
        named: Vec::new(),
        statuses: Vec::new(),
    };
    let end = Instant::now() + Duration::from_secs(5);
    while seen.statuses.len() < children.len() {
        let info = next_sigchld(chld, end)?;
        seen.notices += 1;
        let (pid, said) = explain(&info);
        println!("  SIGCHLD #{}: siginfo says {said}", seen.notices);
        if children.iter().any(|child| child.pid().as_raw() == pid) {
            seen.named.push(said);
        }
        // One SIGCHLD may stand for several children (it is a standard signal: it coalesces),
        // so poll every unreaped child, not just the one named in siginfo.
        for child in children.iter_mut().filter(|child| !child.is_reaped()) {
            if let Some(status) = child.try_wait(WaitPidFlag::empty())? {
                println!("    reaped {}, which {}", child.pid(), describe(status));
                seen.statuses.push((child.pid(), status));
            }
        }
    }
    Ok(seen)
}

/// Where /proc/PID/status shows that `pid` prepared for SIGTERM: a handler (SigCgt), ignored
/// (SigIgn), or blocked (SigBlk). Empty: it set up nothing.
fn sigterm_set_up(pid: Pid) -> Result<Vec<&'static str>> {
    let bit = 1u64 << (Signal::SIGTERM as u32 - 1);
    let mut set_up = Vec::new();
    for field in ["SigCgt", "SigIgn", "SigBlk"] {
        let mask = procfs::status_field(pid.as_raw(), field)
            .map_err(|e| format!("read /proc/{pid}/status: {e}"))?;
        let mask = u64::from_str_radix(&mask, 16).map_err(|e| format!("{field} {mask:?}: {e}"))?;
        if mask & bit != 0 {
            set_up.push(field);
        }
    }
    Ok(set_up)
}

/// The lecture: a signal works on a process that set up nothing for it. Holds when the child
/// had SIGTERM in none of its masks (`opted_in` names those that held it) and SIGTERM's
/// default action ended it (`killed`).
pub fn opt_in_claim(pid: Pid, opted_in: &[&str], killed: bool) -> (Verdict, String) {
    let set_up = match opted_in {
        [] => "SIGTERM in none of SigCgt, SigIgn, SigBlk".to_string(),
        fields => format!("SIGTERM in {}", fields.join(", ")),
    };
    let ended = if killed {
        "killed by SIGTERM"
    } else {
        "not killed by SIGTERM"
    };
    let because = format!("child {pid}: {set_up}; {ended}");
    (judge(opted_in.is_empty() && killed, false), because)
}

/// The lecture: the signal tells the process what kind of event happened, not the details.
/// Holds when `notices` SIGCHLD arrived; qualified when their siginfo named our children and
/// how they ended (`named`, as printed): details, carried with the number.
pub fn details_claim(notices: u32, named: &[String]) -> (Verdict, String) {
    let mut because = format!("{notices} SIGCHLD");
    if !named.is_empty() {
        because += &format!("; siginfo said {}", named.join("; "));
    }
    (judge(notices > 0, !named.is_empty()), because)
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

/// The pid a SIGCHLD's siginfo names, and what it says, read before any waitpid.
fn explain(info: &libc::siginfo_t) -> (i32, String) {
    // SAFETY: for SIGCHLD the kernel fills the si_pid / si_status fields of the union.
    let (pid, status) = unsafe { (info.si_pid(), info.si_status()) };
    let said = match info.si_code {
        libc::CLD_EXITED => format!("child {pid} exited, status {status}"),
        libc::CLD_KILLED | libc::CLD_DUMPED => format!("child {pid} killed by signal {status}"),
        code => format!("child {pid}, si_code {code}"),
    };
    (pid, said)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_receiver_that_set_up_nothing_confirms_it() {
        let pid = Pid::from_raw(7397);
        let (v, because) = opt_in_claim(pid, &[], true);
        assert_eq!(v, Verdict::Confirmed);
        assert_eq!(
            because,
            "child 7397: SIGTERM in none of SigCgt, SigIgn, SigBlk; killed by SIGTERM"
        );
        let (v, because) = opt_in_claim(pid, &["SigCgt"], true);
        assert_eq!(v, Verdict::Refuted);
        assert_eq!(because, "child 7397: SIGTERM in SigCgt; killed by SIGTERM");
        assert_eq!(opt_in_claim(pid, &[], false).0, Verdict::Refuted);
    }

    #[test]
    fn siginfo_details_qualify_it() {
        let named = ["child 7 exited, status 0".to_string()];
        let (v, because) = details_claim(2, &named);
        assert_eq!(v, Verdict::Qualified);
        assert_eq!(because, "2 SIGCHLD; siginfo said child 7 exited, status 0");
        assert_eq!(
            details_claim(2, &[]),
            (Verdict::Confirmed, "2 SIGCHLD".into())
        );
        assert_eq!(details_claim(0, &[]).0, Verdict::Refuted);
    }
}
