//! The `write` role, TLPI's pshm_create + pshm_write: create the object (or open ours), store
//! a reading, exit. The object stays in /dev/shm for `read`, until `unlink`.
//!
//! ```text
//! cargo run -p shm-demo -- write /sensor_data --temp 42   # creates it, stores 42, exits
//! ls -l /dev/shm/sensor_data                               # still there: 32 bytes, -rw-------
//! ```

use std::io::ErrorKind;
use std::sync::atomic::Ordering;

use plumbing::Result;
use shm_demo::SensorObject;

pub fn run(name: &str, temp: i32) -> Result {
    let (object, what) = match SensorObject::create(name) {
        Ok(object) => (object, "created"),
        Err(e) if e.kind() == ErrorKind::AlreadyExists => {
            let object = SensorObject::open(name).map_err(|e| match e.kind() {
                ErrorKind::InvalidData => {
                    format!("{e}; if it is yours, remove it with `shm-demo unlink {name}`")
                }
                _ => e.to_string(),
            })?;
            (object, "opened the existing")
        }
        Err(e) => return Err(e.into()),
    };
    let update = object.access(|reading| {
        reading.temp.store(temp, Ordering::Relaxed);
        reading
            .writer_pid
            .store(std::process::id(), Ordering::Relaxed);
        // Release: a reader that sees the new count (Acquire) also sees the fields above.
        reading.updates.fetch_add(1, Ordering::Release) + 1
    })?;
    println!("{what} {name}; stored temperature: {temp} (update #{update})");
    println!("it stays in /dev/shm until `shm-demo unlink {name}`");
    Ok(())
}
