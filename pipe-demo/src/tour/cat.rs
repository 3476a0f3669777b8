//! Step 1 of the pipe tour: the lecture's snippet, finished. `cat` gets a pipe as its stdin;
//! we write one reading into it and close our end, so `cat` sees end-of-file and exits.

use std::io::Write;
use std::process::{Command, Stdio};

use plumbing::Result;
use plumbing::tour::heading;

/// Step 1: the lecture's snippet, finished: close the pipe so `cat` can exit.
pub fn run() -> Result {
    heading(1, "A pipe to a child's stdin");
    let mut child = Command::new("cat")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .map_err(|e| format!("spawn cat: {e}"))?;
    // take() rather than as_mut(): we must own the write end to close it. While any write
    // end is open, `cat` waits for more input and never exits.
    let mut stdin = child.stdin.take().ok_or("cat has no stdin pipe")?;
    stdin
        .write_all(b"temperature: 42")
        .map_err(|e| format!("write to cat: {e}"))?;
    drop(stdin); // cat's read() now returns 0: end-of-file.
    let output = child
        .wait_with_output()
        .map_err(|e| format!("wait for cat: {e}"))?;
    println!("   wrote \"temperature: 42\" into cat's stdin, then closed it");
    println!(
        "   cat printed {:?} ({} bytes) and {}",
        String::from_utf8_lossy(&output.stdout),
        output.stdout.len(),
        describe_exit(output.status)
    );
    Ok(())
}

/// "exited with status 0", or how else it ended.
fn describe_exit(status: std::process::ExitStatus) -> String {
    use std::os::unix::process::ExitStatusExt;
    match (status.code(), status.signal()) {
        (Some(code), _) => format!("exited with status {code}"),
        (None, Some(sig)) => match nix::sys::signal::Signal::try_from(sig) {
            Ok(name) => format!("was killed by {name}"),
            Err(_) => format!("was killed by signal {sig}"),
        },
        _ => status.to_string(),
    }
}
