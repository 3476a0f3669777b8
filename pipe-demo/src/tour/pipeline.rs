//! Step 5 of the pipe tour: what the shell does for `ls | grep .rs | wc -l`. Two pipes, three
//! processes, each pipe end handed to the one process that uses it; then the shell's own
//! answer, for comparison.

use std::fs;
use std::os::fd::AsFd;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use nix::sys::stat::{SFlag, fstat};
use plumbing::Result;
use plumbing::tour::heading;
use plumbing::verdict::{self, Verdict, judge};

/// Step 5: what the shell does for `ls | grep .rs | wc -l`: two pipes, three processes.
pub fn run(dir: Option<PathBuf>) -> Result {
    heading(5, "The shell pipeline `ls | grep .rs | wc -l`, by hand");
    println!("   (grep's `.rs` is a regular expression: any one character, then \"rs\")");
    let dir = dir.unwrap_or_else(default_dir);
    fs::read_dir(&dir).map_err(|e| format!("pipeline: cannot list {}: {e}", dir.display()))?;
    let spawn =
        |cmd: &mut Command, name: &str| cmd.spawn().map_err(|e| format!("spawn {name}: {e}"));
    let mut ls = spawn(
        Command::new("ls").current_dir(&dir).stdout(Stdio::piped()),
        "ls",
    )?;
    // Each pipe end moves into the one child that uses it; the parent keeps none, so when
    // `ls` exits, `grep` sees end-of-file, and then `wc` does.
    let ls_out = ls.stdout.take().ok_or("ls has no stdout pipe")?;
    let first = pipe_inode(&ls_out)?;
    let mut grep = spawn(
        Command::new("grep")
            .arg(".rs")
            .stdin(ls_out)
            .stdout(Stdio::piped()),
        "grep",
    )?;
    let grep_out = grep.stdout.take().ok_or("grep has no stdout pipe")?;
    let second = pipe_inode(&grep_out)?;
    let wc = spawn(
        Command::new("wc")
            .arg("-l")
            .stdin(grep_out)
            .stdout(Stdio::piped()),
        "wc",
    )?;
    let wc_id = wc.id();
    let counted = wc
        .wait_with_output()
        .map_err(|e| format!("wait for wc: {e}"))?;
    let ls_status = ls.wait().map_err(|e| format!("wait for ls: {e}"))?;
    if !ls_status.success() {
        return Err(format!("pipeline: ls failed: {ls_status}").into());
    }
    grep.wait().map_err(|e| format!("wait for grep: {e}"))?;

    let shell = Command::new("sh")
        .args(["-c", "ls | grep .rs | wc -l"])
        .current_dir(&dir)
        .output()
        .map_err(|e| format!("run sh: {e}"))?;
    let by_hand = String::from_utf8_lossy(&counted.stdout).trim().to_string();
    let by_shell = String::from_utf8_lossy(&shell.stdout).trim().to_string();
    println!("   in {}:", dir.display());
    println!("   pipes: ls -> grep pipe:[{first}], grep -> wc pipe:[{second}]");
    println!(
        "   by hand (ls {}, grep {}, wc {}): {by_hand}; the shell: {by_shell}",
        ls.id(),
        grep.id(),
        wc_id,
    );
    let (v, because) = pipeline_claim(
        &[first, second],
        &[ls.id(), grep.id(), wc_id],
        &by_hand,
        &by_shell,
    );
    verdict::record(
        "`ls | grep .rs | wc -l` is 2 pipes, 3 processes",
        v,
        because,
    );
    Ok(())
}

/// The inode of the pipe behind `end` (its /proc/PID/fd link reads "pipe:[INODE]"); an error
/// if it is not a pipe.
fn pipe_inode(end: impl AsFd) -> Result<u64> {
    let stat = fstat(end).map_err(|e| format!("fstat: {e}"))?;
    if SFlag::from_bits_truncate(stat.st_mode) & SFlag::S_IFMT != SFlag::S_IFIFO {
        return Err("pipeline: a piped stdout that is not a pipe".into());
    }
    Ok(stat.st_ino)
}

/// The lecture: the shell runs `ls | grep .rs | wc -l` as two pipes and three processes. It
/// holds when the hand-built pipeline used two distinct pipes (`inodes`) and three processes
/// (`pids`) and counted what the shell counted.
pub fn pipeline_claim(
    inodes: &[u64],
    pids: &[u32],
    by_hand: &str,
    shell: &str,
) -> (Verdict, String) {
    let distinct = |mut v: Vec<u64>| {
        v.sort_unstable();
        v.dedup();
        v.len()
    };
    let pipes = distinct(inodes.to_vec());
    let processes = distinct(pids.iter().map(|&p| u64::from(p)).collect());
    let agree = if by_hand == shell { "as" } else { "but" };
    let because = format!(
        "{pipes} pipes and {processes} processes counted {by_hand}, {agree} the shell did {shell}"
    );
    (
        judge(pipes == 2 && processes == 3 && by_hand == shell, false),
        because,
    )
}

/// This crate's own sources, or the current directory for a binary copied elsewhere.
fn default_dir() -> PathBuf {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    if fs::read_dir(&src).is_ok() {
        src
    } else {
        PathBuf::from(".")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn two_pipes_three_processes_and_the_shells_count_confirm_it() {
        let (v, because) = pipeline_claim(&[11, 12], &[100, 101, 102], "7", "7");
        assert_eq!(v, Verdict::Confirmed);
        assert_eq!(
            because,
            "2 pipes and 3 processes counted 7, as the shell did 7"
        );
    }

    #[test]
    fn another_count_or_shape_refutes_it() {
        let (v, because) = pipeline_claim(&[11, 12], &[100, 101, 102], "7", "6");
        assert_eq!(v, Verdict::Refuted);
        assert!(because.ends_with("7, but the shell did 6"), "{because}");
        assert_eq!(
            pipeline_claim(&[11, 11], &[1, 2, 3], "7", "7").0,
            Verdict::Refuted
        );
        assert_eq!(
            pipeline_claim(&[11, 12], &[1, 1, 3], "7", "7").0,
            Verdict::Refuted
        );
    }
}
