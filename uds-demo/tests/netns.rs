//! Processes as nodes: the same `serve --inet` / `client --inet` across two network namespaces
//! joined by a veth pair, i.e. two "hosts" with their own network stacks. Needs root and `ip`;
//! skipped with a printed reason otherwise. All traffic stays between the two namespaces
//! this test creates (addresses in 10.x on the veth pair); the guard deletes them, also on failure.
#![allow(clippy::unwrap_used)]

mod common;

use std::process::{Command, Output, Stdio};
use std::time::Duration;

use common::{BIN, Running, is_root};

/// Owns the two namespaces (and the veth pair, which dies with them); deletes them on drop.
struct Namespaces {
    a: String,
    b: String,
    veth_a: String,
}

impl Drop for Namespaces {
    fn drop(&mut self) {
        for ns in [&self.a, &self.b] {
            let _ = ip(&["netns", "del", ns]);
        }
        let _ = ip(&["link", "del", &self.veth_a]); // only exists if moving it failed
    }
}

fn ip(args: &[&str]) -> std::io::Result<Output> {
    Command::new("ip").args(args).stdin(Stdio::null()).output()
}

/// Runs each `ip` command; the first failure becomes the skip reason.
fn setup(steps: &[Vec<&str>]) -> Result<(), String> {
    for args in steps {
        let out = ip(args).map_err(|e| format!("ip {}: {e}", args.join(" ")))?;
        if !out.status.success() {
            return Err(format!(
                "ip {}: {}",
                args.join(" "),
                String::from_utf8_lossy(&out.stderr).trim()
            ));
        }
    }
    Ok(())
}

#[test]
fn serve_and_client_work_across_two_network_namespaces() {
    if !is_root() {
        println!("skipped: creating network namespaces needs root");
        return;
    }
    if ip(&["-V"]).is_err() {
        println!("skipped: the `ip` command is not installed");
        return;
    }
    let tag = format!("{:06x}", rand::random::<u32>() & 0xff_ffff);
    let subnet = format!(
        "10.{}.{}",
        200 + rand::random::<u8>() % 50,
        rand::random::<u8>()
    );
    let ns = Namespaces {
        a: format!("udsA-{tag}"),
        b: format!("udsB-{tag}"),
        veth_a: format!("uda{tag}"),
    };
    let veth_b = format!("udb{tag}");
    let (addr_a, addr_b) = (format!("{subnet}.1/24"), format!("{subnet}.2/24"));
    let steps = vec![
        vec!["netns", "add", &ns.a],
        vec!["netns", "add", &ns.b],
        vec![
            "link", "add", &ns.veth_a, "type", "veth", "peer", "name", &veth_b,
        ],
        vec!["link", "set", &ns.veth_a, "netns", &ns.a],
        vec!["link", "set", &veth_b, "netns", &ns.b],
        vec!["-n", &ns.a, "addr", "add", &addr_a, "dev", &ns.veth_a],
        vec!["-n", &ns.b, "addr", "add", &addr_b, "dev", &veth_b],
        vec!["-n", &ns.a, "link", "set", &ns.veth_a, "up"],
        vec!["-n", &ns.b, "link", "set", &veth_b, "up"],
    ];
    if let Err(why) = setup(&steps) {
        println!("skipped: cannot create the namespaces: {why}");
        return;
    }
    let server_addr = format!("{subnet}.1:7878");
    // `ip netns exec` execs the binary, so this child is the server itself.
    let mut srv = Running::spawn(
        "ip",
        &["netns", "exec", &ns.a, BIN, "serve", "--inet", &server_addr],
    );
    let listening = srv.wait_line("listening on inet:", Duration::from_secs(5));
    assert!(
        listening.is_some(),
        "server in {} did not start: {}",
        ns.a,
        {
            srv.kill();
            srv.stderr()
        }
    );
    let out = Command::new("ip")
        .args([
            "netns",
            "exec",
            &ns.b,
            BIN,
            "client",
            "--inet",
            &server_addr,
            "temperature: 42",
        ])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "client in {}: {}",
        ns.b,
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.starts_with("echo: temperature: 42 (15 bytes"),
        "{stdout}"
    );
    // The server saw a peer from the other namespace's address, not loopback.
    let peer = srv
        .wait_line("conn 1: peer ", Duration::from_secs(5))
        .unwrap();
    assert!(peer.contains(&format!("{subnet}.2:")), "{peer}");
    println!("{} -> {}: {}", ns.b, ns.a, stdout.trim());
    drop(srv); // stop the server before its namespace goes
}
