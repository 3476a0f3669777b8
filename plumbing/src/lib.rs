//! The plumbing every ipc-tour program repeats, written and tested once.
//!
//! The demos and `compare` use it; the examples never do (a reader copies an example alone).
//!
//! | module | what it holds |
//! |---|---|
//! | [`program`] | `main` for a tour: one-line usage errors, a closed stdout that ends quietly, exit statuses |
//! | [`stop`] | every terminating signal a program does not use itself as a flag that loops check, so owners clean up |
//! | [`child`] | the one fork of the house: children that die with their parent, end with a typed reason and are always reaped; this binary run again in a role |
//! | [`design`] | the lecture's design-space row, typed: what every demo exports for `compare` |
//! | [`fdpass`] | an open descriptor passed over a Unix socket (SCM_RIGHTS): send one, receive exactly one |
//! | [`names`] | names unique per run, the sweep of names a killed run left, private directories |
//! | [`cpu`] | which CPUs we may use, and pinning to one |
//! | [`procfs`] | what `/proc` says about a process: its state, where it sleeps, its signal masks |
//! | [`socket_file`] | the owner of a socket file, which unlinks it |
//! | [`stats`] | percentiles by sorting |
//! | [`two_way`] | one side of a two-way channel made of two one-way ones (pipes, FIFOs) |
//! | [`tour`] | a step's heading and a measured duration, printed the same way in every tour |
//! | [`verdict`] | the lecture's claims, each CONFIRMED, QUALIFIED or REFUTED by this run's numbers |

pub mod child;
pub mod cpu;
pub mod design;
pub mod fdpass;
pub mod names;
pub mod procfs;
pub mod program;
pub mod socket_file;
pub mod stats;
pub mod stop;
pub mod tour;
pub mod two_way;
pub mod verdict;

/// The error type of the tours: any error, with the failing call in its message.
pub type Error = Box<dyn std::error::Error>;

/// `Result<T>` with [`Error`]; `Result` alone is `Result<(), Error>`.
pub type Result<T = (), E = Error> = std::result::Result<T, E>;
