//! Step 12 of the tour: munmap, then shm_unlink. The name is gone from /dev/shm, and
//! `shm-demo read` says so; a process that still mapped it would keep its pages.

use std::fs;

use plumbing::Result;
use shm_demo::tour_object::TourObject;

use super::{OBJ, quoted, run_role};

/// Step 12: unmap and `shm_unlink`; the name is gone, and `read` says so.
pub fn run(tour: TourObject) -> Result {
    let name = tour.name().to_owned();
    drop(tour); // munmap, then shm_unlink
    let gone = fs::metadata(format!("/dev/shm{name}")).is_err();
    let (_, line) = run_role(&["read", &name])?;
    // The error's first clause; the rest is advice to create the object.
    let error = quoted(&line, &name);
    let error = error.split("; ").next().unwrap_or_default();
    let state = if gone { "gone" } else { "STILL PRESENT" };
    println!("12. shm_unlink({OBJ}): {state} from /dev/shm; `shm-demo read {OBJ}` now says:");
    println!("   \"{error}\"");
    Ok(())
}
