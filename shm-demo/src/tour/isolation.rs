//! Step 1 of the tour (`shm-demo isolation`): the lecture's "Isolation Creates the
//! Need". After fork(), parent and child hold the same addresses, but not the same memory: a
//! child that writes 43 where its parent keeps `sensor_reading` = 42 changes only its own copy
//! (copy-on-write), in an ordinary variable and in a MAP_PRIVATE mapping alike. Only a region
//! mapped MAP_SHARED is one set of pages for both, so only there does the parent see 43.

use std::ptr;
use std::sync::atomic::{AtomicI32, Ordering};
use std::time::Duration;

use memmap2::MmapMut;
use plumbing::{Result, child, stop};
use shm_demo::SharedMapping;

/// The three places, in the order they are printed.
const PLACES: [&str; 3] = [
    "ordinary variable",
    "MAP_PRIVATE mapping",
    "MAP_SHARED mapping",
];

/// Step 1: 42 in three places, 43 written by a forked child, and what the parent then reads.
pub fn run() -> Result {
    stop::check()?;
    // Volatile accesses for the ordinary variable: the compiler must really load it after the
    // child has run, so the 42 printed below is what this process's memory holds, not a
    // constant folded in at build time.
    let mut sensor_reading: i32 = 42;
    let variable: *mut i32 = &mut sensor_reading;
    let mut private = MmapMut::map_anon(size_of::<i32>()).map_err(|e| format!("mmap: {e}"))?;
    private.copy_from_slice(&42i32.to_ne_bytes());
    let shared = SharedMapping::new(size_of::<AtomicI32>()).map_err(|e| e.to_string())?;
    // SAFETY: the mapping is page aligned, zero filled and at least 4 bytes: a valid
    // AtomicI32. The child forked below shares it and stores to it atomically.
    let shared_reading = unsafe { &*shared.as_ptr().cast::<AtomicI32>() };
    shared_reading.store(42, Ordering::Relaxed);
    let addresses = [
        variable as usize,
        private.as_ptr() as usize,
        shared.as_ptr() as usize,
    ];

    println!("1. isolation: sensor_reading = 42 in a variable and two anonymous");
    println!("   mappings; after fork() the child writes 43 into each and reads back:");
    let mut child = child::fork(|| {
        // SAFETY: `variable` points at the parent's local, of which this child has its own
        // copy; nothing else in this single-threaded child uses it meanwhile.
        unsafe { ptr::write_volatile(variable, 43) };
        private.copy_from_slice(&43i32.to_ne_bytes());
        shared_reading.store(43, Ordering::Release);
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
    report(addresses, ours);
    Ok(())
}

/// The parent's values at the three addresses, and in how many the child's write arrived.
fn report(addresses: [usize; 3], ours: [i32; 3]) {
    println!("   then the parent reads the same addresses in its own address space:");
    for ((place, address), value) in PLACES.iter().zip(addresses).zip(ours) {
        let why = if value == 42 {
            "copy-on-write"
        } else {
            "one page"
        };
        println!("   {place:<19} {address:#014x}: temperature: {value} ({why})");
    }
    let shared: Vec<&str> = PLACES
        .iter()
        .zip(ours)
        .filter(|&(_, value)| value == 43)
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

/// The i32 at the start of `map`.
fn read_i32(map: &MmapMut) -> i32 {
    let mut bytes = [0; 4];
    bytes.copy_from_slice(&map[..4]);
    i32::from_ne_bytes(bytes)
}
