//! The `fd-send` role, `uds-demo fd-send --unix PATH FILE`: opens FILE and passes the open
//! descriptor to an `fd-recv` server (step 4's sending half, `send_fd`). It owns nothing, so
//! it keeps the default action of every signal.

use std::fs::File;
use std::path::Path;

use plumbing::Result;
use uds_demo::socket_file::connect_unix;

use crate::tour::pass_fd::send_fd;

pub fn run(path: &Path, file: &Path) -> Result {
    let opened = File::open(file).map_err(|e| format!("open {}: {e}", file.display()))?;
    let text = send_fd(connect_unix(path)?, &opened)?;
    println!(
        "the receiver read {} bytes through the passed fd: {:?}",
        text.len(),
        String::from_utf8_lossy(&text)
    );
    Ok(())
}
