//! Step 3, persistence: each operation on the queue is a separate run of this program that
//! exits, so the only thing linking them is the queue's name. The operations themselves, the
//! subcommands `create`, `send`, `receive`, `attr` and `unlink`, are below the step, one
//! function each (TLPI's pmsg_create, pmsg_send, ...).
#![cfg(target_os = "linux")]

use std::os::fd::AsFd;
use std::time::{Duration, Instant};

use mq_demo::{Queue, msgsize_max};
use nix::errno::Errno;
use nix::mqueue::{MQ_OFlag, mq_unlink};
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use plumbing::{Result, child, stop};

/// Removes a queue name on drop if it still exists: the step's queue is created by a child
/// process, and an interrupted tour must not leave it behind.
struct NameGuard<'a>(&'a str);

impl Drop for NameGuard<'_> {
    fn drop(&mut self) {
        let _ = mq_unlink(self.0); // ENOENT when `mq-demo unlink` already removed it
    }
}

pub fn run(name: &str) -> Result {
    println!("\nStep 3. Persistence: each operation is a separate mq-demo process that exits;");
    println!("  only the queue's name links them. The name, called $Q below:");
    println!("    {name}");
    let _guard = NameGuard(name);
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
        println!("  $ mq-demo {}", quoted.join(" "));
        // The operations never block, so they end in milliseconds.
        let (ok, output) = child::run_this(args, Duration::from_secs(10))?;
        for line in output.lines() {
            print_wrapped(&line.replace(name, "$Q"), "      ", "        ");
        }
        let last = i == runs.len() - 1; // only the final `attr` should fail: the name is gone
        if ok == last {
            let what = if ok {
                "succeeded after unlink"
            } else {
                "failed"
            };
            return Err(format!("`mq-demo {}` {what}", args.join(" ")).into());
        }
    }
    println!(
        "  observed: {} processes came and went; the messages waited in the kernel",
        runs.len()
    );
    println!("  until `receive`, and after `unlink` the name is gone");
    Ok(())
}

/// Prints `text` in lines of at most 80 characters, broken at spaces: the first line after
/// `first`, the others after `rest`.
fn print_wrapped(text: &str, first: &str, rest: &str) {
    let mut line = first.to_string();
    let mut empty = true;
    for word in text.split(' ') {
        let fits = line.chars().count() + 1 + word.chars().count() <= 80;
        if !empty && !fits {
            println!("{line}");
            line = rest.to_string();
            empty = true;
        }
        if !empty {
            line.push(' ');
        }
        line.push_str(word);
        empty = false;
    }
    println!("{line}");
}

/// `mq-demo create NAME`: a queue that outlives this process.
pub fn create(name: &str, maxmsg: usize, msgsize: usize) -> Result {
    let queue = Queue::create(name, MQ_OFlag::O_RDWR, maxmsg, msgsize)?;
    println!(
        "created {name}: maxmsg {maxmsg}, msgsize {msgsize}, mode 0600; it stays until `mq-demo unlink {name}`"
    );
    queue.keep_name();
    Ok(())
}

/// `mq-demo send NAME MESSAGE...`: one message each, never blocking.
pub fn send(name: &str, messages: &[String], priority: u32) -> Result {
    let queue = Queue::open(name, MQ_OFlag::O_WRONLY | MQ_OFlag::O_NONBLOCK)?;
    for message in messages {
        if message.len() > queue.msgsize() {
            return Err(too_long(name, message.len(), queue.msgsize())?.into());
        }
        match queue.send(message.as_bytes(), priority) {
            Ok(()) => println!("sent prio {priority}, {} bytes: {message:?}", message.len()),
            Err(Errno::EAGAIN) => {
                let attr = queue.attr().map_err(|e| queue.error("mq_getattr", e))?;
                return Err(format!(
                    "mq_send {name}: EAGAIN: the queue is full ({} of {} messages); receive some first (mq-demo receive {name})",
                    attr.curmsgs(),
                    attr.maxmsg()
                )
                .into());
            }
            Err(e) => return Err(queue.error("mq_send", e).into()),
        }
    }
    Ok(())
}

