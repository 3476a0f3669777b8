//! The whole tour, run as a user runs it; assertions are on the numbers it printed.
#![allow(clippy::unwrap_used)]

mod common;

use std::io::{BufRead, BufReader, Read};
use std::os::unix::process::CommandExt;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use common::{BIN, Running, is_root};

fn run_tour() -> (Output, String) {
    let out = Command::new(BIN).output().expect("run tour");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    (out, text)
}

fn line_with<'a>(text: &'a str, needle: &str) -> &'a str {
    text.lines()
        .find(|l| l.contains(needle))
        .unwrap_or_else(|| panic!("no line with {needle:?} in:\n{text}"))
}

/// The numbers inside the first `[...]` of a line.
fn list_in(line: &str) -> Vec<usize> {
    let inner = &line[line.find('[').unwrap() + 1..line.find(']').unwrap()];
    inner.split(", ").map(|n| n.parse().unwrap()).collect()
}

/// `as_root`: whether the tour ran as root (and so could show the refusal of another uid).
fn assert_tour_output(out: &Output, text: &str, as_root: bool) {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "tour failed: {stderr}\n{text}");
    assert!(!stderr.contains("panicked"), "{stderr}");

    // 1: the socket file as observed: a socket, 0600, empty; the directory 0700.
    assert!(line_with(text, "private directory").contains(" (mode 0700)"));
    assert!(
        line_with(text, "its socket file:").ends_with("a socket: true, mode 0600, size 0"),
        "{text}"
    );
    // 2: the same echo lines over AF_INET as over AF_UNIX.
    let echoes: Vec<&str> = text
        .lines()
        .filter(|l| l.trim_start().starts_with("sent "))
        .collect();
    assert_eq!(echoes.len(), 6, "{text}");
    assert_eq!(
        echoes[..3],
        echoes[3..],
        "AF_UNIX and AF_INET printed different echoes"
    );
    assert!(line_with(text, "lines identical to step 1's").contains("3 of 3"));
    // 2: the one line that differs, as the example has it.
    assert!(line_with(text, "     AF_UNIX  ").ends_with("= UnixListener::bind(&path)"));
    assert!(line_with(text, "     AF_INET  ").ends_with("= TcpListener::bind(addr)"));
    // 2: one p50 / p99 per placement (two with two CPUs), p50 never above p99.
    let columns = line_with(text, "same CPU ").matches("CPU").count();
    let cpus = std::thread::available_parallelism().unwrap().get();
    assert_eq!(columns, cpus.min(2), "{cpus} CPUs allowed");
    for family in ["   AF_UNIX   ", "   AF_INET   "] {
        let row = line_with(text, family);
        let cells: Vec<Vec<f64>> = row[family.len()..]
            .split_whitespace()
            .collect::<Vec<_>>()
            .chunks(3)
            .map(|c| [c[0], c[2]].iter().map(|n| n.parse().unwrap()).collect())
            .collect();
        assert_eq!(cells.len(), columns, "{row}");
        assert!(cells.iter().all(|c| 0.0 < c[0] && c[0] <= c[1]), "{row}");
    }
    // 3: one read got all bytes of the stream; the datagram reads match the writes one to one.
    let wrote: Vec<usize> = line_with(text, "wrote ")
        .split_whitespace()
        .filter_map(|w| w.parse().ok())
        .collect();
    let stream = list_in(line_with(text, "UnixStream:   "));
    let dgram = list_in(line_with(text, "UnixDatagram: "));
    assert_eq!(stream.iter().sum::<usize>(), wrote.iter().sum::<usize>());
    assert!(
        stream.len() < wrote.len(),
        "stream kept boundaries? {stream:?}"
    );
    assert_eq!(dgram, wrote);
    // 4: the receiver read through the fd of a file that no longer had a name.
    assert!(line_with(text, "and unlinked it").ends_with("exists now: false"));
    assert!(line_with(text, "it replied with the").contains("\"temperature: 42\\n\""));
    // 5: abstract name listed by the kernel, no file; SO_PEERCRED names this pid.
    let listed = line_with(text, "listed in /proc/net/unix");
    assert!(
        listed.contains(": true;") && listed.ends_with("in the temp dir: false"),
        "{listed}"
    );
    let cred = line_with(text, "the server learned from the kernel");
    let tour_pid = out_pid(text);
    assert!(
        cred.contains(&format!("peer pid={tour_pid} ")),
        "{cred} (tour pid {tour_pid})"
    );
    // As root from a checkout uid 65534 cannot enter, the tour says so and skips that part.
    if as_root && !text.contains("another uid: skipped (uid 65534 cannot execute") {
        assert!(
            line_with(text, "the server: conn 2: refused: peer uid 65534")
                .contains("is not the server's uid")
        );
    } else {
        line_with(text, "another uid: skipped");
    }
    // 6: every hostile client got its own error, and the first client was still served.
    assert!(line_with(text, "length 4294967295").contains("exceeds the limit"));
    assert!(line_with(text, "garbage").contains("not a frame"));
    assert!(line_with(text, "truncated frame").contains("the peer closed after"));
    assert!(line_with(text, "stalls at 3 bytes").contains("stalled"));
    assert!(line_with(text, "still gets its echo").ends_with("\"temperature: 43\""));
    // 7: stale socket found by a refused connect and replaced; long path refused before bind.
    assert!(line_with(text, "SIGKILLed the server").ends_with("still there: true"));
    assert!(line_with(text, "connect to it").contains("refused"));
    assert!(line_with(text, "replaced stale socket file").contains("DIR/stale.sock"));
    // (the reading is drawn per run: tests/verdicts.rs checks it against what was sent)
    assert!(line_with(text, "and echoed").contains(" \"temperature: "));
    line_with(text, "is refused before bind");
    assert!(line_with(text, "socket path too long").contains("sun_path"));
    testkit::assert_fits_80_columns(text, |_| false);
    // 8: step 2's serve and client across two network namespaces (root), else over loopback
    // with the reason in one line.
    let server = line_with(text, "   server (pid ");
    if as_root && !text.contains("no namespaces: cannot run `ip`") {
        line_with(text, "server side ipc-tour-uds-ns-");
        assert!(server.contains("conn 1: peer 10.0.0.2:"), "{server}");
    } else {
        assert!(line_with(text, "no namespaces: ").contains("needs root"));
        assert!(server.contains("conn 1: peer 127.0.0.1:"), "{server}");
    }
    assert!(line_with(text, "   client (pid ").contains("echo: temperature: "));
    assert!(line_with(text, "done:").ends_with("removed: true"));
    let pid = out_pid(text);
    assert_eq!(namespaces_of(pid), Vec::<String>::new(), "namespaces left");
}

