//! Private directories get exactly mode 0700 whatever the umask. Its own test binary: the
//! umask is per process, and no other test may run while it is 0777.

use std::fs;
use std::os::unix::fs::PermissionsExt;

use nix::sys::stat::{Mode, umask};
use plumbing::names::PrivateDir;

#[test]
fn private_dirs_are_0700_under_any_umask() {
    for mask in [0o000, 0o077, 0o277, 0o777] {
        let old = umask(Mode::from_bits_truncate(mask));
        let dir = PrivateDir::create("ipc-tour-umasktest-");
        umask(old);
        let dir = dir.expect("mkdir");
        let mode = fs::metadata(dir.path()).expect("stat").permissions().mode() & 0o777;
        assert_eq!(mode, 0o700, "umask {mask:04o}");
    }
}
