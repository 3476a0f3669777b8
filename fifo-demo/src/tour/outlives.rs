//! Step 6: a FIFO's name belongs to the filesystem, not to a process. One process makes it
//! and exits; the name stays (a FIFO of size 0), and two processes started afterwards, which
//! share nothing with the maker, meet through it. Then `rm` removes it, like any file.

use std::fs;
use std::path::Path;

use plumbing::tour::heading;

use super::describe::describe_path;
use super::mkfifo::MadeFifo;
use super::processes::StepProcesses;

pub fn run(made: &MadeFifo) -> plumbing::Result {
    heading(6, "The FIFO outlives the process that made it");
    let fifo = made.dir.path().join("handoff");
    let mut step = StepProcesses::new();
    let maker = step.start("maker", "make", &fifo, &[])?;
    step.wait_all()?;
    println!("   maker {maker} exited with status 0; its FIFO \"handoff\" is still there:");
    println!("   stat: {}", describe_path(&fifo)?);
    println!("   a reader and a writer started now meet through it:");
    let mut step = StepProcesses::new();
    step.start("reader", "read", &fifo, &[])?;
    step.start("writer", "write", &fifo, &["temperature: 42"])?;
    step.wait_all()?;
    remove(&fifo)
}

/// `rm handoff`: unlink(2) removes the name; stat then finds nothing.
fn remove(fifo: &Path) -> plumbing::Result {
    fs::remove_file(fifo).map_err(|e| format!("rm {}: {e}", fifo.display()))?;
    match fs::metadata(fifo) {
        Err(e) => println!("   rm handoff; stat now says: {e}"),
        Ok(_) => return Err(format!("{} still exists after rm", fifo.display()).into()),
    }
    Ok(())
}
