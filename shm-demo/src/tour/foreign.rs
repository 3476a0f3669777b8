//! Step 6 of the tour (`shm-demo foreign`): a name is global, so `read` may open an object
//! another program made. The header (and the size, checked before mapping) lets it refuse one
//! instead of reading garbage: first an object of the right size full of someone else's
//! bytes, then one of another size.

use std::fs;
use std::io::Write;

use nix::fcntl::OFlag;
use nix::sys::mman::shm_open;
use nix::sys::stat::{Mode, fchmod};
use plumbing::tour::heading;
use plumbing::{Result, stop};
use shm_demo::{OBJECT_LEN, ShmName};

use shm_demo::tour_object::tour_name;

use super::{OBJ, quoted, run_role};

/// Step 6: `read` given a second object, first of text, then of the wrong size.
pub fn run() -> Result {
    let name = tour_name();
    let fd = shm_open(
        name.as_str(),
        OFlag::O_CREAT | OFlag::O_EXCL | OFlag::O_RDWR,
        Mode::S_IRUSR | Mode::S_IWUSR,
    )
    .map_err(|e| format!("shm_open {name}: {e}"))?;
    let _owner = ShmName::adopt(&name);
    // 0600 whatever the umask: shm_open applied it to the mode above; fchmod does not.
    fchmod(&fd, Mode::S_IRUSR | Mode::S_IWUSR).map_err(|e| format!("fchmod {name}: {e}"))?;
    let mut file = fs::File::from(fd);
    let bytes: Vec<u8> = b"another program's data "
        .iter()
        .copied()
        .cycle()
        .take(OBJECT_LEN)
        .collect();
    file.write_all(&bytes)
        .map_err(|e| format!("write {name}: {e}"))?;
    let (_, magic) = run_role(&["read", &name])?;
    file.set_len(4096)
        .map_err(|e| format!("ftruncate {name}: {e}"))?;
    let (_, size) = run_role(&["read", &name])?;
    // The refusals without "shm-demo: NAME: " in front: the name is a second one, made here.
    let reason = |line: &str| quoted(line, &name).replace(&format!("{OBJ}: "), "");
    heading(
        6,
        "`shm-demo read` refuses another program's object instead of reading",
    );
    println!("   garbage (a second object, made for this step). Given {OBJECT_LEN} bytes of text:");
    println!("     {}", reason(&magic));
    println!("   given 4096 bytes:");
    println!("     {}", reason(&size));
    stop::check()?;
    Ok(())
}
