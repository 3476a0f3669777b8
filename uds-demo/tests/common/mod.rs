//! Helpers shared by the end-to-end tests: spawn the real binary, read what it prints.
#![allow(dead_code, clippy::unwrap_used)]

use std::path::Path;
use std::time::Duration;

// Some test files use them, as they do the rest of this module.
#[allow(unused_imports)]
pub use testkit::{Running, is_root};

pub const BIN: &str = env!("CARGO_BIN_EXE_uds-demo");

/// A private 0700 directory for one test; removed on drop.
pub type TestDir = testkit::TempDir;

/// A copy of the binary that uid 65534 can run (the checkout may sit in a directory that
/// user cannot enter); removed on drop.
pub fn binary_for_nobody() -> testkit::NobodyCopy {
    testkit::NobodyCopy::of(BIN)
}

/// `uds-demo ARGS`, waiting for its "listening on " line; returns it and the address after it.
pub fn server(args: &[&str]) -> (Running, String) {
    let mut r = Running::spawn(BIN, args);
    let line = r
        .wait_line("listening on ", Duration::from_secs(5))
        .expect("server did not start listening");
    let addr = line["listening on ".len()..]
        .split_whitespace()
        .next()
        .unwrap()
        .to_string();
    (r, addr)
}

/// Connects with a reply timeout so a broken server fails the test instead of hanging it.
pub fn connect(path: &Path) -> std::os::unix::net::UnixStream {
    let s = std::os::unix::net::UnixStream::connect(path).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    s
}