/// The network namespaces named after the tour `pid` (`ip netns add` keeps them in /run/netns).
fn namespaces_of(pid: u32) -> Vec<String> {
    let prefix = format!("ipc-tour-uds-ns-{pid}-");
    let Ok(entries) = std::fs::read_dir("/run/netns") else {
        return Vec::new();
    };
    entries
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(&prefix))
        .collect()
}

/// Ctrl-C while step 8 sets up or uses its namespaces: the tour stops with 130, and the
/// namespaces (with their veth pair) are deleted on the way out.
#[test]
fn ctrl_c_during_step_8_deletes_its_namespaces() {
    if !is_root() {
        eprintln!("skipped: only root creates the namespaces this test checks");
        return;
    }
    for delay_ms in [0, 20, 60] {
        let mut tour = Command::new(BIN)
            .process_group(0)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut stdout = BufReader::new(tour.stdout.take().unwrap());
        read_through(&mut stdout, "8. Processes as nodes");
        std::thread::sleep(Duration::from_millis(delay_ms));
        let group = nix::unistd::Pid::from_raw(-(tour.id() as i32));
        nix::sys::signal::kill(group, nix::sys::signal::Signal::SIGINT).unwrap();
        let status = testkit::exit_within(&mut tour, Duration::from_secs(5), "uds-demo");
        let mut rest = String::new();
        stdout.read_to_string(&mut rest).unwrap();
        // Too late is possible on a fast machine: the tour may have finished step 8.
        if status.code() != Some(0) {
            assert_eq!(status.code(), Some(130), "after {delay_ms} ms: {rest}");
        }
        let mut stderr = String::new();
        let mut pipe = tour.stderr.take().unwrap();
        pipe.read_to_string(&mut stderr).unwrap();
        assert_eq!(
            namespaces_of(tour.id()),
            Vec::<String>::new(),
            "after {delay_ms} ms: {status}\n{rest}\n{stderr}"
        );
    }
}

