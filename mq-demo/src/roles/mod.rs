//! The by-hand subcommands, one operation on a named queue each, in one process that exits:
//! TLPI's pmsg_create, pmsg_send, pmsg_getattr, pmsg_receive and pmsg_unlink. Run in turn,
//! they show that a queue outlives every process that used it (step 3 runs them so):
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
//! Also here, hidden, a role for the tests: `sysv-pair-check`.
#![cfg(target_os = "linux")]

pub mod attr;
pub mod create;
pub mod receive;
pub mod send;
pub mod sysv_pair_check;
pub mod unlink;
