//! The `read` role, TLPI's pshm_read: open an existing object, check its header, print the
//! reading. Another process wrote it, maybe one that has exited since.
//!
//! ```text
//! cargo run -p shm-demo -- read /sensor_data               # temperature: 42 (...)
//! ```

use std::io::ErrorKind;
use std::sync::atomic::Ordering;

use plumbing::Result;
use shm_demo::SensorObject;

pub fn run(name: &str) -> Result {
    let object = SensorObject::open(name).map_err(|e| match e.kind() {
        ErrorKind::NotFound => format!("{e}; create it first with `shm-demo write {name}`"),
        _ => e.to_string(),
    })?;
    let (update, temp, writer) = object.access(|reading| {
        (
            reading.updates.load(Ordering::Acquire),
            reading.temp.load(Ordering::Relaxed),
            reading.writer_pid.load(Ordering::Relaxed),
        )
    })?;
    if update == 0 {
        println!("{name} holds no reading yet (created, never written)");
    } else {
        println!("temperature: {temp} (from {name}, update #{update}, written by pid {writer})");
    }
    Ok(())
}
