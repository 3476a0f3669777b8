//! Step 7: the FIFO's name lasts until it is removed; its owner, the private directory,
//! removes it with the directory, and stat(2) then finds nothing.

use std::fs;

use plumbing::tour::heading;

use super::mkfifo::MadeFifo;

pub fn run(made: MadeFifo) -> plumbing::Result {
    heading(7, "Removing the FIFO and its directory");
    let MadeFifo { dir, fifo, .. } = made;
    let dir_path = dir.path().to_path_buf();
    drop(dir); // the owner's Drop: rm -r the directory, and the FIFO in it
    match fs::metadata(&fifo) {
        Err(e) => {
            println!("   removed the directory {}", dir_path.display());
            println!("   stat of the FIFO now says: {e}");
        }
        Ok(_) => return Err(format!("{} still exists after removal", fifo.display()).into()),
    }
    Ok(())
}
