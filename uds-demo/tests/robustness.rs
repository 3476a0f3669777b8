//! What the environment may throw at the tour and at `serve`: a terminal's SIGHUP or SIGQUIT
//! mid-run, an ignored SIGCHLD and blocked signals inherited from the parent, a restrictive
//! umask. Each run must work (or stop cleanly), give its objects their promised modes and
//! leave nothing behind.
#![allow(clippy::unwrap_used)]

mod common;

use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::thread;
use std::time::Duration;

use common::{BIN, Running, is_root};
use nix::sys::signal::{Signal, kill};
use testkit::Exited;

/// How long a whole tour may take, on a loaded machine.
const LIMIT: Duration = Duration::from_secs(60);

/// How the child is started: what it inherits (a signal state, a umask).
type Setup = fn(&mut Command);

/// `program ARGS` with TMPDIR=/tmp, started the way `setup` says.
fn start(program: &str, args: &[&str], setup: Setup) -> Running {
    let mut command = Command::new(program);
    command.args(args).env("TMPDIR", "/tmp");
    setup(&mut command);
    Running::start(&mut command)
}

/// `run` stopped by `sig`, as a terminal or `kill` would.
fn stop(run: &Running, sig: Signal) {
    kill(run.pid(), sig).unwrap();
}

fn nothing(_: &mut Command) {}

/// The tour `run`, ended by itself within [`LIMIT`] and successfully (else the test fails,
/// naming `what`): its stdout.
fn finished_ok(run: Running, what: &str) -> String {
    let Exited {
        status,
        stdout,
        stderr,
        ..
    } = run.finish(LIMIT);
    let stdout = stdout.join("\n");
    assert!(status.success(), "{what}: {stderr}\n{stdout}");
    stdout
}

/// What a run named after `pid` left: private directories in /tmp, abstract names, namespaces.
fn leftovers_of(pid: u32) -> Vec<String> {
    let mut found = Vec::new();
    for (dir, prefix) in [
        ("/tmp", format!("ipc-tour-uds-{pid}-")),
        ("/run/netns", format!("ipc-tour-uds-ns-{pid}-")),
    ] {
        if let Ok(entries) = std::fs::read_dir(dir) {
            found.extend(
                entries
                    .flatten()
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .filter(|n| n.starts_with(&prefix)),
            );
        }
    }
    let unix = std::fs::read_to_string("/proc/net/unix").unwrap_or_default();
    let abstract_prefix = format!("@ipc-tour-uds-{pid}-");
    found.extend(
        unix.lines()
            .filter(|l| l.contains(&abstract_prefix))
            .map(String::from),
    );
    found
}

/// Processes whose parent is `pid`.
fn children_of(pid: u32) -> Vec<i32> {
    let mut pids = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(child) = entry.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{child}/stat")) else {
            continue;
        };
        let after = &stat[stat.rfind(')').unwrap() + 2..];
        if after.split_whitespace().nth(1) == Some(pid.to_string().as_str()) {
            pids.push(child);
        }
    }
    pids
}

/// SIGHUP (the terminal closed) and SIGQUIT (Ctrl-\) mid-tour: the same clean stop as Ctrl-C,
/// with 128 + n and nothing left; the servers go with the tour.
#[test]
fn sighup_and_sigquit_stop_the_tour_cleanly() {
    for sig in [Signal::SIGHUP, Signal::SIGQUIT] {
        let mut tour = start(BIN, &[], nothing);
        let pid = tour.id();
        tour.expect_prefix("3. Boundaries");
        let servers = children_of(pid);
        stop(&tour, sig);
        let Exited { status, stderr, .. } = tour.finish(LIMIT);
        assert_eq!(status.code(), Some(128 + sig as i32), "{sig}: {stderr}");
        assert_eq!(
            stderr,
            format!("uds-demo: stopped by {sig}; removed everything this run created\n")
        );
        assert_eq!(leftovers_of(pid), Vec::<String>::new(), "after {sig}");
        for server in servers {
            let gone = (0..200).any(|_| {
                thread::sleep(Duration::from_millis(10));
                !Path::new(&format!("/proc/{server}")).exists()
            });
            assert!(gone, "server {server} outlived the tour stopped by {sig}");
        }
    }
}

