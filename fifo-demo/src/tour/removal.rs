//! Step 7: the FIFO's name lasts until it is removed; its owner, the private directory,
//! removes it with the directory, and stat(2) then finds nothing.

use std::fs;
use std::path::Path;

use fifo_demo::FifoDir;
use plumbing::tour::heading;

pub fn run(dir: FifoDir, fifo: &Path) -> plumbing::Result {
    heading(7, "Removing the FIFO and its directory");
    let dir_path = dir.path().to_path_buf();
    drop(dir);
    match fs::metadata(fifo) {
        Err(e) => {
            println!("   removed the directory {}", dir_path.display());
            println!("   stat of the FIFO now says: {e}");
        }
        Ok(_) => return Err(format!("{} still exists after removal", fifo.display()).into()),
    }
    Ok(())
}
