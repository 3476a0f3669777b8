//! `fifo-demo make PATH`: mkfifo, then exit. The name stays after this process is gone, which
//! is step 6's lesson: the FIFO belongs to the filesystem, not to the process that made it.

use std::path::Path;

use plumbing::Result;

pub fn run(path: &Path, indent: &str) -> Result {
    fifo_demo::make_fifo(path)?;
    println!(
        "{indent}maker {}: made the FIFO, mode 0600; exiting",
        std::process::id()
    );
    Ok(())
}
