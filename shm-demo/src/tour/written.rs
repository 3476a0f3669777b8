//! Step 4 of the tour: another process (`shm-demo write`, TLPI's pshm_write) opens the object
//! by name, stores a reading and exits; the tour's own mapping shows it without re-opening
//! anything, because both processes mapped the same physical page. That is also why Rust
//! makes mapping a file `unsafe` (memmap2's `map_mut` is an `unsafe fn`): bytes that this
//! process holds a reference to change without any store of its own.

use std::sync::atomic::Ordering;

use plumbing::tour::heading;
use plumbing::verdict::{self, Verdict, judge};
use plumbing::{Result, stop};
use shm_demo::SensorReading;
use shm_demo::tour_object::TourObject;

use super::{OBJ, quoted, run_role};

/// Step 4: another process writes a reading and exits; our own mapping sees it.
pub fn run(tour: &TourObject) -> Result {
    let name = tour.name();
    let before = tour.object().access(reading)?;
    let line = quietly(tour)?;
    let after = tour.object().access(reading)?;
    let temp = after.0;
    heading(
        4,
        &format!("another process ran `shm-demo write {OBJ} --temp 42` and exited:"),
    );
    println!("   \"{}\"", quoted(&line, name));
    println!("   the tour's own mapping from step 3 shows temperature: {temp} too, without");
    println!("   re-opening anything: both processes mapped the same physical page");
    let (v, because) = unsafe_claim(before, after);
    verdict::record("Rust needs `unsafe` to map shared memory", v, because);
    stop::check()?;
    Ok(())
}

/// The temperature and the update count in the object, as our mapping shows them now.
fn reading(r: &SensorReading) -> (i32, u64) {
    (
        r.temp.load(Ordering::Acquire),
        r.updates.load(Ordering::Acquire),
    )
}

/// The lecture: Rust needs `unsafe` for a mapping, because another process can change it
/// behind the compiler's back (that `map_mut` is an `unsafe fn` is as documented; what this
/// run can see is the reason). `before` and `after` are (temperature, updates) in our
/// mapping around the other process's run: it holds when they changed, for this process
/// stored nothing in between.
pub fn unsafe_claim(before: (i32, u64), after: (i32, u64)) -> (Verdict, String) {
    let changed = after.1 != before.1;
    let (temp, update) = after;
    let because = match changed {
        true => format!(
            "our mapping changed under us to temperature: {temp} (update #{update}), \
             stored by another process; map_mut is unsafe (as documented)"
        ),
        false => format!(
            "our mapping still showed update #{update} after another process wrote; \
             map_mut is unsafe (as documented)"
        ),
    };
    (judge(changed, false), because)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reading_that_changed_without_our_store_confirms_the_need_for_unsafe() {
        let (v, because) = unsafe_claim((0, 0), (42, 1));
        assert_eq!(v, Verdict::Confirmed);
        assert_eq!(
            because,
            "our mapping changed under us to temperature: 42 (update #1), stored by another \
             process; map_mut is unsafe (as documented)"
        );
        let (v, because) = unsafe_claim((0, 0), (0, 0));
        assert_eq!(v, Verdict::Refuted);
        assert!(
            because.starts_with("our mapping still showed update #0"),
            "{because}"
        );
    }
}
