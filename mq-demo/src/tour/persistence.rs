//! Step 3, persistence: each operation on the queue is a separate run of this program that
//! exits, so the only thing linking them is the queue's name. The operations themselves, the
//! subcommands `create`, `send`, `receive`, `attr` and `unlink`, are roles, one file each
//! (TLPI's pmsg_create, pmsg_send, ...).

use std::time::Duration;

use nix::mqueue::{MQ_OFlag, mq_close, mq_open, mq_unlink};
use nix::sys::stat::Mode;
use nix::unistd::Pid;
use plumbing::tour::heading;
use plumbing::verdict::{self, Verdict, judge};
use plumbing::{Result, child, stop};

use super::{found_or, in_new_ipc_namespace};

pub fn run(name: &str) -> Result {
    stop::check()?; // a stop signal during the step before ends the tour here
    heading(
        3,
        "Persistence: each operation is a separate mq-demo process that exits;",
    );
    println!("  only the queue's name links them. The name, called $Q below:");
    println!("    {name}");
    let _guard = NameGuard(name); // an interrupted tour must not leave the queue behind
    let runs: [&[&str]; 7] = [
        &["create", name],
        &["send", name, "temperature: 42", "temperature: 43"],
        &["send", name, "--priority", "5", "alert: temperature: 99"],
        &["attr", name],
        &["receive", name],
        &["unlink", name],
        &["attr", name],
    ];
    let mut seen = Seen::default();
    let mut elsewhere = Err("not tried".to_string());
    for (i, args) in runs.iter().enumerate() {
        stop::check()?; // (returning drops `_guard`, which removes the name)
        if args[0] == "receive" {
            // While the queue exists: what a process in another IPC namespace finds.
            elsewhere = in_new_ipc_namespace(|| {
                let opened = mq_open(name, MQ_OFlag::O_RDONLY, Mode::empty(), None);
                found_or(opened.and_then(mq_close))
            })?;
        }
        println!("  $ mq-demo {}", shown(args, name));
        // The operations never block, so they end in milliseconds.
        let (ok, output) = child::run_this(args, Duration::from_secs(10))?;
        for line in output.lines() {
            print_wrapped(&line.replace(name, "$Q"), "      ", "        ");
        }
        expect_outcome(args, name, i == runs.len() - 1, ok, &output)?;
        seen.note(args[0], &output);
    }
    println!(
        "  observed: {} processes came and went; the messages waited in the kernel",
        runs.len()
    );
    println!("  until `receive`, and after `unlink` the name is gone");
    print_elsewhere(&elsewhere);
    let (v, because) = persistence_claim(&seen);
    verdict::record("the queue persists while both sides are absent", v, because);
    let by_name = runs.len() - 2; // all but `create`, which made it, and the last `attr`
    let (v, because) = naming_claim(by_name, elsewhere.as_ref().map(|(_, found)| found.as_str()));
    verdict::record("named by a system-wide name", v, because);
    Ok(())
}

/// What the one-operation processes printed, counted.
#[derive(Default)]
pub struct Seen {
    /// messages `send` processes sent, and those processes
    pub sent: usize,
    pub senders: usize,
    /// curmsgs as `attr` printed it
    pub waiting: Option<u64>,
    /// messages `receive` took
    pub received: usize,
}

impl Seen {
    fn note(&mut self, operation: &str, output: &str) {
        let count = |start: &str| output.lines().filter(|l| l.starts_with(start)).count();
        match operation {
            "send" => {
                self.senders += 1;
                self.sent += count("sent prio ");
            }
            "attr" if self.waiting.is_none() => {
                let after = output.split("curmsgs ").nth(1).unwrap_or_default();
                let digits: String = after.chars().take_while(char::is_ascii_digit).collect();
                self.waiting = digits.parse().ok();
            }
            "receive" => self.received += count("received prio "),
            _ => {}
        }
    }
}

/// The lecture: the queue persists even when the sender and the receiver are absent. Holds
/// when what the `send` processes sent, after they had exited, was all waiting for the
/// `attr` process and then taken by the `receive` process.
pub fn persistence_claim(seen: &Seen) -> (Verdict, String) {
    let waiting = seen.waiting.map_or("no".into(), |n| n.to_string());
    let because = format!(
        "{} messages from {} send processes, gone by then: attr saw curmsgs {waiting}, \
         receive took {}",
        seen.sent, seen.senders, seen.received
    );
    let holds =
        seen.sent > 0 && seen.waiting == Some(seen.sent as u64) && seen.received == seen.sent;
    (judge(holds, false), because)
}

/// The lecture: a queue has a system-wide name (or key). Holds when `by_name` processes
/// opened it by its name alone; qualified when a process in a new IPC namespace did not find
/// it (`elsewhere`): system-wide means within one IPC namespace. Not tried (`Err`, with why)
/// earns no qualification.
pub fn naming_claim(
    by_name: usize,
    elsewhere: std::result::Result<&str, &String>,
) -> (Verdict, String) {
    let mut because = format!("{by_name} processes opened it by name");
    because += &match elsewhere {
        Ok(found) => format!("; from a new IPC namespace: {found}"),
        Err(why) => format!("; another IPC namespace not tried ({why})"),
    };
    let hidden = matches!(elsewhere, Ok(found) if found != "found");
    (judge(by_name > 0, hidden), because)
}

