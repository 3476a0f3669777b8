//! Step 8's two network namespaces and the veth pair between them: made with `ip` (iproute2),
//! removed and checked gone on every way out (an error, a stop signal), and swept after a run
//! that was killed before it could remove its own.

use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Stdio};

use nix::unistd::Uid;
use plumbing::{Result, names, stop};

use super::{CLIENT_ADDR, SERVER_ADDR};

/// Names of our namespaces: `ipc-tour-uds-ns-<pid>-<hex>`, swept when a killed run left them.
const NETNS_PREFIX: &str = "ipc-tour-uds-ns-";
/// Where `ip netns add` keeps the namespaces it names.
const NETNS_DIR: &str = "/run/netns";

/// Two network namespaces joined by a veth pair. [`Namespaces::remove`] deletes them and
/// checks that they are gone; `Drop` does the same on the way out of an error or a stop
/// signal, and says on stderr what it could not remove.
pub(super) struct Namespaces {
    pub(super) server: String,
    pub(super) client: String,
    /// How many of [`Namespaces::create`]'s steps succeeded: 1 made the server's namespace,
    /// 2 the client's, 3 the veth pair. `None` once removed.
    made: Option<usize>,
}

impl Namespaces {
    /// Creates them, or says in one line why it cannot (`Err` only for a stop signal).
    pub(super) fn create() -> Result<std::result::Result<Namespaces, String>> {
        if !Uid::effective().is_root() {
            return Ok(Err(format!(
                "no namespaces: creating them needs root (CAP_SYS_ADMIN); this is uid {}",
                Uid::effective()
            )));
        }
        if let Err(e) = Command::new("ip").arg("-V").output() {
            return Ok(Err(format!(
                "no namespaces: cannot run `ip` (iproute2): {e}"
            )));
        }
        sweep_stale();
        let mut ns = Namespaces {
            server: names::unique(NETNS_PREFIX, 6),
            client: names::unique(NETNS_PREFIX, 6),
            made: Some(0),
        };
        let (a, b) = (ns.server.clone(), ns.client.clone());
        let (addr_a, addr_b) = (format!("{SERVER_ADDR}/24"), format!("{CLIENT_ADDR}/24"));
        let steps: [&[&str]; 8] = [
            &["netns", "add", &a],
            &["netns", "add", &b],
            // Both ends are created inside the namespaces: nothing appears in ours.
            &[
                "link", "add", "veth0", "netns", &a, "type", "veth", "peer", "name", "veth1",
                "netns", &b,
            ],
            &["-n", &a, "addr", "add", &addr_a, "dev", "veth0"],
            &["-n", &b, "addr", "add", &addr_b, "dev", "veth1"],
            &["-n", &a, "link", "set", "veth0", "up"],
            &["-n", &b, "link", "set", "veth1", "up"],
            // A new namespace's loopback is down: up, a client beside the server reaches it.
            &["-n", &a, "link", "set", "lo", "up"],
        ];
        for (done, args) in steps.into_iter().enumerate() {
            stop::check()?; // `ns` deletes what was made so far
            if let Err(e) = ip(args) {
                // The names are long and ip's message may be too: one line each.
                let verb: Vec<&str> = (args.iter().copied())
                    .filter(|a| *a != "-n" && !a.starts_with(NETNS_PREFIX))
                    .collect();
                let verb = verb.get(..2).unwrap_or(&verb).join(" ");
                return Ok(Err(format!("no namespaces: `ip {verb}` failed:\n   {e}")));
            }
            ns.made = Some(done + 1);
        }
        Ok(Ok(ns))
    }

