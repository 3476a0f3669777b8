//! Removes the named shared memory object, the last step after shm_write and
//! shm_read (TLPI's pshm_unlink). Lecture: "Shared Memory: Zero-Copy, You Own
//! Coordination": the name lives in /dev/shm until someone removes it.
//!
//! Run:
//!   cargo run -p shm-demo --example shm_unlink [NAME]
//!
//! You will see `removed /sensor_data`, and `ls /dev/shm` no longer lists it.
//! Processes that still have it mapped keep their memory; the pages are
//! freed when the last mapping and descriptor go away.
//!
//! To use it alone: `cargo new shm_unlink`, put this file in src/main.rs, add
//! these lines under [dependencies] in Cargo.toml, then `cargo run`:
//! ```toml
//! [dependencies]
//! libc = "0.2"
//! nix = { version = "0.32", features = ["mman"] }
//! ```

use std::io::Write;

use nix::sys::mman::shm_unlink;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // SAFETY: before any thread exists. Rust ignores SIGPIPE; the default makes a closed
    // stdout (`| head -1`) end us quietly, as it would a C program.
    unsafe { libc::signal(libc::SIGPIPE, libc::SIG_DFL) };
    let name = std::env::args().nth(1).unwrap_or("/sensor_data".into());
    shm_unlink(name.as_str()).map_err(|e| format!("shm_unlink {name}: {e}"))?;
    writeln!(std::io::stdout(), "removed {name}")?;
    Ok(())
}
