//! Step 7: a socket file outlives its server. The tour SIGKILLs a server (no chance to unlink
//! its file): the file stays, and connecting to it is refused. The next server on that path
//! tells the stale file from a live one by that refusal and replaces it. Last, a path too long
//! for `sun_path` is refused before bind.

use std::os::unix::net::UnixStream;
use std::path::Path;

use plumbing::Result;
use plumbing::tour::heading;
use uds_demo::echo_once;
use uds_demo::server_child::ServerChild;
use uds_demo::socket_file::{SUN_PATH_BYTES, check_sun_path};
use uds_demo::timeouts::{REPLY_TIMEOUT, set_timeouts};

pub fn run(dir: &Path) -> Result {
    let path = dir.join("stale.sock");
    let arg = path.to_string_lossy().into_owned();
    heading(7, "A socket file outlives its server");
    {
        let mut first = ServerChild::spawn(&["serve", "--unix", &arg])?;
        first.wait_for_line_starting("listening on unix:")?;
        first.kill_hard();
        println!(
            "   SIGKILLed the server (pid {}): socket file still there: {}",
            first.pid(),
            path.exists()
        );
    }
    match UnixStream::connect(&path) {
        Ok(_) => println!("   connect: unexpectedly accepted"),
        Err(e) => println!("   connect to it: {e}"),
    }
    let mut second = ServerChild::spawn(&["serve", "--unix", &arg])?;
    let replaced = second.wait_for_line_starting("replaced stale socket file")?;
    second.wait_for_line_starting("listening on unix:")?;
    let mut stream = UnixStream::connect(&path).map_err(|e| format!("connect stale.sock: {e}"))?;
    set_timeouts(&stream, REPLY_TIMEOUT, None)?;
    let echo = echo_once(&mut stream, b"temperature: 42", REPLY_TIMEOUT)
        .map_err(|e| format!("echo: {e}"))?;
    let shown = replaced.replace(&dir.to_string_lossy().into_owned(), "DIR");
    println!("   a new server on that path said:\n   {shown}");
    println!("   and echoed {:?}", String::from_utf8_lossy(&echo));
    let long = dir.join("x".repeat(SUN_PATH_BYTES));
    match check_sun_path(&long) {
        Ok(()) => println!("   a {}-byte path: accepted", long.as_os_str().len()),
        Err(e) => println!(
            "   a {}-byte path is refused before bind:\n   {e}",
            long.as_os_str().len()
        ),
    }
    Ok(())
}
