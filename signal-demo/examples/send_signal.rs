//! Sending a signal: kill(2) takes a pid and a number, and that is the whole message.
//!
//! Lecture: "Why Signals Still Exist" (the receiver need not opt in) and "Who Actually
//! Delivers the Signal?" (the sender's own syscall sets a bit in the target's pending set).
//!
//! Run, terminal 1:
//!     cargo run -p signal-demo --example catch_signals
//! Terminal 2, with the pid that terminal 1 printed (a name, with or without SIG, or a number):
//!     cargo run -p signal-demo --example send_signal PID USR1
//!     cargo run -p signal-demo --example send_signal PID 10
//!     cargo run -p signal-demo --example send_signal PID 0
//!     cargo run -p signal-demo --example send_signal PID TERM
//!
//! You will see `sent SIGUSR1 (10) to pid PID` here and `caught SIGUSR1` there. Signal 0
//! sends nothing and only checks that the pid exists and is yours. A pid that does not
//! exist (ESRCH), another user's process (EPERM) or an unknown name gives one error line
//! and exit status 1.
//!
//! To use it alone: `cargo new send_signal`, put this file in src/main.rs, add these
//! lines under [dependencies] in Cargo.toml, then `cargo run -- PID USR1` in terminal 2,
//! once catch_signals' own project runs `cargo run` in terminal 1:
//! ```toml
//! [dependencies]
//! nix = { version = "0.32", features = ["signal"] }
//! ```

use std::error::Error;
use std::io::{Write, stdout};
use std::str::FromStr;

use nix::errno::Errno;
use nix::sys::signal::{SigHandler, Signal, kill, signal};
use nix::unistd::Pid;

const USAGE: &str = "usage: send_signal PID SIGNAL  (SIGNAL: USR1, SIGUSR1, 10 or 0)";

/// "USR1", "sigusr1", "SIGUSR1" or "10"; "0" is None: kill's existence check.
fn parse_signal(arg: &str) -> Result<Option<Signal>, String> {
    if let Ok(number) = arg.parse::<i32>() {
        if number == 0 {
            return Ok(None);
        }
        return Signal::try_from(number)
            .map(Some)
            .map_err(|_| format!("unknown signal number {number} (kill -l lists them)"));
    }
    let upper = arg.to_ascii_uppercase();
    let name = if upper.starts_with("SIG") {
        upper
    } else {
        format!("SIG{upper}")
    };
    Signal::from_str(&name)
        .map(Some)
        .map_err(|_| format!("unknown signal name '{arg}' (kill -l lists them)"))
}

fn main() -> Result<(), Box<dyn Error>> {
    // SAFETY: SIG_DFL installs no handler. Rust ignores SIGPIPE; by default a closed
    // stdout (`| head -1`) ends us quietly, as it ends a C program.
    unsafe { signal(Signal::SIGPIPE, SigHandler::SigDfl) }?;
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [pid, signal] = args.as_slice() else {
        return Err(USAGE.into());
    };
    let pid: i32 = pid
        .parse()
        .map_err(|_| format!("'{pid}' is not a pid; {USAGE}"))?;
    // kill(2) reads 0 as "my process group" and -1 as "every process I may signal":
    // never what a typo should do, so only single processes are accepted here.
    if pid <= 0 {
        return Err(format!("pid must be positive, got {pid}; {USAGE}").into());
    }
    let signal = parse_signal(signal)?;
    let label = signal.map_or("signal 0", Signal::as_str);

    // The syscall runs on our time slice: the kernel finds the target, checks that we
    // may signal it (same user, or root), sets the bit and returns. The target acts on
    // it later, on its own next return to user space.
    kill(Pid::from_raw(pid), signal).map_err(|e| {
        let why = match e {
            Errno::ESRCH => "no such process (it has exited, or a wrong pid)",
            Errno::EPERM => "not permitted: the process belongs to another user",
            other => other.desc(),
        };
        format!("kill {pid} {label}: {why}")
    })?;

    let report = match signal {
        Some(s) => format!("sent {label} ({}) to pid {pid}", s as i32),
        None => format!("pid {pid} exists and may be signalled by you (nothing sent)"),
    };
    writeln!(stdout(), "{report}").map_err(|e| format!("write stdout: {e}").into())
}
