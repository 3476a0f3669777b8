//! Step 6: framing against hostile clients. A stream has no message boundaries, so the echo
//! protocol frames each message: [tag 'M'][u32 length][payload]. The tour connects a good
//! client, then clients that claim 4 GiB, send garbage, close mid-frame, stall or vanish; each
//! gets its own error while the good client, connected all along, is still served.

use std::io::Write;
use std::net::Shutdown;
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::Instant;

use plumbing::tour::heading;
use plumbing::{Result, stop};
use uds_demo::server_child::ServerChild;
use uds_demo::timeouts::{REPLY_TIMEOUT, set_timeouts};
use uds_demo::{MAX_FRAME, echo_once, read_frame};

pub fn run(dir: &Path) -> Result {
    let path = dir.join("framed.sock");
    let shown = path.to_string_lossy();
    let mut server = ServerChild::spawn(&["serve", "--unix", &shown, "--timeout-ms", "500"])?;
    server.wait_for_line_starting("listening on unix:")?;
    heading(
        6,
        &format!("Framing: [tag 'M'][u32 length][payload], at most {MAX_FRAME} bytes;"),
    );
    println!("   a frame must arrive within 500 ms; what each hostile client was told:");
    let mut good = connect(&path)?;
    echo_once(&mut good, b"temperature: 42", REPLY_TIMEOUT)
        .map_err(|e| format!("echo (first client): {e}"))?;
    let mut huge = b"M".to_vec();
    huge.extend_from_slice(&u32::MAX.to_be_bytes());
    let probes: [(&str, Vec<u8>, bool); 4] = [
        ("length 4294967295", huge, false),
        ("garbage", b"GET / HTTP/1.0\r\n\r\n".to_vec(), false),
        ("truncated frame", b"M\0\0\0\x0ftemp".to_vec(), true),
        ("stalls at 3 bytes", b"M\0\0".to_vec(), false),
    ];
    for (what, bytes, close_write) in probes {
        probe(&path, what, &bytes, close_write)?;
    }
    let mut abrupt = connect(&path)?;
    // Fails only if the server already hung up on it (refused): the log below says so.
    let _ = abrupt.write_all(b"M\0\0");
    drop(abrupt); // abrupt disconnect in the middle of a frame
    // Its end: "dropped" (or "refused" when the server had no thread left for it).
    let logged = loop {
        let line = server.wait_for_line_starting("conn 6: ")?;
        if !line.starts_with("conn 6: peer ") {
            break line;
        }
    };
    println!("   abrupt close (mid-frame): told nothing; the server logged");
    println!("   {logged}");
    let echo = echo_once(&mut good, b"temperature: 43", REPLY_TIMEOUT)
        .map_err(|e| format!("echo (first client, after the hostile ones): {e}"))?;
    println!(
        "   the first client, connected all along, still gets its echo: {:?}",
        String::from_utf8_lossy(&echo)
    );
    Ok(())
}

fn connect(path: &Path) -> Result<UnixStream> {
    let stream =
        UnixStream::connect(path).map_err(|e| format!("connect {}: {e}", path.display()))?;
    set_timeouts(&stream, REPLY_TIMEOUT, None)?;
    Ok(stream)
}

/// One hostile client: sends `bytes` (then closes its sending side if `close_write`), and
/// prints what the server answered and how long it took.
fn probe(path: &Path, what: &str, bytes: &[u8], close_write: bool) -> Result {
    stop::check()?;
    let mut hostile = connect(path)?;
    let start = Instant::now();
    // A server that refused us (no thread left for a client) may have hung up before we wrote;
    // its reason is still queued for reading, so a failed write is not the end.
    let sent = hostile.write_all(bytes);
    if sent.is_ok() && close_write {
        hostile
            .shutdown(Shutdown::Write)
            .map_err(|e| format!("shutdown: {e}"))?;
    }
    let reply = match read_frame(&mut hostile, Some(REPLY_TIMEOUT), Some(REPLY_TIMEOUT)) {
        Ok(Some(frame)) => String::from_utf8_lossy(&frame.payload).into_owned(),
        Ok(None) => "closed without a reply".into(),
        Err(e) => match sent {
            Err(write) => format!("error: write: {write}; read: {e}"),
            Ok(()) => format!("error: {e}"),
        },
    };
    stop::check()?; // a probe cut short by Ctrl-C (the server stops too) has no result
    // Whole milliseconds, not plumbing's duration: its wider form would push the longest line
    // past 80 columns.
    println!(
        "   {what:<17} {:>4} ms: {reply}",
        start.elapsed().as_millis()
    );
    Ok(())
}
