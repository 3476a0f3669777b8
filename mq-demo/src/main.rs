//! mq-demo: POSIX message queues, run and observed. Mirrors the lecture's "Message Queues"
//! section: the kernel keeps each message whole, delivers the highest priority first, and keeps
//! a named queue alive after every process that used it has gone.
//!
//! The whole tour (a unique queue name per step, each removed before it ends):
//!
//!     cargo run -p mq-demo
//!
//! One step at a time: `dispatch` (coordinator and worker processes, Tasks by priority;
//! `--work-ms 200` makes the worker slow enough to watch), `boundaries` (pipe vs queue),
//! `persistence`, `flow` (full queue, O_NONBLOCK, timeouts), `limits`, `duplex` (both ways, and
//! noticing a dead peer, which a queue alone cannot), `mpsc` (the thread analog).
//!
//! Persistence by hand, one process per operation, TLPI style (pmsg_create, pmsg_send, ...):
//!
//!     cargo run -p mq-demo -- create /jobs
//!     cargo run -p mq-demo -- send /jobs "temperature: 42" "temperature: 43"
//!     cargo run -p mq-demo -- send /jobs --priority 5 "alert: temperature: 99"
//!     cargo run -p mq-demo -- attr /jobs
//!     cargo run -p mq-demo -- receive /jobs
//!     cargo run -p mq-demo -- unlink /jobs
//!
//! A receiver that waits, in two terminals (the same name, created afresh):
//!
//!     cargo run -p mq-demo -- create /jobs                    # terminal 1
//!     cargo run -p mq-demo -- receive /jobs --wait 60         # terminal 1: waits
//!     cargo run -p mq-demo -- send /jobs "temperature: 42"    # terminal 2: wakes it
//!     cargo run -p mq-demo -- unlink /jobs                    # either terminal
//!
//! Queues live in a virtual file system: to see /jobs there before `unlink`, mount it once as
//! root (`mount -t mqueue none /dev/mqueue`) and run `ls -l /dev/mqueue`.
//!
//! The queue code itself is in src/lib.rs (owner, limits, Task encoding); the steps are in
//! src/tour.rs. Linux only: see `main` below for other systems.

#[cfg(target_os = "linux")]
mod tour;

#[cfg(target_os = "linux")]
fn main() -> std::process::ExitCode {
    tour::main()
}

#[cfg(not(target_os = "linux"))]
fn main() -> std::process::ExitCode {
    eprintln!(
        "mq-demo: cannot run on {}: this demo needs Linux POSIX message queues (pollable queue \
         descriptors, /proc/sys/fs/mqueue limits)",
        std::env::consts::OS
    );
    std::process::ExitCode::FAILURE
}
