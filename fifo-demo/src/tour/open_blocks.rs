//! Step 2: open(2) on a FIFO blocks until the other end is opened too. A non-blocking open
//! for writing with no reader fails at once (ENXIO); a reader started first waits in open()
//! until the writer, started 300 ms later, arrives. While it waits it holds no descriptor of
//! the FIFO: reader and writer are separate programs that inherit nothing, and meet by name.

use std::fs::{self, OpenOptions};
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;
use std::time::Duration;

use nix::errno::Errno;
use nix::fcntl::OFlag;
use plumbing::stop;
use plumbing::tour::heading;
use plumbing::verdict::{self, Verdict, judge};

use super::mkfifo::MadeFifo;
use super::processes::StepProcesses;
use super::said::{ReaderReport, duration_after, number_before};

/// How long the writer starts after the reader.
const WRITER_LATER: Duration = Duration::from_millis(300);

pub fn run(made: &MadeFifo) -> plumbing::Result {
    heading(2, "open() blocks until both ends are open");
    let fifo = &made.fifo;
    let refused = match OpenOptions::new()
        .write(true)
        .custom_flags(OFlag::O_NONBLOCK.bits())
        .open(fifo)
    {
        Err(e) => {
            println!("   no process has it open for reading yet, so");
            let errno = Errno::from_raw(e.raw_os_error().unwrap_or(0));
            println!(
                "   open(O_WRONLY|O_NONBLOCK) fails: {errno:?}, {}",
                errno.desc()
            );
            Some(errno)
        }
        Ok(_) => {
            println!("   open(O_WRONLY|O_NONBLOCK) succeeded: someone else has it open");
            None
        }
    };
    let mut step = StepProcesses::new();
    let reader = step.start("reader", "read", fifo, &[])?;
    println!("   started reader (pid {reader}); the writer starts 300 ms later");
    stop::pause(WRITER_LATER)?;
    let held = descriptors_in_open(&step, reader, fifo)?;
    step.start("writer", "write", fifo, &["temperature: 42"])?;
    step.wait_all()?;
    let (read, wrote) = (ReaderReport::from(&step.said(0))?, step.said(1));
    let waited = |lines: &[String], marker| {
        duration_after(lines, marker).ok_or_else(|| format!("no {marker:?} in {lines:?}"))
    };
    let reader_wait = waited(&step.said(0), "open returned after ")?;
    let writer_wait = waited(&wrote, "open waited ")?;
    let (v, because) = open_waits_claim(refused, &reader_wait, &writer_wait.0);
    verdict::record("open() waits for the other end", v, because);
    let sent = number_before(&wrote, " bytes in ").unwrap_or(0);
    let (v, because) = meet_claim(&held, read.bytes, sent);
    verdict::record("unrelated processes meet through the name", v, because);
    Ok(())
}

/// The descriptors `reader` holds while it waits in open(): the targets of /proc/PID/fd/*,
/// each with whether it is the FIFO. Read once it has said it is about to open the FIFO, so
/// after its exec: before it, a child still holds copies of the tour's descriptors.
fn descriptors_in_open(
    step: &StepProcesses,
    reader: i32,
    fifo: &Path,
) -> plumbing::Result<Vec<(String, bool)>> {
    let about_to_open = step.line_with(0, "open(O_RDONLY) blocks", Duration::from_secs(10))?;
    about_to_open.ok_or_else(|| format!("reader {reader} never reached open()"))?;
    let dir = format!("/proc/{reader}/fd");
    let mut held = Vec::new();
    for entry in fs::read_dir(&dir).map_err(|e| format!("read {dir}: {e}"))? {
        let entry = entry.map_err(|e| format!("read {dir}: {e}"))?;
        let fd = entry.file_name().to_string_lossy().into_owned();
        let target = fs::read_link(entry.path()).unwrap_or_default();
        held.push((fd, target == fifo));
    }
    held.sort_by_key(|(fd, _)| fd.parse::<u32>().unwrap_or(u32::MAX));
    let fds: Vec<&str> = held.iter().map(|(fd, _)| fd.as_str()).collect();
    let of_fifo = match held.iter().filter(|(_, is_fifo)| *is_fifo).count() {
        0 => "none of them the FIFO".to_string(),
        n => format!("{n} of them the FIFO"),
    };
    println!(
        "   reader {reader}, in open(), holds fds {}: {of_fifo}",
        fds.join(" ")
    );
    Ok(held)
}

