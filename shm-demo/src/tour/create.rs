//! Step 3 of the tour: shm_open + fchmod + ftruncate + posix_fallocate + mmap make a named
//! object, mode 0600, that `ls -l /dev/shm` shows. Steps 4, 5 and 12 use the same object: it
//! outlives the processes that use it, until `shm_unlink` removes its name.

use plumbing::tour::heading;
use plumbing::{Result, stop};
use shm_demo::HEADER_LEN;
use shm_demo::tour_object::TourObject;

use super::{OBJ, dev_shm};

/// Step 3: create the object under a new name, as `ls -l /dev/shm` shows it.
pub fn run() -> Result<TourObject> {
    // shm_open(O_CREAT | O_EXCL, 0600), fchmod, ftruncate, posix_fallocate, mmap, header.
    let tour = TourObject::create()?;
    let name = tour.name();
    let (size, mode) = dev_shm(name)?;
    heading(
        3,
        "shm_open + fchmod + ftruncate + posix_fallocate + mmap made the object",
    );
    println!("   {name} (called {OBJ} below); /dev/shm shows it as");
    println!("   {size} bytes, mode {mode:04o} (a {HEADER_LEN}-byte header, then sensor_reading)");
    stop::check()?;
    Ok(tour)
}

/// For a later step run alone: the object step 3 would have made, without its lines.
pub fn quietly() -> Result<TourObject> {
    super::sweep_stale(); // left by a tour that was SIGKILLed
    Ok(TourObject::create()?)
}
