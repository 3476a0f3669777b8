//! Step 4 of the tour: another process (`shm-demo write`, TLPI's pshm_write) opens the object
//! by name, stores a reading and exits; the tour's own mapping shows it without re-opening
//! anything, because both processes mapped the same physical page.

use std::sync::atomic::Ordering;

use plumbing::{Result, stop};
use shm_demo::tour_object::TourObject;

use super::{OBJ, quoted, run_role};

/// Step 4: another process writes a reading and exits; our own mapping sees it.
pub fn run(tour: &TourObject) -> Result {
    let name = tour.name();
    let line = quietly(tour)?;
    let temp = tour.object().access(|r| r.temp.load(Ordering::Acquire))?;
    println!("4. another process ran `shm-demo write {OBJ} --temp 42` and exited:");
    println!("   \"{}\"", quoted(&line, name));
    println!("   the tour's own mapping from step 3 shows temperature: {temp} too, without");
    println!("   re-opening anything: both processes mapped the same physical page");
    stop::check()?;
    Ok(())
}

/// Runs `shm-demo write NAME --temp 42` and returns its line; for step 5 run alone, the
/// reading step 4 would have stored.
pub fn quietly(tour: &TourObject) -> Result<String> {
    let name = tour.name();
    let (ok, line) = run_role(&["write", name, "--temp", "42"])?;
    if !ok {
        return Err(format!("`shm-demo write {name}` failed: {line}").into());
    }
    Ok(line)
}
