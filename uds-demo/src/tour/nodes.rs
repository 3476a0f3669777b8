//! Step 8: processes as nodes (the lecture's closing argument). Two network namespaces are
//! two network stacks, as two hosts have: each its own interfaces, addresses and loopback.
//! The tour joins two new ones with a veth pair (a virtual cable), starts `uds-demo serve
//! --inet` in one and `uds-demo client --inet` in the other: the step 2 code, unchanged, now
//! talking across a link. Only root may create namespaces; otherwise the step says so and
//! runs the same two commands over loopback.
//!
//! By hand, as root:
//!
//! ```text
//! ip netns add a; ip netns add b
//! ip link add veth0 netns a type veth peer name veth1 netns b
//! ip -n a addr add 10.0.0.1/24 dev veth0; ip -n a link set veth0 up
//! ip -n b addr add 10.0.0.2/24 dev veth1; ip -n b link set veth1 up
//! ip netns exec a cargo run -p uds-demo -- serve --inet 10.0.0.1:7878
//! ip netns exec b cargo run -p uds-demo -- client --inet 10.0.0.1:7878
//! ip netns del a; ip netns del b          # the veth pair goes with them
//! ```

use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use nix::unistd::Uid;
use plumbing::child::Child;
use plumbing::tour::heading;
use plumbing::{Result, names, stop};
use uds_demo::server_child::ServerChild;

/// Names of our namespaces: `ipc-tour-uds-ns-<pid>-<hex>`, swept when a killed run left them.
const NETNS_PREFIX: &str = "ipc-tour-uds-ns-";
/// Where `ip netns add` keeps the namespaces it names.
const NETNS_DIR: &str = "/run/netns";
/// The two ends of the veth pair. Each namespace is new, so fixed addresses clash with nothing.
const SERVER_ADDR: &str = "10.0.0.1";
const CLIENT_ADDR: &str = "10.0.0.2";

pub fn run() -> Result {
    heading(
        8,
        "Processes as nodes: step 2's serve and client on two network stacks",
    );
    match Namespaces::create()? {
        Ok(ns) => {
            println!("   two network namespaces, joined by a veth pair:");
            println!("   server side {} {SERVER_ADDR}/24", ns.server);
            println!("   client side {} {CLIENT_ADDR}/24", ns.client);
            let at = format!("{SERVER_ADDR}:7878");
            let server = ServerChild::spawn_in(&ns.server, &["serve", "--inet", &at])?;
            let mut client = Command::new("ip");
            client.args(["netns", "exec", &ns.client]).arg(exe()?);
            echo_between(server, client, Some(&at))
        }
        Err(why) => {
            println!("   {why}");
            println!("   so: the same two commands over loopback, in this namespace");
            let server = ServerChild::spawn(&["serve", "--inet", "127.0.0.1:0"])?;
            echo_between(server, Command::new(exe()?), None)
        }
    }
}

fn exe() -> Result<std::path::PathBuf> {
    Ok(std::env::current_exe().map_err(|e| format!("current_exe: {e}"))?)
}

/// Runs `client` (a command that starts this program) against `server`, at `at` or where the
/// server says it listens, and prints the echo with its round trip and who the server saw.
fn echo_between(mut server: ServerChild, mut client: Command, at: Option<&str>) -> Result {
    let line = server.wait_for_line_starting("listening on inet:")?;
    let listening = line["listening on inet:".len()..].trim().to_string();
    let at = at.unwrap_or(&listening);
    client
        .args(["client", "--inet", at, "temperature: 42"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped());
    let mut client = Child::spawn(&mut client)?;
    let echo = client.expect_line(Duration::from_secs(5))?;
    client.wait_ok(Duration::from_secs(5))?;
    let peer = server.wait_for_line_starting("conn 1: peer ")?;
    println!("   client (pid {}): {echo}", client.pid());
    println!("   server (pid {}): {peer}", server.pid());
    println!("   the code is step 2's; only the addresses changed");
    Ok(())
}

/// Two network namespaces joined by a veth pair; `Drop` deletes both (and the pair with them).
struct Namespaces {
    server: String,
    client: String,
}

impl Namespaces {
    /// Creates them, or says in one line why it cannot (`Err` only for a stop signal).
    fn create() -> Result<std::result::Result<Namespaces, String>> {
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
        let ns = Namespaces {
            server: names::unique(NETNS_PREFIX, 6),
            client: names::unique(NETNS_PREFIX, 6),
        };
        let (a, b) = (ns.server.as_str(), ns.client.as_str());
        let (addr_a, addr_b) = (format!("{SERVER_ADDR}/24"), format!("{CLIENT_ADDR}/24"));
        let steps: [&[&str]; 7] = [
            &["netns", "add", a],
            &["netns", "add", b],
            // Both ends are created inside the namespaces: nothing appears in ours.
            &[
                "link", "add", "veth0", "netns", a, "type", "veth", "peer", "name", "veth1",
                "netns", b,
            ],
            &["-n", a, "addr", "add", &addr_a, "dev", "veth0"],
            &["-n", b, "addr", "add", &addr_b, "dev", "veth1"],
            &["-n", a, "link", "set", "veth0", "up"],
            &["-n", b, "link", "set", "veth1", "up"],
        ];
        for args in steps {
            stop::check()?; // `ns` deletes what was made so far
            if let Err(e) = ip(args) {
                // The names are long and ip's message may be too: one line each.
                let verb: Vec<&str> = (args.iter().copied())
                    .filter(|a| *a != "-n" && !a.starts_with(NETNS_PREFIX))
                    .collect();
                let verb = verb.get(..2).unwrap_or(&verb).join(" ");
                return Ok(Err(format!("no namespaces: `ip {verb}` failed:\n   {e}")));
            }
        }
        Ok(Ok(ns))
    }
}

impl Drop for Namespaces {
    fn drop(&mut self) {
        // Errors ignored: one that was never created cannot be deleted; the sweep retries.
        let _ = ip(&["netns", "del", &self.server]);
        let _ = ip(&["netns", "del", &self.client]);
    }
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
