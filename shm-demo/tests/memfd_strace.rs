//! The memfd step, traced: the receiving process (the `memfd-receive` role the step starts)
//! gets each memfd frame as a descriptor in an SCM_RIGHTS message, by recvmsg, as step 7 says.
//! The step's own output (`steps.rs`) shows what the receiver did with it; this shows how it
//! arrived.
//!
//! Needs strace (`apt-get install -y strace`); without it, or where it may not trace (no
//! ptrace in a container), the test says why and passes.
#![allow(clippy::unwrap_used)]

use std::process::Command;

use testkit::TempDir;

const BIN: &str = env!("CARGO_BIN_EXE_shm-demo");

#[test]
fn the_receiver_gets_each_memfd_frame_by_recvmsg_with_scm_rights() {
    if Command::new("strace").arg("-V").output().is_err() {
        eprintln!("skipped: strace is not installed (apt-get install -y strace)");
        return;
    }
    // The step's socket goes in a directory of this test's own, which must end empty.
    let tmp = TempDir::new("shm-memfd-strace");
    let trace_file = std::env::temp_dir().join(testkit::unique("shm-memfd-strace"));
    let out = Command::new("strace")
        .args(["-f", "-qq", "-e", "trace=recvmsg", "-o"])
        .arg(&trace_file)
        .args([BIN, "memfd"])
        .env("TMPDIR", &tmp.0)
        .output()
        .unwrap();
    let trace = std::fs::read_to_string(&trace_file).unwrap_or_default();
    let _ = std::fs::remove_file(&trace_file);
    let text = testkit::stdout(&out);
    if !out.status.success() && trace.is_empty() {
        eprintln!(
            "skipped: strace could not trace shm-demo here: {}",
            testkit::stderr(&out)
        );
        return;
    }
    assert!(out.status.success(), "{text}{}", testkit::stderr(&out));
    tmp.assert_empty();
    // "   receiver pid 7531: listening on a Unix socket, mode 0600:"
    let receiver = text
        .lines()
        .find_map(|l| l.trim().strip_prefix("receiver pid ")?.split(':').next())
        .unwrap_or_else(|| panic!("no receiver pid in:\n{text}"));
    // Frames 1 and 3 come as memfds (frame 2 is drawn in place, with no message): each one
    // a recvmsg by the receiver that returned a descriptor in SCM_RIGHTS.
    let handed_over = trace
        .lines()
        .filter(|l| l.starts_with(&format!("{receiver} ")))
        .filter(|l| l.contains("recvmsg(") || l.contains("<... recvmsg resumed>"))
        .filter(|l| l.contains("cmsg_type=SCM_RIGHTS, cmsg_data=["))
        .filter(|l| {
            l.rsplit_once(" = ")
                .is_some_and(|(_, n)| !n.starts_with('-'))
        })
        .count();
    assert_eq!(
        handed_over, 2,
        "receiver {receiver}: SCM_RIGHTS recvmsg calls in:\n{trace}\n{text}"
    );
}
