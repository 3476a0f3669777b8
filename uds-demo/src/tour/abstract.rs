//! Step 5: the abstract namespace and SO_PEERCRED. `uds-demo serve --abstract NAME` listens on
//! a name with no file: the kernel lists it in /proc/net/unix, the temp dir has nothing. With
//! no file there are no permissions either, so the server asks the kernel who connected
//! (SO_PEERCRED) and, run as root, the tour shows it refusing a client of another uid. The
//! echo carries a reading drawn for this run. Checks the lecture's claim that the kernel
//! mediates every connection and can name the peer ([`peer_claim`]).

use std::fs;
use std::os::unix::net::UnixStream;
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};

use nix::unistd::Uid;
use plumbing::Result;
use plumbing::names;
use plumbing::tour::heading;
use plumbing::verdict::{self, Verdict, judge};
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
    let reading = super::drawn_reading();
    let echo = echo_once(&mut stream, reading.as_bytes(), REPLY_TIMEOUT)
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
    let other = another_uid_is_refused(&mut server, &name)?;
    let told = [number_after(&cred, " pid="), number_after(&cred, " uid=")];
    let us = [Some(std::process::id()), Some(Uid::current().as_raw())];
    let (v, because) = peer_claim(told, us, other);
    verdict::record(
        "the kernel mediates, SO_PEERCRED names the peer",
        v,
        because,
    );
    Ok(())
}

/// The number right after `key` in `line` ("conn 1: peer pid=7594 uid=0 gid=0").
fn number_after(line: &str, key: &str) -> Option<u32> {
    let (_, rest) = line.split_once(key)?;
    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
    digits.parse().ok()
}

/// The lecture: the kernel stands between the two ends, and tells a server who connected.
/// Holds when the pid and uid the server was told are this tour's, and, where a client ran
/// as uid 65534 (`other`: the uid its refusal named), that uid.
pub fn peer_claim(
    told: [Option<u32>; 2],
    us: [Option<u32>; 2],
    other: Option<Option<u32>>,
) -> (Verdict, String) {
    let shown = |n: Option<u32>| n.map_or("?".to_string(), |n| n.to_string());
    let mut because = format!(
        "the server was told pid {} uid {}; the client was pid {} uid {}",
        shown(told[0]),
        shown(told[1]),
        shown(us[0]),
        shown(us[1])
    );
    because += &match other {
        Some(uid) => format!("; uid 65534's client was refused as uid {}", shown(uid)),
        None => "; another uid not tried (needs root)".to_string(),
    };
    let holds = told[0].is_some() && told == us && other.is_none_or(|uid| uid == Some(65534));
    (judge(holds, false), because)
}

/// An abstract socket has no file permissions to stop anyone: SO_PEERCRED is the check. Only
/// root can start a client as another user (uid 65534, "nobody"). Returns the uid the
/// server's refusal named, `None` when no such client ran.
fn another_uid_is_refused(server: &mut ServerChild, name: &str) -> Result<Option<Option<u32>>> {
    if !Uid::current().is_root() {
        println!("   another uid: skipped (only root can start a client as another user)");
        return Ok(None);
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
            return Ok(None);
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
    Ok(Some(number_after(&refused, "peer uid ")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_peer_verdict_follows_what_the_server_was_told() {
        let us = [Some(7594), Some(0)];
        let (v, because) = peer_claim(us, us, Some(Some(65534)));
        assert_eq!(v, Verdict::Confirmed);
        assert_eq!(
            because,
            "the server was told pid 7594 uid 0; the client was pid 7594 uid 0; \
             uid 65534's client was refused as uid 65534"
        );
        assert_eq!(
            peer_claim([Some(7595), Some(0)], us, None).0,
            Verdict::Refuted
        );
        assert_eq!(
            peer_claim([Some(7594), Some(1)], us, None).0,
            Verdict::Refuted
        );
        assert_eq!(
            peer_claim([None, None], [None, None], None).0,
            Verdict::Refuted
        );
        assert_eq!(peer_claim(us, us, Some(Some(0))).0, Verdict::Refuted);
        let (v, because) = peer_claim(us, us, None);
        assert_eq!(v, Verdict::Confirmed);
        assert!(because.ends_with("another uid not tried (needs root)"));
    }

    #[test]
    fn numbers_are_read_after_their_key() {
        let line = "conn 1: peer pid=7594 uid=0 gid=0";
        assert_eq!(number_after(line, " pid="), Some(7594));
        assert_eq!(number_after(line, " uid="), Some(0));
        assert_eq!(number_after(line, " euid="), None);
    }
}
