//! Steps 3, 4, 5 and 12 of the tour: a named object outlives the processes that use it. The
//! tour creates one, separate processes write and read it with the `write` and `read` roles
//! below, and `shm_unlink` removes the name at the end.
//!
//! The roles are TLPI's pshm_create / pshm_write / pshm_read / pshm_unlink: each command is
//! its own process, and the object waits in /dev/shm between them.
//!
//! ```text
//! cargo run -p shm-demo -- write /sensor_data --temp 42   # creates it, stores 42, exits
//! ls -l /dev/shm/sensor_data                               # still there: 32 bytes, -rw-------
//! cargo run -p shm-demo -- read /sensor_data               # temperature: 42 (...)
//! cargo run -p shm-demo -- unlink /sensor_data             # removed
//! cargo run -p shm-demo -- read /sensor_data               # error: No such file or directory
//! ```
//!
//! The roles own nothing that must be removed (the object is meant to stay), so they keep the
//! default action of Ctrl-C: it ends them at once.

use std::fs;
use std::io::{self, ErrorKind};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;
use std::sync::atomic::Ordering;
use std::time::Duration;

use nix::errno::Errno;
use nix::sys::mman::shm_unlink;
use nix::unistd::geteuid;
use plumbing::{Result, child, names, stop};
use shm_demo::sensor::whose;
use shm_demo::{HEADER_LEN, SensorObject, ShmName};

/// The tour's names are `/ipc-tour-shm-<pid>-<6 hex digits>` (30 characters at most); in
/// /dev/shm they appear without the leading `/`.
const PREFIX: &str = "ipc-tour-shm-";

/// The longest a role may run: each does one `shm_open` and prints one line.
const ROLE_LIMIT: Duration = Duration::from_secs(30);

/// A name for one of the tour's objects, unique per run.
pub fn tour_name() -> String {
    names::unique(&format!("/{PREFIX}"), 6)
}

/// A tour killed by SIGKILL cannot run its `Drop`s, so its objects stay in /dev/shm. Start-up
/// removes those: our own tour objects whose pid is gone (or a zombie).
pub fn remove_stale_objects() {
    let removed = names::sweep(Path::new("/dev/shm"), PREFIX, |path| {
        if !path.symlink_metadata()?.is_file() {
            return Err(ErrorKind::InvalidInput.into());
        }
        let file = path.file_name().unwrap_or_default().to_string_lossy();
        shm_unlink(format!("/{file}").as_str()).map_err(io::Error::from)
    });
    for file in removed {
        let pid = names::tagged_pid(&file, PREFIX).unwrap_or(0);
        println!("   (removed /dev/shm/{file}, left by a killed tour:");
        println!("   its pid {pid} is gone)");
    }
}

/// The tour's sensor object: its mapping, and the owner that unlinks its name on every way
/// out (fields drop in order: unmap, then `shm_unlink`).
pub struct TourObject {
    object: SensorObject,
    owner: ShmName,
}

impl TourObject {
    fn name(&self) -> &str {
        self.owner.as_str()
    }
}

/// Step 3: create the object under a new name, as `ls -l /dev/shm` shows it.
pub fn create() -> Result<TourObject> {
    let name = tour_name();
    let object = SensorObject::create(&name)?;
    let owner = ShmName::adopt(&name);
    let (size, mode) = dev_shm(&name)?;
    println!("3. shm_open + fchmod + ftruncate + posix_fallocate + mmap made the object");
    println!("   {name} (called {OBJ} below); /dev/shm shows it as");
    println!("   {size} bytes, mode {mode:04o} (a {HEADER_LEN}-byte header, then sensor_reading)");
    stop::check()?;
    Ok(TourObject { object, owner })
}

/// Step 4: another process writes a reading and exits; our own mapping sees it.
pub fn written_elsewhere(tour: &TourObject) -> Result {
    let name = tour.name();
    let (ok, line) = run_role(&["write", name, "--temp", "42"])?;
    if !ok {
        return Err(format!("`shm-demo write {name}` failed: {line}").into());
    }
    let temp = tour.object.access(|r| r.temp.load(Ordering::Acquire))?;
    println!("4. another process ran `shm-demo write {OBJ} --temp 42` and exited:");
    println!("   \"{}\"", quoted(&line, name));
    println!("   the tour's own mapping from step 3 shows temperature: {temp} too, without");
    println!("   re-opening anything: both processes mapped the same physical page");
    stop::check()?;
    Ok(())
}

/// Step 5: the writer is gone, the object is not; yet another process reads it.
pub fn outlives_its_writer(tour: &TourObject) -> Result {
    let name = tour.name();
    let (ok, line) = run_role(&["read", name])?;
    if !ok {
        return Err(format!("`shm-demo read {name}` failed: {line}").into());
    }
    let (size, _) = dev_shm(name)?;
    println!("5. the writer has exited; the object is still in /dev/shm ({size} bytes), and");
    println!("   another process ran `shm-demo read {OBJ}`:");
    println!("   \"{}\"", quoted(&line, name));
    stop::check()?;
    Ok(())
}

/// Step 12: unmap and `shm_unlink`; the name is gone, and `read` says so.
pub fn unlinked(tour: TourObject) -> Result {
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

/// How the tour refers to its object after step 3 prints its name once, as a shell would.
pub const OBJ: &str = "$OBJ";

/// A role's line as the tour quotes it: without the program's name in front, and with the
/// object's name as [`OBJ`], so that it fits the screen.
pub fn quoted(line: &str, name: &str) -> String {
    let line = line.strip_prefix("shm-demo: ").unwrap_or(line);
    line.replace(name, OBJ)
}

/// Runs `shm-demo ARGS` as a separate process and returns whether it succeeded and its first
/// line of output (a role prints to stdout when it succeeds, to stderr when it fails).
pub fn run_role(args: &[&str]) -> Result<(bool, String)> {
    let (ok, text) = child::run_this(args, ROLE_LIMIT)?;
    // A Ctrl-C meant for us may have ended it: report the interruption, not its failure.
    stop::check()?;
    Ok((ok, text.lines().next().unwrap_or("").to_owned()))
}

/// Size and mode of /dev/shm/<name>, as `ls -l` would show them.
fn dev_shm(name: &str) -> Result<(u64, u32), String> {
    let path = format!("/dev/shm{name}");
    let meta = fs::metadata(&path).map_err(|e| format!("stat {path}: {e}"))?;
    Ok((meta.len(), meta.permissions().mode() & 0o777))
}

/// The `write` role: create the object (or open ours), store a reading, exit. The object stays.
pub fn write_reading(name: &str, temp: i32) -> Result {
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

/// The `read` role: open an existing object, check its header, print the reading.
pub fn read_reading(name: &str) -> Result {
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

/// The `unlink` role: remove the name from /dev/shm, if the object is ours.
pub fn unlink_name(name: &str) -> Result {
    let meta = fs::symlink_metadata(format!("/dev/shm{name}"));
    // Root may remove anything; the demo still touches only its own user's objects.
    if let Ok(meta) = &meta
        && meta.uid() != geteuid().as_raw()
    {
        return Err(format!("{name}: not removed, {}", whose(meta)).into());
    }
    shm_unlink(name).map_err(|e| match (e, &meta) {
        (Errno::EACCES | Errno::EPERM, Ok(meta)) => {
            format!("shm_unlink {name}: {e}; {}", whose(meta))
        }
        _ => format!("shm_unlink {name}: {e}"),
    })?;
    println!("removed {name} from /dev/shm (processes that still map it keep their pages)");
    Ok(())
}