/// The namespace probe's line: what a child in a new IPC namespace found, or why it could
/// not make one.
fn print_elsewhere(elsewhere: &std::result::Result<(Pid, String), String>) {
    match elsewhere {
        Ok((pid, found)) => {
            println!("  a child (pid {pid}) in a new IPC namespace (unshare), while $Q existed:");
            let scope = match found.as_str() {
                "ENOENT" => ": a name is system-wide within one IPC namespace",
                _ => "",
            };
            println!("    mq_open $Q -> {found}{scope}");
        }
        Err(why) => println!("  a new IPC namespace was not tried: {why}"),
    }
}

/// The command line as a reader would type it: the queue's name as $Q, and an argument with
/// spaces in quotes.
fn shown(args: &[&str], name: &str) -> String {
    let quoted: Vec<String> = args
        .iter()
        .map(|a| {
            if a.contains(' ') {
                format!("{a:?}")
            } else if *a == name {
                "$Q".to_string()
            } else {
                a.to_string()
            }
        })
        .collect();
    quoted.join(" ")
}

/// Every run succeeds but the `last`, the final `attr`, which must fail with ENOENT: the name
/// is gone. (Failing another way, killed by a signal or the 10 s limit, proves nothing.)
fn expect_outcome(args: &[&str], name: &str, last: bool, ok: bool, output: &str) -> Result {
    let gone = !ok && output.contains(&format!("mq_open {name}: ENOENT"));
    if (last && !gone) || (!last && !ok) {
        let what = match (last, ok) {
            (true, true) => "succeeded after unlink",
            (true, false) => "failed, but not with ENOENT",
            (false, _) => "failed",
        };
        return Err(format!("`mq-demo {}` {what}", args.join(" ")).into());
    }
    Ok(())
}

/// Removes a queue name on drop if it still exists: the step's queue is created by a child
/// process, and an interrupted tour must not leave it behind.
struct NameGuard<'a>(&'a str);

impl Drop for NameGuard<'_> {
    fn drop(&mut self) {
        let _ = mq_unlink(self.0); // ENOENT when `mq-demo unlink` already removed it
    }
}

/// Prints `text` in lines of at most 80 characters, broken at spaces but never inside
/// `backquotes` (a command to copy): the first line after `first`, the others after `rest`.
fn print_wrapped(text: &str, first: &str, rest: &str) {
    let mut line = first.to_string();
    let mut empty = true;
    for word in words_outside_backquotes(text) {
        let fits = line.chars().count() + 1 + word.chars().count() <= 80;
        if !empty && !fits {
            println!("{line}");
            line = rest.to_string();
            empty = true;
        }
        if !empty {
            line.push(' ');
        }
        line.push_str(&word);
        empty = false;
    }
    println!("{line}");
}

/// `text` split at its spaces, except those between a pair of backquotes.
fn words_outside_backquotes(text: &str) -> Vec<String> {
    let mut words: Vec<String> = Vec::new();
    let mut quoted = false; // the last word opened a backquote it has not closed
    for piece in text.split(' ') {
        match words.last_mut() {
            Some(word) if quoted => {
                word.push(' ');
                word.push_str(piece);
            }
            _ => words.push(piece.to_string()),
        }
        if piece.matches('`').count() % 2 == 1 {
            quoted = !quoted;
        }
    }
    words
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seen(sent: usize, waiting: Option<u64>, received: usize) -> Seen {
        Seen {
            sent,
            senders: 2,
            waiting,
            received,
        }
    }

    #[test]
    fn messages_waiting_for_the_later_processes_confirm_persistence() {
        let (v, because) = persistence_claim(&seen(3, Some(3), 3));
        assert_eq!(v, Verdict::Confirmed);
        assert_eq!(
            because,
            "3 messages from 2 send processes, gone by then: attr saw curmsgs 3, receive took 3"
        );
    }

    #[test]
    fn messages_lost_with_their_senders_refute_it() {
        assert_eq!(persistence_claim(&seen(3, Some(0), 0)).0, Verdict::Refuted);
        assert_eq!(persistence_claim(&seen(3, Some(3), 2)).0, Verdict::Refuted);
        let (v, because) = persistence_claim(&seen(3, None, 3));
        assert_eq!(v, Verdict::Refuted);
        assert!(because.contains("attr saw curmsgs no,"), "{because}");
    }

    #[test]
    fn a_name_another_namespace_cannot_see_qualifies_system_wide() {
        let (v, because) = naming_claim(5, Ok("ENOENT"));
        assert_eq!(v, Verdict::Qualified);
        assert_eq!(
            because,
            "5 processes opened it by name; from a new IPC namespace: ENOENT"
        );
        assert_eq!(naming_claim(5, Ok("found")).0, Verdict::Confirmed);
        assert_eq!(naming_claim(0, Ok("found")).0, Verdict::Refuted);
    }

    #[test]
    fn a_namespace_not_tried_earns_no_qualification() {
        let why = "unshare: EPERM".to_string();
        let (v, because) = naming_claim(5, Err(&why));
        assert_eq!(v, Verdict::Confirmed);
        assert!(because.ends_with("not tried (unshare: EPERM)"), "{because}");
    }
}
