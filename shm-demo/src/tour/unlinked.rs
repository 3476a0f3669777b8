//! Step 12 of the tour: munmap, then shm_unlink. The name is gone from /dev/shm, and
//! `shm-demo read` says so; a process that still mapped it would keep its pages.

use std::fs;

use plumbing::Result;
use plumbing::tour::heading;
use plumbing::verdict::{self, Verdict, judge};
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
    heading(
        12,
        &format!("shm_unlink({OBJ}): {state} from /dev/shm; `shm-demo read {OBJ}` now says:"),
    );
    println!("   \"{error}\"");
    let (v, because) = unlink_claim(gone, error);
    verdict::record("an object stays until shm_unlink removes it", v, because);
    Ok(())
}

/// The lecture: an object persists until shm_unlink (or a reboot). `gone`: /dev/shm has no
/// entry after it; `error`: what `read` then said ("shm_open $OBJ: ENOENT: ..."). It holds
/// when the entry is gone and shm_open failed with ENOENT.
pub fn unlink_claim(gone: bool, error: &str) -> (Verdict, String) {
    let errno = error
        .split(": ")
        .nth(1)
        .filter(|_| error.starts_with("shm_open "))
        .unwrap_or("no error");
    let entry = if gone { "no entry" } else { "an entry still" };
    let because = format!("after it, /dev/shm has {entry}, and `read` got {errno}");
    (judge(gone && errno == "ENOENT", false), because)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_entry_and_enoent_after_shm_unlink_confirm_it() {
        let error = "shm_open $OBJ: ENOENT: No such file or directory";
        let (v, because) = unlink_claim(true, error);
        assert_eq!(v, Verdict::Confirmed);
        assert_eq!(
            because,
            "after it, /dev/shm has no entry, and `read` got ENOENT"
        );
        assert_eq!(unlink_claim(false, error).0, Verdict::Refuted);
        let read = "temperature: 42 (from $OBJ, update #1, written by pid 7)";
        let (v, because) = unlink_claim(true, read);
        assert_eq!(v, Verdict::Refuted);
        assert!(because.ends_with("`read` got no error"), "{because}");
    }
}