/// The default run in an 80-column terminal: no line wider.
#[test]
fn every_line_of_the_tour_fits_80_columns() {
    let out = Command::new(BIN).env("COLUMNS", "80").output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    testkit::assert_fits_80_columns(&text, |_| false);
}

/// A step run alone (by number or by name) prints the number it has in the tour, and no other
/// step; step 2 runs step 1 first.
#[test]
fn a_step_run_alone_keeps_its_tour_number() {
    for (arg, steps) in [
        ("1", &["1."][..]),
        ("inet", &["1.", "2."]),
        ("3", &["3."]),
        ("pass-fd", &["4."]),
        ("abstract", &["5."]),
        ("6", &["6."]),
        ("stale", &["7."]),
        ("8", &["8."]),
    ] {
        let out = Command::new(BIN).arg(arg).output().unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "{arg}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let numbered: Vec<&str> = text
            .lines()
            .filter_map(|l| l.split_once(' ').map(|(n, _)| n))
            .filter(|n| n.ends_with('.') && n[..n.len() - 1].parse::<u8>().is_ok())
            .collect();
        assert_eq!(numbered, steps, "uds-demo {arg}:\n{text}");
        assert!(text.contains("removed: true"), "{text}");
    }
}

fn out_pid(text: &str) -> u32 {
    let line = line_with(text, "(this tour is pid ");
    line.split_whitespace()
        .nth(4)
        .unwrap()
        .trim_end_matches(',')
        .parse()
        .unwrap()
}

#[test]
fn the_tour_prints_what_it_observed() {
    let (out, text) = run_tour();
    println!("{text}");
    assert_tour_output(&out, &text, is_root());
}

#[test]
fn two_tours_at_the_same_time_both_succeed() {
    let a = std::thread::spawn(run_tour);
    let b = std::thread::spawn(run_tour);
    for (out, text) in [a.join().unwrap(), b.join().unwrap()] {
        assert_tour_output(&out, &text, is_root());
    }
}

#[test]
fn the_tour_runs_as_an_unprivileged_user() {
    if !is_root() {
        println!("skipped: already unprivileged (the other tests run the tour as this user)");
        return;
    }
    let copy = common::binary_for_nobody();
    let out = copy.command().env("TMPDIR", "/tmp").output();
    let Ok(out) = out else {
        println!("skipped: setpriv is not available");
        return;
    };
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert_tour_output(&out, &text, false);
    assert!(line_with(&text, "(this tour is pid ").contains("uid 65534"));
}

/// SIGKILL the tour mid-run: its servers die on their own (PR_SET_PDEATHSIG) within 2 s, and
/// the next run succeeds and sweeps the dead run's directory.
#[test]
fn a_sigkilled_tour_leaves_no_server_and_the_next_run_succeeds() {
    // Orphans are re-parented to this test process, so it can see and reap them (no zombies).
    nix::sys::prctl::set_child_subreaper(true).unwrap();
    let mut tour = Running::spawn(BIN, &[]);
    let dir = tour
        .wait_line("private directory ", Duration::from_secs(5))
        .unwrap();
    let dir = dir["private directory ".len()..]
        .split(" (mode")
        .next()
        .unwrap()
        .to_string();
    tour.wait_line("6. Framing", Duration::from_secs(10))
        .expect("tour reached step 6");
    let children = children_of(tour.pid().as_raw());
    assert!(!children.is_empty(), "no server running during step 6");
    tour.kill();
    for pid in children {
        let gone = (0..200).any(|_| {
            std::thread::sleep(Duration::from_millis(10));
            !alive(pid)
        });
        assert!(gone, "server pid {pid} outlived the SIGKILLed tour by 2 s");
        let _ = nix::sys::wait::waitpid(nix::unistd::Pid::from_raw(pid), None); // reap
    }
    let (out, text) = run_tour();
    assert_tour_output(&out, &text, is_root());
    assert!(
        !std::path::Path::new(&dir).exists(),
        "{dir} from the killed run is still there"
    );
}

/// Pids whose parent is `ppid`, from /proc.
fn children_of(ppid: i32) -> Vec<i32> {
    let mut pids = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        let after = &stat[stat.rfind(')').unwrap() + 2..];
        if after.split_whitespace().nth(1) == Some(&ppid.to_string()) {
            pids.push(pid);
        }
    }
    pids
}

