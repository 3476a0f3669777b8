//! Step 6: a FIFO's name belongs to the filesystem, not to a process. One process makes it
//! and exits; the name stays (a FIFO of size 0), and two processes started afterwards, which
//! share nothing with the maker, meet through it. Then `rm` removes it, like any file.

use std::fs;
use std::path::Path;

use plumbing::tour::heading;
use plumbing::verdict::{self, Verdict, judge};

use super::describe::{describe_path, file_type};
use super::mkfifo::MadeFifo;
use super::processes::StepProcesses;
use super::said::{ReaderReport, number_after, number_before};

pub fn run(made: &MadeFifo) -> plumbing::Result {
    heading(6, "The FIFO outlives the process that made it");
    let fifo = made.dir.path().join("handoff");
    let mut step = StepProcesses::new();
    let maker = step.start("maker", "make", &fifo, &[])?;
    step.wait_all()?;
    // The maker prints its own pid: the process reaped here is the one that made the FIFO.
    let maker_said = number_after(&step.said(0), "maker ");
    println!("   maker {maker} exited with status 0; its FIFO \"handoff\" is still there:");
    println!("   stat: {}", describe_path(&fifo)?);
    let meta = fs::metadata(&fifo).map_err(|e| format!("stat {}: {e}", fifo.display()))?;
    println!("   a reader and a writer started now meet through it:");
    let mut step = StepProcesses::new();
    step.start("reader", "read", &fifo, &[])?;
    step.start("writer", "write", &fifo, &["temperature: 42"])?;
    step.wait_all()?;
    let got = ReaderReport::from(&step.said(0))?.bytes;
    let sent = number_before(&step.said(1), " bytes in ").unwrap_or(0);
    let maker = Maker {
        reaped: maker,
        said: maker_said,
    };
    let (v, because) = outlives_claim(&maker, file_type(&meta), got, sent);
    verdict::record("a FIFO outlives the process that made it", v, because);
    remove(&fifo)
}

/// The process that made the FIFO: the pid the tour started and reaped, and the pid it
/// printed itself ("maker 7384: made the FIFO").
pub struct Maker {
    pub reaped: i32,
    pub said: Option<u64>,
}

/// The lecture: a FIFO outlives the process that made it. It holds when the process reaped
/// is the one that said it made the FIFO, stat afterwards says `kind` "fifo", and a reader
/// started afterwards got every byte the writer `sent`.
pub fn outlives_claim(maker: &Maker, kind: &str, got: u64, sent: u64) -> (Verdict, String) {
    let same = maker.said == u64::try_from(maker.reaped).ok();
    let who = match (same, maker.said) {
        (true, _) => format!("maker {} exited", maker.reaped),
        (false, Some(said)) => format!("maker {} exited, but pid {said} made it", maker.reaped),
        (false, None) => format!("maker {} exited without saying it made it", maker.reaped),
    };
    let because =
        format!("{who}; then stat said type {kind}, and {got} of {sent} bytes went through it");
    (
        judge(same && kind == "fifo" && got == sent && sent > 0, false),
        because,
    )
}

/// `rm handoff`: unlink(2) removes the name; stat then finds nothing.
fn remove(fifo: &Path) -> plumbing::Result {
    fs::remove_file(fifo).map_err(|e| format!("rm {}: {e}", fifo.display()))?;
    match fs::metadata(fifo) {
        Err(e) => println!("   rm handoff; stat now says: {e}"),
        Ok(_) => return Err(format!("{} still exists after rm", fifo.display()).into()),
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_maker_gone_and_the_name_used_confirm_it() {
        let maker = Maker {
            reaped: 7384,
            said: Some(7384),
        };
        let (v, because) = outlives_claim(&maker, "fifo", 19, 19);
        assert_eq!(v, Verdict::Confirmed);
        assert_eq!(
            because,
            "maker 7384 exited; then stat said type fifo, and 19 of 19 bytes went through it"
        );
        assert_eq!(outlives_claim(&maker, "fifo", 0, 19).0, Verdict::Refuted);
        assert_eq!(
            outlives_claim(&maker, "regular file", 19, 19).0,
            Verdict::Refuted
        );
        // Another process than the one reaped said it made the FIFO.
        let other = Maker {
            reaped: 7384,
            said: Some(7385),
        };
        let (v, because) = outlives_claim(&other, "fifo", 19, 19);
        assert_eq!(v, Verdict::Refuted);
        assert!(because.starts_with("maker 7384 exited, but pid 7385 made it"));
    }
}
