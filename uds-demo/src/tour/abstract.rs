//! Step 5: the abstract namespace and SO_PEERCRED. `uds-demo serve --abstract NAME` listens on
//! a name with no file: the kernel lists it in /proc/net/unix, the temp dir has nothing. With
//! no file there are no permissions either, so the server asks the kernel who connected
//! (SO_PEERCRED) and, run as root, the tour shows it refusing a client of another uid.

use std::fs;
use std::os::unix::net::UnixStream;
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};

use nix::unistd::Uid;
use plumbing::Result;
use plumbing::names;
use plumbing::tour::heading;
use uds_demo::address::{NAME_PREFIX, abstract_addr};
use uds_demo::echo_once;
use uds_demo::server_child::ServerChild;
use uds_demo::timeouts::{REPLY_TIMEOUT, set_timeouts};

pub fn run() -> Result {
    let name = names::unique(NAME_PREFIX, 8);
    let mut server = ServerChild::spawn(&["serve", "--abstract", &name])?;
    server.wait_for_line_starting("listening on abstract:")?;
    heading(
        5,
        "Abstract namespace and SO_PEERCRED: `uds-demo serve --abstract NAME`",
    );
    println!("   NAME = {name}");
    let listed = fs::read_to_string("/proc/net/unix")
        .unwrap_or_default()
        .lines()
        .any(|l| l.ends_with(&format!("@{name}")));
    let in_tmp = names::temp_dir().join(&name).exists();
    println!("   listed in /proc/net/unix as @NAME: {listed}; NAME in the temp dir: {in_tmp}");
    let mut stream = UnixStream::connect_addr(&abstract_addr(&name)?)
        .map_err(|e| format!("connect @{name}: {e}"))?;
    set_timeouts(&stream, REPLY_TIMEOUT, None)?;
    let echo = echo_once(&mut stream, b"temperature: 42", REPLY_TIMEOUT)
        .map_err(|e| format!("echo: {e}"))?;
    let cred = server.wait_for_line_starting("conn 1: peer pid=")?;
    println!("   echoed {:?}", String::from_utf8_lossy(&echo));
    println!(
        "   the server learned from the kernel: {}",
        cred.trim_start_matches("conn 1: ")
    );
    println!(
        "   (this tour is pid {}, uid {})",
        std::process::id(),
        Uid::current()
    );
    another_uid_is_refused(&mut server, &name)
}

/// An abstract socket has no file permissions to stop anyone: SO_PEERCRED is the check. Only
/// root can start a client as another user (uid 65534, "nobody").
fn another_uid_is_refused(server: &mut ServerChild, name: &str) -> Result {
    if !Uid::current().is_root() {
        println!("   another uid: skipped (only root can start a client as another user)");
        return Ok(());
    }
    let exe = std::env::current_exe().map_err(|e| format!("locate own binary: {e}"))?;
    let spawned = Command::new(&exe)
        .args(["client", "--abstract", name, "temperature: 42"])
        .uid(65534)
        .gid(65534)
        .stdin(Stdio::null())
        .output();
    let out = match spawned {
        Ok(out) => out,
        // exec as another uid needs search permission on every directory above the binary.
        Err(e) if e.kind() == std::io::ErrorKind::PermissionDenied => {
            println!("   another uid: skipped (uid 65534 cannot execute this binary: {e})");
            println!("   (build in a directory every user can enter to see the refusal)");
            return Ok(());
        }
        Err(e) => return Err(format!("spawn client as uid 65534: {e}").into()),
    };
    let refused = server.wait_for_line_starting("conn 2: refused")?;
    let said = String::from_utf8_lossy(&out.stderr);
    let told = said
        .split_once("server said: ")
        .map_or(said.trim(), |(_, t)| t.trim());
    println!(
        "   a client run as uid 65534 ended ({}); it was told:",
        out.status
    );
    println!("   {told}");
    println!("   the server: {refused}");
    Ok(())
}
