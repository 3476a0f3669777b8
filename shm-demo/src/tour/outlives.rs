//! Step 5 of the tour: the writer of step 4 has exited, the object has not; yet another
//! process (`shm-demo read`, TLPI's pshm_read) opens it by name and reads the reading.

use plumbing::names::is_gone;
use plumbing::tour::heading;
use plumbing::verdict::{self, Verdict, judge};
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
    heading(
        5,
        &format!("the writer has exited; the object is still in /dev/shm ({size} bytes), and"),
    );
    println!("   another process ran `shm-demo read {OBJ}`:");
    println!("   \"{}\"", quoted(&line, name));
    // The writer's pid, as the object itself recorded it and `read` printed it.
    let writer = line
        .rsplit_once("written by pid ")
        .and_then(|(_, pid)| pid.trim_end_matches(')').parse::<i32>().ok());
    let writer = writer.map(|pid| (pid, is_gone(pid)));
    let (v, because) = outlives_claim(size, writer, &line);
    verdict::record("an object outlives the process that wrote it", v, because);
    stop::check()?;
    Ok(())
}

/// The lecture: a shm object persists after the processes that used it exit. `size` is what
/// /dev/shm shows after the writer exited, `writer` the writer's pid as `read` printed it and
/// whether that process is gone, `read` the reader's line. It holds when the writer is gone
/// and yet another process read its reading.
pub fn outlives_claim(size: u64, writer: Option<(i32, bool)>, read: &str) -> (Verdict, String) {
    let found = read
        .split(" (")
        .next()
        .filter(|r| r.starts_with("temperature: "));
    let (pid, gone) = match writer {
        Some((pid, gone)) => (pid.to_string(), gone),
        None => ("unknown".to_string(), false),
    };
    let alive = if gone {
        "has exited"
    } else {
        "is still running"
    };
    let because = match found {
        Some(reading) => format!(
            "its writer, pid {pid}, {alive}; /dev/shm still shows {size} bytes and \
             `read` found {reading}"
        ),
        None => format!("its writer, pid {pid}, {alive}; `read` found no reading"),
    };
    (judge(gone && found.is_some(), false), because)
}

#[cfg(test)]
mod tests {
    use super::*;

    const READ: &str = "temperature: 42 (from $OBJ, update #1, written by pid 7527)";

    #[test]
    fn a_reading_read_after_its_writer_exited_confirms_persistence() {
        let (v, because) = outlives_claim(32, Some((7527, true)), READ);
        assert_eq!(v, Verdict::Confirmed);
        assert_eq!(
            because,
            "its writer, pid 7527, has exited; /dev/shm still shows 32 bytes and `read` \
             found temperature: 42"
        );
        assert_eq!(
            outlives_claim(32, Some((7527, false)), READ).0,
            Verdict::Refuted
        );
        let empty = "$OBJ holds no reading yet (created, never written)";
        assert_eq!(
            outlives_claim(32, Some((7527, true)), empty).0,
            Verdict::Refuted
        );
        assert_eq!(outlives_claim(32, None, READ).0, Verdict::Refuted);
    }
}