/// Why a message of `len` bytes does not fit the queue, and what would make it fit.
fn too_long(name: &str, len: usize, msgsize: usize) -> Result<String> {
    // mq_msgsize is fixed when a queue is created, and no queue may exceed msgsize_max.
    let limit = msgsize_max()?;
    let fix = if len > limit {
        format!(
            "no queue may hold it: /proc/sys/fs/mqueue/msgsize_max is {limit} (raise it as root with sysctl fs.mqueue.msgsize_max={len}, then recreate the queue)"
        )
    } else {
        format!(
            "recreate the queue (its messages are lost): mq-demo unlink {name}, then mq-demo create {name} --msgsize {len}"
        )
    };
    Ok(format!(
        "message of {len} bytes exceeds the queue's mq_msgsize ({msgsize}); {fix}"
    ))
}

/// `mq-demo receive NAME [--wait S]`: every message waiting now, highest priority first.
pub fn receive(name: &str, wait: Duration) -> Result {
    let queue = Queue::open(name, MQ_OFlag::O_RDONLY | MQ_OFlag::O_NONBLOCK)?;
    if !wait.is_zero() {
        println!(
            "waiting up to {} s for a message on {name} (send one from another terminal)",
            wait.as_secs()
        );
        wait_for_a_message(&queue, wait)?;
    }
    let mut buf = vec![0; queue.msgsize()]; // must hold the largest message the queue allows
    let mut count = 0;
    loop {
        match queue.receive(&mut buf) {
            Ok((len, priority)) => {
                count += 1;
                println!(
                    "received prio {priority}, {len} bytes: {:?}",
                    String::from_utf8_lossy(&buf[..len])
                );
            }
            Err(Errno::EAGAIN) => break,
            Err(e) => return Err(queue.error("mq_receive", e).into()),
        }
    }
    if count == 0 && wait.is_zero() {
        println!("{name} is empty");
    } else if count == 0 {
        println!("waited {} s: no message came to {name}", wait.as_secs());
    }
    Ok(())
}

/// Waits at most `wait` for a message, in 100 ms slices so a stop signal is noticed: a queue
/// descriptor can be poll()ed.
fn wait_for_a_message(queue: &Queue, wait: Duration) -> Result {
    let until = Instant::now() + wait;
    while let Some(left) = until.checked_duration_since(Instant::now()) {
        stop::check()?;
        let slice = PollTimeout::try_from(left.min(Duration::from_millis(100)))
            .unwrap_or(PollTimeout::ZERO);
        let mut fds = [PollFd::new(queue.as_fd(), PollFlags::POLLIN)];
        match poll(&mut fds, slice) {
            Ok(0) | Err(Errno::EINTR) => {}
            Ok(_) => break,
            Err(e) => return Err(queue.error("poll", e).into()),
        }
    }
    Ok(())
}

/// `mq-demo attr NAME`: mq_getattr.
pub fn attr(name: &str) -> Result {
    let queue = Queue::open(name, MQ_OFlag::O_RDONLY)?;
    let attr = queue.attr().map_err(|e| queue.error("mq_getattr", e))?;
    println!(
        "{name}: maxmsg {}, msgsize {}, curmsgs {} (messages waiting now)",
        attr.maxmsg(),
        attr.msgsize(),
        attr.curmsgs()
    );
    Ok(())
}

/// `mq-demo unlink NAME`: mq_unlink removes the name, not the queue of whoever has it open.
pub fn unlink(name: &str) -> Result {
    mq_unlink(name).map_err(|e| format!("mq_unlink {name}: {e}"))?;
    println!("removed {name}; processes that still have it open keep using it");
    Ok(())
}
