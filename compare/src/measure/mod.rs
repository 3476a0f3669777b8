//! The measuring wing: it fills rows (`crate::row`) and never prints the report.
//!
//! Files, top down: `rounds.rs` runs every cell in rounds and gathers the rows, with
//! `progress.rs` saying how far it is and `plan.rs` how much each round does; `drive.rs` makes
//! one measurement of one cell: `mechanisms.rs` (the mechanism table: key -> each demo crate's
//! endpoints and design-space row) picks the kind, `bytes.rs` (ends that carry bytes),
//! `zero_copy.rs` (slots lent in shared memory) or `doorbell.rs` (signals), which makes the two
//! sides of the measurement (`sides.rs`) for its message size; `harness.rs` runs and times them
//! in a session (`session.rs`: fork, pin, reap), and `watchdog.rs` kills a child that hangs.
//! `pattern.rs` is the payload every message carries; `setups.rs` times how
//! a channel is made; `probes.rs` observes the design-space table's columns (once per
//! mechanism, before the timing); `machine.rs` probes what the run measures on.

pub mod bytes;
pub mod doorbell;
pub mod drive;
pub mod harness;
pub mod machine;
pub mod mechanisms;
pub mod pattern;
#[cfg(feature = "peers")]
pub mod peers;
pub mod plan;
pub mod probes;
pub mod progress;
pub mod rounds;
pub mod session;
pub mod setups;
pub mod sides;
pub mod watchdog;
pub mod zero_copy;

pub use plan::{count, plan};
pub use rounds::{all, failures};
