//! Step 5 of the tour: the writer of step 4 has exited, the object has not; yet another
//! process (`shm-demo read`, TLPI's pshm_read) opens it by name and reads the reading.

use plumbing::{Result, stop};
use shm_demo::tour_object::TourObject;

use super::{OBJ, dev_shm, quoted, run_role};

/// Step 5: the writer is gone, the object is not; yet another process reads it.
pub fn run(tour: &TourObject) -> Result {
    let name = tour.name();
    let (ok, line) = run_role(&["read", name])?;
    if !ok {
        return Err(format!("`shm-demo read {name}` failed: {line}").into());
    }
    let (size, _) = dev_shm(name)?;
    println!("5. the writer has exited; the object is still in /dev/shm ({size} bytes), and");
    println!("   another process ran `shm-demo read {OBJ}`:");
    println!("   \"{}\"", quoted(&line, name));
    stop::check()?;
    Ok(())
}
