//! Issue 24: step 7 says the receiver's ftruncate(fd, 0) on the sealed frame fails with EPERM.
//! A line that only said so would pass every other test; here strace, watching every process
//! of the step, must have seen the system call return it.
#![allow(clippy::unwrap_used)]

use std::process::{Command, Stdio};
use std::time::Duration;

const BIN: &str = env!("CARGO_BIN_EXE_shm-demo");
const STRACE: &str = "/usr/bin/strace";

#[test]
fn the_receivers_ftruncate_really_fails_with_eperm() {
    if !std::path::Path::new(STRACE).exists() {
        println!("skipped: {STRACE} is missing (apt-get install strace), so the system call");
        println!("that step 7 says failed cannot be watched");
        return;
    }
    let dir = std::env::temp_dir().join(testkit::unique("shm-demo-strace"));
    std::fs::create_dir(&dir).unwrap();
    let log = dir.join("trace");
    // -f: the receiver is a process the step starts; -qq: no attach/exit lines.
    let child = Command::new(STRACE)
        .args(["-f", "-qq", "-e", "trace=ftruncate", "-o"])
        .arg(&log)
        .args([BIN, "memfd"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let out = testkit::output_within(child, Duration::from_secs(60), "strace shm-demo memfd");
    let trace = std::fs::read_to_string(&log).unwrap_or_default();
    std::fs::remove_dir_all(&dir).unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    if !out.status.success() && stderr.contains("ptrace") {
        println!("skipped: strace cannot trace here: {stderr}");
        return;
    }
    assert!(out.status.success(), "{stderr}\n{stdout}");
    println!("{trace}");
    assert!(
        stdout.contains("receiver: ftruncate(fd, 0) fails: EPERM"),
        "{stdout}"
    );
    // "1234  ftruncate(3, 0)                  = -1 EPERM (Operation not permitted)"
    let refused: Vec<&str> = trace
        .lines()
        .filter(|l| l.contains("ftruncate(") && l.contains(", 0)"))
        .filter(|l| l.contains("= -1 EPERM"))
        .collect();
    assert_eq!(refused.len(), 1, "no refused ftruncate(fd, 0) in:\n{trace}");
    // ... by the receiver, the process whose line says so.
    let receiver = stdout
        .split("receiver pid ")
        .nth(1)
        .and_then(|rest| rest.split(':').next())
        .unwrap();
    assert!(
        refused[0].starts_with(&format!("{receiver} ")),
        "receiver {receiver}: {}",
        refused[0]
    );
    // The frames were sized by ftruncate too, and that worked: strace saw every call.
    assert!(
        trace
            .lines()
            .any(|l| l.contains("ftruncate(") && l.contains(", 307200)") && l.ends_with("= 0")),
        "{trace}"
    );
}
