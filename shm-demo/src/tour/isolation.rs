//! Step 1 of the tour (`shm-demo isolation`): the lecture's "Isolation Creates the
//! Need". After fork(), parent and child hold the same addresses, but not the same memory: a
//! child that writes its reading where its parent keeps `sensor_reading` changes only its own
//! copy (copy-on-write), in an ordinary variable and in a MAP_PRIVATE mapping alike. Only a
//! region mapped MAP_SHARED is one set of pages for both, so only there does the parent see
//! the child's value. Both readings are drawn anew every run (the lecture's 42 and 43 would be
//! the same in every run, and so in a step that only pretended to fork).

use std::hash::{BuildHasher, RandomState};
use std::ptr;
use std::sync::atomic::{AtomicI32, Ordering};
use std::time::{Duration, Instant};

use memmap2::MmapMut;
use plumbing::tour::heading;
use plumbing::verdict::{self, Verdict, judge};
use plumbing::{Result, child, stop};
use shm_demo::SharedMapping;

/// The three places, in the order they are printed.
const PLACES: [&str; 3] = [
    "ordinary variable",
    "MAP_PRIVATE mapping",
    "MAP_SHARED mapping",
];

/// Step 1: the parent's reading in three places, the child's written over it by a forked
/// child, and what the parent then reads.
pub fn run() -> Result {
    stop::check()?;
    let [parent_reading, child_reading] = readings();
    // Volatile accesses for the ordinary variable: the compiler must really load it after the
    // child has run, so the value printed below is what this process's memory holds, not a
    // constant folded in at build time.
    let mut sensor_reading: i32 = parent_reading;
    let variable: *mut i32 = &mut sensor_reading;
    let mut private = MmapMut::map_anon(size_of::<i32>()).map_err(|e| format!("mmap: {e}"))?;
    private.copy_from_slice(&parent_reading.to_ne_bytes());
    let shared = SharedMapping::new(size_of::<AtomicI32>()).map_err(|e| e.to_string())?;
    // SAFETY: the mapping is page aligned, zero filled and at least 4 bytes: a valid
    // AtomicI32. The child forked below shares it and stores to it atomically.
    let shared_reading = unsafe { &*shared.as_ptr().cast::<AtomicI32>() };
    shared_reading.store(parent_reading, Ordering::Relaxed);
    let addresses = [
        variable as usize,
        private.as_ptr() as usize,
        shared.as_ptr() as usize,
    ];

    heading(
        1,
        &format!("isolation: sensor_reading = {parent_reading} in a variable and two anonymous"),
    );
    println!(
        "   mappings; after fork() the child writes {child_reading} into each and reads back:"
    );
    let mut child = child::fork(|| {
        // SAFETY: `variable` points at the parent's local, of which this child has its own
        // copy; nothing else in this single-threaded child uses it meanwhile.
        unsafe { ptr::write_volatile(variable, child_reading) };
        private.copy_from_slice(&child_reading.to_ne_bytes());
        shared_reading.store(child_reading, Ordering::Release);
        // SAFETY: as above.
        let own = unsafe { ptr::read_volatile(variable) };
        let (private, shared) = (read_i32(&private), shared_reading.load(Ordering::Acquire));
        println!(
            "   child pid {}: {own}, {private} and {shared}; it exits",
            std::process::id()
        );
        Ok(())
    })?;
    child.wait_ok(Duration::from_secs(10))?;

    // SAFETY: the child has exited; this process's copy of the variable is ours alone.
    let ours = [
        unsafe { ptr::read_volatile(variable) },
        read_i32(&private),
        shared_reading.load(Ordering::Acquire),
    ];
    report(addresses, ours, [parent_reading, child_reading]);
    let (v, because) = shared_claim(ours, [parent_reading, child_reading]);
    verdict::record(
        "MAP_SHARED gives two processes one physical memory",
        v,
        because,
    );
    Ok(())
}

/// Two different readings for this run, the parent's (10 to 99) and the child's (100 to
/// 999): a fake that printed the lecture's 42 and 43 would print the same every run.
fn readings() -> [i32; 2] {
    let random = RandomState::new().hash_one((std::process::id(), Instant::now()));
    [
        10 + (random % 90) as i32,
        100 + ((random >> 32) % 900) as i32,
    ]
}

/// The parent's values at the three addresses, and in how many the child's write arrived.
fn report(addresses: [usize; 3], ours: [i32; 3], [parent_reading, child_reading]: [i32; 2]) {
    println!("   then the parent reads the same addresses in its own address space:");
    for ((place, address), value) in PLACES.iter().zip(addresses).zip(ours) {
        let why = if value == parent_reading {
            "copy-on-write"
        } else {
            "one page"
        };
        println!("   {place:<19} {address:#014x}: temperature: {value} ({why})");
    }
    let shared: Vec<&str> = PLACES
        .iter()
        .zip(ours)
        .filter(|&(_, value)| value == child_reading)
        .map(|(place, _)| *place)
        .collect();
    println!(
        "   the child's write reached the parent in {} of 3: {}",
        shared.len(),
        if shared.is_empty() {
            "none".to_string()
        } else {
            shared.join(", ")
        }
    );
}

/// The lecture: MAP_SHARED makes two processes map the same physical memory, where fork()
/// otherwise gives each its own copy. It holds when the parent read the child's reading
/// through MAP_SHARED and its own in the variable and the MAP_PRIVATE mapping.
pub fn shared_claim(ours: [i32; 3], [parent, child]: [i32; 2]) -> (Verdict, String) {
    let [variable, private, shared] = ours;
    let copies_kept = variable == parent && private == parent;
    let because = match (shared == child, copies_kept) {
        (true, true) => format!(
            "the parent read the child's {child} through MAP_SHARED, its own {parent} in \
             the variable and MAP_PRIVATE"
        ),
        (true, false) => format!(
            "the parent read the child's {child} through MAP_SHARED, but {variable} and \
             {private} in its private copies, not its own {parent}"
        ),
        (false, _) => {
            format!("the parent read {shared} through MAP_SHARED, not the child's {child}")
        }
    };
    (judge(shared == child && copies_kept, false), because)
}

/// The i32 at the start of `map`.
fn read_i32(map: &MmapMut) -> i32 {
    let mut bytes = [0; 4];
    bytes.copy_from_slice(&map[..4]);
    i32::from_ne_bytes(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_childs_reading_through_map_shared_alone_confirms_it() {
        let (v, because) = shared_claim([17, 17, 512], [17, 512]);
        assert_eq!(v, Verdict::Confirmed);
        assert_eq!(
            because,
            "the parent read the child's 512 through MAP_SHARED, its own 17 in the variable \
             and MAP_PRIVATE"
        );
        // The shared page kept the parent's value: the child's write never arrived.
        let (v, because) = shared_claim([17, 17, 17], [17, 512]);
        assert_eq!(v, Verdict::Refuted);
        assert_eq!(
            because,
            "the parent read 17 through MAP_SHARED, not the child's 512"
        );
        // A private copy that changed too: not a copy after all.
        assert_eq!(shared_claim([17, 512, 512], [17, 512]).0, Verdict::Refuted);
    }

    #[test]
    fn the_readings_differ_and_fit_their_ranges() {
        for _ in 0..100 {
            let [parent, child] = readings();
            assert!((10..100).contains(&parent), "{parent}");
            assert!((100..1000).contains(&child), "{child}");
        }
    }
}
