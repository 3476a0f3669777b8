//! What `/proc` says about a process: proc(5).

use std::fs;
use std::io;

/// The fields after "(command name)" in `/proc/PID/stat`; the name may hold spaces and
/// parentheses, so split after its last ')'.
fn stat_fields(pid: i32) -> io::Result<Vec<String>> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat"))?;
    let rest = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest)
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "no ')' in /proc/PID/stat"))?;
    Ok(rest.split_whitespace().map(str::to_string).collect())
}

/// The process state letter: R running, S sleeping, D uninterruptible, T stopped, Z zombie...
pub fn state(pid: i32) -> io::Result<char> {
    stat_fields(pid)?
        .first()
        .and_then(|s| s.chars().next())
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "empty /proc/PID/stat"))
}

/// The kernel function a sleeping process waits in (`anon_pipe_write`, `pipe_read`...), or
/// "0" / "" when it is running or the kernel hides it.
pub fn wchan(pid: i32) -> io::Result<String> {
    Ok(fs::read_to_string(format!("/proc/{pid}/wchan"))?
        .trim()
        .to_string())
}

/// A field of `/proc/PID/status` by name ("SigPnd", "ShdPnd", "SigBlk", "SigQ"...).
pub fn status_field(pid: i32, field: &str) -> io::Result<String> {
    let status = fs::read_to_string(format!("/proc/{pid}/status"))?;
    status
        .lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .map(|v| v.trim().to_string())
        .ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::NotFound,
                format!("no {field} in /proc/{pid}/status"),
            )
        })
}

/// A number from a `/proc/sys` knob such as `fs/pipe-max-size`.
pub fn sys_knob(knob: &str) -> io::Result<u64> {
    let path = format!("/proc/sys/{knob}");
    let text = fs::read_to_string(&path)
        .map_err(|e| io::Error::new(e.kind(), format!("read {path}: {e}")))?;
    text.trim()
        .parse()
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, format!("{path}: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn we_are_running_with_a_status() {
        let me = std::process::id() as i32;
        // The main thread waits for the test threads: running or sleeping, never a zombie.
        assert!(matches!(state(me).expect("stat"), 'R' | 'S'));
        assert!(
            status_field(me, "SigBlk")
                .expect("status")
                .chars()
                .all(|c| c.is_ascii_hexdigit())
        );
        assert!(sys_knob("fs/pipe-max-size").expect("knob") >= 4096);
    }
}