    /// Deletes the veth pair, then both namespaces, and looks: the pair's other end must be
    /// gone with it, and `ip netns list` must show neither name. Any failure is one line
    /// saying what ip said, what is left, and how to remove it by hand. Deleting a namespace
    /// only unmounts its name; the kernel frees it, and a veth end in it, when no process is
    /// left inside, so the caller first reaps every process it started there.
    pub(super) fn remove(&mut self) -> std::result::Result<(), String> {
        let made = match self.made.take() {
            None | Some(0) => return Ok(()),
            Some(made) => made,
        };
        let names: Vec<&str> = [&self.server, &self.client]
            .into_iter()
            .take(made.min(2))
            .map(String::as_str)
            .collect();
        let mut failed = Vec::new();
        if made >= 3 {
            failed.extend(self.delete_veth().err());
        }
        for name in &names {
            failed.extend(
                ip(&["netns", "del", name])
                    .err()
                    .map(|e| format!("`ip netns del`: {e}")),
            );
        }
        let left: Vec<&str> = match netns_list() {
            Ok(listed) => names
                .into_iter()
                .filter(|n| listed.iter().any(|l| l == n))
                .collect(),
            Err(e) => {
                failed.push(format!("`ip netns list`: {e}"));
                names
            }
        };
        match failed.is_empty() && left.is_empty() {
            true => Ok(()),
            false => Err(not_removed(&failed, &left)),
        }
    }

    /// Deletes veth0; deleting one end of a veth pair deletes its peer, so veth1 must be
    /// gone from the client's namespace too.
    fn delete_veth(&self) -> std::result::Result<(), String> {
        ip(&["-n", &self.server, "link", "del", "veth0"])
            .map_err(|e| format!("`ip link del veth0`: {e}"))?;
        match ip(&["-n", &self.client, "link", "show", "veth1"]) {
            Ok(()) => Err("veth1 is still there after its peer was deleted".into()),
            Err(_) => Ok(()),
        }
    }
}

/// The one line for a removal that failed: what ip said, what is left, what to type.
fn not_removed(failed: &[String], left: &[&str]) -> String {
    let by_hand: Vec<String> = left.iter().map(|n| format!("ip netns del {n}")).collect();
    let (left, by_hand) = match left.is_empty() {
        true => ("none listed".to_string(), "nothing to do".to_string()),
        false => (left.join(", "), by_hand.join("; ")),
    };
    let failed = failed.join("; ").replace('\n', " ");
    format!("network namespaces not removed: {failed}; left: {left}; remove by hand: {by_hand}")
}

impl Drop for Namespaces {
    fn drop(&mut self) {
        // On an error or a stop signal: the servers were reaped before we get here (they
        // were created after us, so they are dropped first).
        if let Err(e) = self.remove() {
            stop::left_behind(&e);
        }
    }
}

/// The names `ip netns list` shows (each line is a name, maybe followed by "(id: N)").
fn netns_list() -> std::result::Result<Vec<String>, String> {
    let out = Command::new("ip")
        .args(["netns", "list"])
        .process_group(0)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("ip: {e}"))?;
    if !out.status.success() {
        return Err(String::from_utf8_lossy(&out.stderr).trim().to_string());
    }
    let text = String::from_utf8_lossy(&out.stdout);
    Ok(text
        .lines()
        .filter_map(|l| l.split_whitespace().next().map(str::to_string))
        .collect())
}

/// `ip ARGS`; its own message (or how it ended) on failure. In a process group of its own, so the Ctrl-C that
/// stops the tour cannot kill the `ip netns del` that cleans up after it.
fn ip(args: &[&str]) -> std::result::Result<(), String> {
    let out = Command::new("ip")
        .args(args)
        .process_group(0)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("ip: {e}"))?;
    if out.status.success() {
        return Ok(());
    }
    let said = String::from_utf8_lossy(&out.stderr).trim().to_string();
    Err(if said.is_empty() {
        out.status.to_string()
    } else {
        said
    })
}

/// Deletes the namespaces that runs killed before their `Drop` left behind.
fn sweep_stale() {
    names::sweep(Path::new(NETNS_DIR), NETNS_PREFIX, |path| {
        let name = path.file_name().unwrap_or_default().to_string_lossy();
        ip(&["netns", "del", &name]).map_err(std::io::Error::other)
    });
}
