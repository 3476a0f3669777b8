//! Step 3, persistence: each operation on the queue is a separate run of this program that
//! exits, so the only thing linking them is the queue's name. The operations themselves, the
//! subcommands `create`, `send`, `receive`, `attr` and `unlink`, are roles, one file each
//! (TLPI's pmsg_create, pmsg_send, ...).

use std::time::Duration;

use nix::mqueue::mq_unlink;
use plumbing::{Result, child, stop};

pub fn run(name: &str) -> Result {
    stop::check()?; // a stop signal during the step before ends the tour here
    println!("\nStep 3. Persistence: each operation is a separate mq-demo process that exits;");
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
    for (i, args) in runs.iter().enumerate() {
        stop::check()?; // (returning drops `_guard`, which removes the name)
        println!("  $ mq-demo {}", shown(args, name));
        // The operations never block, so they end in milliseconds.
        let (ok, output) = child::run_this(args, Duration::from_secs(10))?;
        for line in output.lines() {
            print_wrapped(&line.replace(name, "$Q"), "      ", "        ");
        }
        expect_outcome(args, name, i == runs.len() - 1, ok, &output)?;
    }
    println!(
        "  observed: {} processes came and went; the messages waited in the kernel",
        runs.len()
    );
    println!("  until `receive`, and after `unlink` the name is gone");
    Ok(())
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