/// The lecture: open() of a FIFO waits until the other end is opened. It holds when a
/// non-blocking open for writing with no reader failed with ENXIO (`refused`), and the
/// reader, started 300 ms before the writer, waited in open() for at least half of that, and
/// longer than the writer did. `reader_wait` is the time as printed and in ms.
pub fn open_waits_claim(
    refused: Option<Errno>,
    reader_wait: &(String, f64),
    writer_wait: &str,
) -> (Verdict, String) {
    let refused_as = refused.map_or("it succeeded".to_string(), |e| format!("{e:?}"));
    let because = format!(
        "O_NONBLOCK write open with no reader: {refused_as}; the reader's open() took {}, \
         the writer's {writer_wait}",
        reader_wait.0
    );
    let half = WRITER_LATER.as_secs_f64() * 1000.0 / 2.0;
    let holds = refused == Some(Errno::ENXIO) && reader_wait.1 >= half;
    (judge(holds, false), because)
}

/// The lecture: unrelated processes can meet through a FIFO's name. It holds when the reader,
/// waiting in open(), held no descriptor of the FIFO (`held`: each fd, and whether it is the
/// FIFO), and then read every byte the writer sent.
pub fn meet_claim(held: &[(String, bool)], got: u64, sent: u64) -> (Verdict, String) {
    let of_fifo = held.iter().filter(|(_, is_fifo)| *is_fifo).count();
    let because = format!(
        "the reader held {} fds, {of_fifo} of the FIFO, before open(); \
         it then read {got} of the writer's {sent} bytes",
        held.len()
    );
    (
        judge(of_fifo == 0 && got == sent && sent > 0, false),
        because,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn enxio_and_a_long_wait_confirm_that_open_waits() {
        let waited = ("304.3 ms".to_string(), 304.3);
        let (v, because) = open_waits_claim(Some(Errno::ENXIO), &waited, "0.0 ms");
        assert_eq!(v, Verdict::Confirmed);
        assert_eq!(
            because,
            "O_NONBLOCK write open with no reader: ENXIO; the reader's open() took \
             304.3 ms, the writer's 0.0 ms"
        );
        let quick = ("2.1 ms".to_string(), 2.1);
        assert_eq!(
            open_waits_claim(Some(Errno::ENXIO), &quick, "0.0 ms").0,
            Verdict::Refuted
        );
        let (v, because) = open_waits_claim(None, &waited, "0.0 ms");
        assert_eq!(v, Verdict::Refuted);
        assert!(because.contains("no reader: it succeeded;"), "{because}");
    }

    #[test]
    fn a_descriptor_of_the_fifo_held_before_open_refutes_meeting_by_name() {
        let fds = |fifo: bool| {
            vec![
                ("0".to_string(), false),
                ("1".to_string(), false),
                ("2".to_string(), fifo),
            ]
        };
        let (v, because) = meet_claim(&fds(false), 19, 19);
        assert_eq!(v, Verdict::Confirmed);
        assert_eq!(
            because,
            "the reader held 3 fds, 0 of the FIFO, before open(); \
             it then read 19 of the writer's 19 bytes"
        );
        assert_eq!(meet_claim(&fds(true), 19, 19).0, Verdict::Refuted);
        assert_eq!(meet_claim(&fds(false), 0, 19).0, Verdict::Refuted);
    }
}