/// `uds-demo serve` stopped by SIGHUP or SIGQUIT removes its socket file and directory.
#[test]
fn sighup_and_sigquit_stop_serve_cleanly() {
    for sig in [Signal::SIGHUP, Signal::SIGQUIT] {
        let mut srv = start(BIN, &["serve"], nothing);
        let line = srv.expect_prefix("listening on unix:");
        let path = PathBuf::from(line.trim_start_matches("listening on unix:"));
        stop(&srv, sig);
        let Exited { status, stderr, .. } = srv.finish(LIMIT);
        assert_eq!(status.code(), Some(128 + sig as i32), "{sig}: {stderr}");
        assert_eq!(
            stderr,
            format!("uds-demo: stopped by {sig}; removed everything this run created\n")
        );
        assert!(
            !path.parent().unwrap().exists(),
            "{} left after {sig}",
            path.display()
        );
    }
}

fn ignore_sigchld_block_all(command: &mut Command) {
    testkit::start_carelessly(command);
}

/// Started by a parent that ignores SIGCHLD and blocks every signal (both survive exec), the
/// tour still reaps its servers and finishes, and `serve` still stops on SIGTERM.
#[test]
fn an_inherited_ignored_sigchld_and_blocked_mask_change_nothing() {
    let tour = start(BIN, &[], ignore_sigchld_block_all);
    let pid = tour.id();
    let stdout = finished_ok(tour, "ignored SIGCHLD, all blocked");
    assert!(stdout.contains("removed: true"), "{stdout}");
    assert_eq!(leftovers_of(pid), Vec::<String>::new());
    let mut srv = start(BIN, &["serve"], ignore_sigchld_block_all);
    srv.expect_prefix("listening on unix:");
    stop(&srv, Signal::SIGTERM);
    let Exited { status, stderr, .. } = srv.finish(LIMIT);
    assert_eq!(status.code(), Some(143), "{stderr}");
}

fn umask_0277(command: &mut Command) {
    testkit::with_umask(command, 0o277);
}
fn umask_0377(command: &mut Command) {
    testkit::with_umask(command, 0o377);
}
fn umask_0777(command: &mut Command) {
    testkit::with_umask(command, 0o777);
}

/// Under a restrictive umask, as this user and as nobody (root would read a mode-0 file
/// anyway): the tour works and reports a 0700 directory and a 0600 socket file; `serve` makes
/// the same; nothing is left.
#[test]
fn a_restrictive_umask_keeps_the_promised_modes() {
    let nobody = if is_root() {
        Some(common::binary_for_nobody())
    } else {
        eprintln!("skipped: the runs as nobody (needs root); running as this user only");
        None
    };
    let setups: [(&str, Setup); 3] = [
        ("0277", umask_0277),
        ("0377", umask_0377),
        ("0777", umask_0777),
    ];
    for (mask, setup) in setups {
        let mut runs = vec![(BIN.to_string(), "this user")];
        if let Some(copy) = &nobody {
            runs.push((copy.bin.to_str().unwrap().to_string(), "nobody"));
        }
        for (bin, who) in runs {
            let (program, mut args): (&str, Vec<&str>) = if who == "nobody" {
                let ids = ["--reuid=65534", "--regid=65534", "--clear-groups"];
                ("setpriv", ids.into_iter().chain([bin.as_str()]).collect())
            } else {
                (bin.as_str(), vec![])
            };
            let tour = start(program, &args, setup);
            let pid = tour.id();
            let stdout = finished_ok(tour, &format!("umask {mask}, {who}"));
            assert!(stdout.contains("(mode 0700), DIR below"), "{stdout}");
            assert!(
                stdout.contains("a socket: true, mode 0600, size 0"),
                "{stdout}"
            );
            assert!(stdout.contains("removed: true"), "{stdout}");
            assert_eq!(
                leftovers_of(pid),
                Vec::<String>::new(),
                "umask {mask}, {who}"
            );

            args.push("serve");
            let mut srv = start(program, &args, setup);
            let line = srv.expect_prefix("listening on unix:");
            let path = PathBuf::from(line.trim_start_matches("listening on unix:"));
            let dir = path.parent().unwrap().to_path_buf();
            let mode = |p: &Path| std::fs::symlink_metadata(p).unwrap().permissions().mode();
            assert_eq!(mode(&dir) & 0o777, 0o700, "umask {mask}, {who}");
            assert!(
                std::fs::symlink_metadata(&path)
                    .unwrap()
                    .file_type()
                    .is_socket()
            );
            assert_eq!(mode(&path) & 0o777, 0o600, "umask {mask}, {who}");
            stop(&srv, Signal::SIGTERM);
            let Exited { status, stderr, .. } = srv.finish(LIMIT);
            assert_eq!(status.code(), Some(143), "umask {mask}, {who}: {stderr}");
            assert!(!dir.exists(), "umask {mask}, {who}: {} left", dir.display());
        }
    }
}