/// Running (not a zombie, not gone).
fn alive(pid: i32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => {
            let after = &stat[stat.rfind(')').unwrap() + 2..];
            !after.starts_with('Z') && !after.starts_with('X')
        }
        Err(_) => false,
    }
}

/// Reads the tour's stdout through the first line containing `needle`; returns the lines read.
fn read_through(stdout: &mut impl BufRead, needle: &str) -> Vec<String> {
    let mut lines = Vec::new();
    loop {
        let mut line = String::new();
        assert!(
            stdout.read_line(&mut line).unwrap() > 0,
            "no {needle:?} in {lines:?}"
        );
        lines.push(line);
        if lines.last().unwrap().contains(needle) {
            return lines;
        }
    }
}

/// The tour's private directory, from its "private directory <path> (mode 0700)" line.
fn private_dir(lines: &[String]) -> String {
    let line = lines
        .iter()
        .find_map(|l| l.strip_prefix("private directory "))
        .unwrap();
    line.split(" (mode").next().unwrap().to_string()
}

/// Ctrl-C (SIGINT to the whole process group, servers included) while step 6 waits on its
/// stalled client: no result line for that cut-short probe, only the stop message.
#[test]
fn ctrl_c_during_a_probe_prints_no_result_for_it() {
    let mut tour = Command::new(BIN)
        .process_group(0) // a terminal's Ctrl-C reaches every process of the group
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(tour.stdout.take().unwrap());
    let mut lines = read_through(&mut stdout, "truncated frame");
    // The next probe, "stall after 3 bytes", now waits 500 ms for the server to give up.
    let group = nix::unistd::Pid::from_raw(-(tour.id() as i32));
    nix::sys::signal::kill(group, nix::sys::signal::Signal::SIGINT).unwrap();
    let status = testkit::exit_within(&mut tour, Duration::from_secs(3), "uds-demo");
    let mut rest = String::new();
    stdout.read_to_string(&mut rest).unwrap();
    lines.extend(rest.lines().map(String::from));
    let mut stderr = String::new();
    tour.stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    assert_eq!(status.code(), Some(130), "{stderr}");
    assert!(!rest.contains("stalls at"), "{rest}");
    assert_eq!(
        stderr,
        "uds-demo: stopped by SIGINT; removed everything this run created\n"
    );
    let dir = private_dir(&lines);
    assert!(!std::path::Path::new(&dir).exists(), "{dir} left behind");
}

/// `uds-demo | head -3`: nothing on stderr and exit status 141, as if SIGPIPE had ended it;
/// the servers are stopped and the private directory removed on the way out.
#[test]
fn a_closed_stdout_ends_the_tour_quietly_with_141() {
    for lines in [3, 12] {
        let mut tour = Command::new(BIN)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut stdout = BufReader::new(tour.stdout.take().unwrap());
        let mut seen = Vec::new();
        for _ in 0..lines {
            let mut line = String::new();
            stdout.read_line(&mut line).unwrap();
            seen.push(line);
        }
        drop(stdout); // what `head` does when it has enough
        let status = testkit::exit_within(&mut tour, Duration::from_secs(5), "uds-demo");
        let mut stderr = String::new();
        tour.stderr
            .take()
            .unwrap()
            .read_to_string(&mut stderr)
            .unwrap();
        assert_eq!(status.code(), Some(141), "after {lines} lines: {stderr}");
        assert_eq!(stderr, "", "after {lines} lines");
        let dir = private_dir(&seen);
        assert!(!std::path::Path::new(&dir).exists(), "{dir} left behind");
    }
}

/// `uds-demo > /dev/full`: one line naming the failure, exit status 1, and the private
/// directory (named after the tour's pid) removed on the way out.
#[test]
fn a_full_stdout_is_one_line_and_status_1() {
    let Ok(full) = std::fs::OpenOptions::new().write(true).open("/dev/full") else {
        println!("skipped: no /dev/full");
        return;
    };
    let tour = Command::new(BIN)
        .stdout(full)
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = tour.id();
    let out = tour.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.starts_with("uds-demo: cannot write to stdout: "),
        "{stderr}"
    );
    let prefix = format!("ipc-tour-uds-{pid}-");
    let left: Vec<_> = std::fs::read_dir(std::env::temp_dir())
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with(&prefix))
        .map(|e| e.path())
        .collect();
    assert!(left.is_empty(), "left behind: {left:?}");
}
