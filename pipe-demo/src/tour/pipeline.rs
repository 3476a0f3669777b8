//! Step 5 of the pipe tour: what the shell does for `ls | grep .rs | wc -l`. Two pipes, three
//! processes, each pipe end handed to the one process that uses it; then the shell's own
//! answer, for comparison.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use plumbing::Result;

/// Step 5: what the shell does for `ls | grep .rs | wc -l`: two pipes, three processes.
pub fn run(dir: Option<PathBuf>) -> Result {
    println!("\nStep 5. The shell pipeline `ls | grep .rs | wc -l`, by hand");
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
    let mut grep = spawn(
        Command::new("grep")
            .arg(".rs")
            .stdin(ls_out)
            .stdout(Stdio::piped()),
        "grep",
    )?;
    let grep_out = grep.stdout.take().ok_or("grep has no stdout pipe")?;
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
    println!("   in {}:", dir.display());
    println!(
        "   by hand (ls {}, grep {}, wc {}): {}; the shell: {}",
        ls.id(),
        grep.id(),
        wc_id,
        String::from_utf8_lossy(&counted.stdout).trim(),
        String::from_utf8_lossy(&shell.stdout).trim()
    );
    Ok(())
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
