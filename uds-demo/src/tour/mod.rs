//! The tour's steps, in order, one file each, named after its subcommand; and the session
//! every run of the tour (or of one step) shares, [`session`].
//!
//! Signals: the tour owns its private directory (and step 8's namespaces). SIGINT, SIGTERM,
//! SIGHUP or SIGQUIT ends it, the owners remove what they made, and it exits 128 + the
//! signal's number. The servers it starts die with it; a tour killed by SIGKILL leaves its
//! directory (and namespaces) behind, and the next run removes them.

use std::hash::{BuildHasher, RandomState};
use std::path::Path;

use plumbing::names::PrivateDir;
use plumbing::stop::{self, Owns};
use uds_demo::address::NAME_PREFIX;

// 1. an echo server and client over a socket file
pub mod echo;
// 2. the same echo code over AF_INET: the line that differs, what each costs
pub mod inet;
// 3. stream versus datagram: message boundaries
pub mod boundaries;
// 4. passing an open file descriptor (SCM_RIGHTS)
pub mod pass_fd;
// 5. the abstract namespace (no file) and the peer's credentials
pub mod r#abstract;
// 6. length-prefixed frames against hostile clients
pub mod framing;
// 7. a socket file outlives its server
pub mod stale;
// 8. processes as nodes: two network namespaces (root), else loopback
pub mod nodes;

/// Runs `steps` in a private directory (mode 0700) after removing those killed runs left,
/// and removes it after: the tour's banner, its directory, and the line that ends it.
pub fn session(steps: impl FnOnce(&Path) -> plumbing::Result) -> plumbing::Result {
    stop::catch(Owns::Objects)?;
    println!("uds-demo: Unix domain sockets (lecture: \"Unix Domain Sockets\")");
    let swept = PrivateDir::sweep_stale(NAME_PREFIX).len();
    if swept > 0 {
        println!("removed {swept} private directories left by killed runs");
    }
    let dir = PrivateDir::create(NAME_PREFIX)?;
    let meta = std::fs::metadata(dir.path()).map_err(|e| format!("stat private dir: {e}"))?;
    let mode = std::os::unix::fs::PermissionsExt::mode(&meta.permissions()) & 0o777;
    println!(
        "private directory {} (mode {mode:04o}), DIR below",
        dir.path().display()
    );
    steps(dir.path())?;
    let path = dir.path().to_path_buf();
    drop(dir);
    println!(
        "\ndone: servers stopped and reaped; {} removed: {}",
        path.display(),
        !path.exists()
    );
    Ok(())
}

/// A sensor reading drawn for this run ("temperature: 23.17"), for the steps whose echo a
/// fake could otherwise print the same every time. std's `RandomState` is seeded from the
/// operating system's random source, so no two runs draw alike.
pub fn drawn_reading() -> String {
    let r = RandomState::new().hash_one(std::process::id());
    format!("temperature: {}.{:02}", 10 + r % 40, (r / 40) % 100)
}
