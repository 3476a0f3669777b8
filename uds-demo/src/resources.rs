//! What a server runs out of, and how it says so: a thread per client (RLIMIT_NPROC, and the
//! address space its stack needs, RLIMIT_AS), a file descriptor per client (RLIMIT_NOFILE).
//! Running out refuses or delays one client; it never ends the server.

use std::io;

use nix::errno::Errno;
use nix::sys::resource::{RLIM_INFINITY, Resource, getrlimit};
use plumbing::Result;

/// The two limits a failed thread start runs into: threads and processes of this user
/// (RLIMIT_NPROC) and this process's address space, where each thread's stack goes (RLIMIT_AS).
pub fn thread_limits() -> String {
    // `ulimit -v` counts KiB, RLIMIT_AS bytes.
    let shown = |resource, per: u64| match getrlimit(resource) {
        Ok((soft, _)) if soft == RLIM_INFINITY => "unlimited".to_string(),
        Ok((soft, _)) => (soft / per).to_string(),
        Err(e) => format!("unknown ({e})"),
    };
    format!(
        "ulimit -u {}, ulimit -v {}",
        shown(Resource::RLIMIT_NPROC, 1),
        shown(Resource::RLIMIT_AS, 1024)
    )
}

/// Refuses to start a server that could run out of file descriptors below `max_clients`: it
/// needs the descriptors open now, the listening socket, one per client, and one more to
/// accept and refuse the client after the last.
pub fn check_open_files(max_clients: usize) -> Result {
    let (soft, _) = getrlimit(Resource::RLIMIT_NOFILE).map_err(|e| format!("getrlimit: {e}"))?;
    // read_dir holds one descriptor of its own while it lists.
    let open = std::fs::read_dir("/proc/self/fd")
        .map_err(|e| format!("list /proc/self/fd: {e}"))?
        .count()
        .saturating_sub(1);
    let needed = open + max_clients + 2;
    if soft != RLIM_INFINITY && needed as u64 > soft {
        return Err(format!(
            "--max-clients {max_clients} needs {needed} open files ({open} open now, the \
             listener, one per client, one to refuse the next) but the limit is {soft}: \
             lower --max-clients or raise ulimit -n"
        )
        .into());
    }
    Ok(())
}

/// An accept() failure that repeats until something is freed (a client leaves), so retrying
/// at once would spin: out of descriptors or kernel memory. With the limit to raise.
pub fn accept_starved(e: &io::Error) -> Option<String> {
    let why = match Errno::from_raw(e.raw_os_error()?) {
        Errno::EMFILE => match getrlimit(Resource::RLIMIT_NOFILE) {
            Ok((soft, _)) => format!("this process may open {soft} files (ulimit -n)"),
            Err(_) => "this process's limit (ulimit -n)".to_string(),
        },
        Errno::ENFILE => "the system's limit, /proc/sys/fs/file-max".to_string(),
        Errno::ENOBUFS | Errno::ENOMEM => "the kernel is short of memory".to_string(),
        _ => return None,
    };
    Some(format!("accept: {e}: {why}"))
}
