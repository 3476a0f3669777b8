//! Step 2 of the tour (`shm-demo zero-copy`): the lecture's "data copies per
//! transfer: at least 2 vs 0". A sender process hands an 8 MiB frame (the lecture's video
//! compositor) to a receiver process, first through a pipe, then in a shared mapping that the
//! sender draws into and the receiver checks in place. Both are timed, both frames are checked
//! on arrival, and /proc/PID/io says how many bytes each process moved through read() and
//! write() meanwhile: the whole frame twice for the pipe, nothing for shared memory.
//!
//! The tour, a third process, reads /proc/PID/io of the two, so its own reads count for
//! neither. Between start and finish the two make no read() or write() but the frame's: they
//! wait for each other on futexes in a small shared control block.
//!
//! What lives where: this file is the step as the reader sees it, the table and the two
//! claims it decides (and their tests); `zero_copy/handoff.rs` runs one handoff and measures
//! it (the control block, the tour's side and each child's); `zero_copy/frame.rs` is what
//! travels.

mod frame;
mod handoff;

use plumbing::tour::{duration, heading};
use plumbing::verdict::{self, Verdict, judge};
use plumbing::{Result, stop};

use frame::{FRAME_LEN, HEIGHT, WIDTH};
use handoff::{Handoff, Via, handoff};

/// Step 2: the frame handed over through a pipe, then in shared memory, as a table.
pub fn run() -> Result {
    stop::check()?;
    heading(
        2,
        &format!("zero copies: an 8 MiB frame ({WIDTH}x{HEIGHT} RGBA) from a sender process to a"),
    );
    println!("   receiver, through a pipe, then drawn and checked in place in shared");
    println!("   memory. Times are from the moment the sender began; sent and received are");
    println!("   each side's check value of the frame; wchar and rchar are the bytes the");
    println!("   sender wrote and the receiver read with syscalls meanwhile (/proc/PID/io).");
    println!(
        "   {:<14}{:>9}{:>10}  {:<11}{:<11}{:>8}{:>9}",
        "", "arrived", "checked", "sent", "received", "wchar", "rchar"
    );
    let mut handoffs = Vec::new();
    for (via, label) in [(Via::Pipe, "pipe"), (Via::SharedMemory, "shared memory")] {
        let h = handoff(via)?;
        println!(
            "   {label:<14}{:>9}{:>10}  {:<11}{:<11}{:>8}{:>9}",
            duration(h.arrived),
            duration(h.checked),
            format!("{:#010x}", h.sent_check),
            format!("{:#010x}", h.received_check),
            h.sender_wchar,
            h.receiver_rchar
        );
        if h.sent_check != h.received_check {
            return Err(format!("{label}: the frame arrived changed (check values differ)").into());
        }
        handoffs.push(h);
    }
    let (pipe, shm) = (&handoffs[0], &handoffs[1]);
    let moved = [pipe, shm].map(|h| h.sender_wchar + h.receiver_rchar);
    let mib = moved[0] as f64 / (1 << 20) as f64;
    println!("   through read()/write(): the pipe {mib:.1} MiB (the frame copied into the");
    println!("   kernel and out again), shared memory {} bytes", moved[1]);
    let (v, because) = copies_claim(moved, FRAME_LEN as u64);
    verdict::record("zero copies, not a byte through the kernel", v, because);
    let times = |h: &Handoff| [duration(h.arrived), duration(h.checked)];
    let (v, because) = fastest_claim(times(pipe), times(shm));
    verdict::record("shared memory is the fastest IPC", v, because);
    Ok(())
}

/// The lecture: at least 2 copies per transfer for a pipe, 0 for shared memory. `moved` is
/// what the two processes moved through read() and write(), [pipe, shared memory], and
/// `frame` the frame's size: it holds when shared memory moved nothing and the pipe at least
/// the frame twice (into the kernel and out).
pub fn copies_claim(moved: [u64; 2], frame: u64) -> (Verdict, String) {
    let [pipe, shm] = moved;
    let because = format!(
        "shared memory moved {shm} bytes by read()/write(), the pipe {pipe} \
         (2 x the {frame}-byte frame is {})",
        2 * frame
    );
    (judge(shm == 0 && pipe >= 2 * frame, false), because)
}

/// The lecture: shared memory is the fastest IPC. Decided on the times as printed (`pipe`
/// and `shm`: arrived, checked): confirmed when the shared-memory frame arrived sooner and was
/// checked sooner, qualified when only one of the two was sooner, refuted when neither was.
pub fn fastest_claim(pipe: [String; 2], shm: [String; 2]) -> (Verdict, String) {
    let sooner = |i: usize| micros(&shm[i]) < micros(&pipe[i]);
    let (arrived, checked) = (sooner(0), sooner(1));
    let because = format!(
        "the frame arrived after {}, checked after {}; by pipe after {} and {}",
        shm[0], shm[1], pipe[0], pipe[1]
    );
    (judge(arrived || checked, arrived != checked), because)
}

/// A time as [`duration`] prints it ("90 µs", "7.3 ms"), in microseconds.
fn micros(shown: &str) -> f64 {
    let (number, unit) = shown.split_once(' ').unwrap_or((shown, ""));
    let value: f64 = number.parse().unwrap_or(f64::NAN);
    match unit {
        "ms" => value * 1000.0,
        _ => value,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FRAME: u64 = 8 << 20;

    #[test]
    fn no_byte_by_syscall_for_shared_memory_and_two_frames_by_pipe_confirm_zero_copies() {
        let (v, because) = copies_claim([2 * FRAME, 0], FRAME);
        assert_eq!(v, Verdict::Confirmed);
        assert_eq!(
            because,
            "shared memory moved 0 bytes by read()/write(), the pipe 16777216 \
             (2 x the 8388608-byte frame is 16777216)"
        );
        assert_eq!(copies_claim([2 * FRAME, 4096], FRAME).0, Verdict::Refuted);
        assert_eq!(copies_claim([FRAME, 0], FRAME).0, Verdict::Refuted);
    }

    fn shown(times: [&str; 2]) -> [String; 2] {
        times.map(str::to_string)
    }

    #[test]
    fn the_times_as_printed_decide_the_fastest() {
        let pipe = shown(["7.3 ms", "9.7 ms"]);
        let (v, because) = fastest_claim(pipe.clone(), shown(["90 µs", "4.8 ms"]));
        assert_eq!(v, Verdict::Confirmed);
        assert_eq!(
            because,
            "the frame arrived after 90 µs, checked after 4.8 ms; by pipe after 7.3 ms and \
             9.7 ms"
        );
        // Sooner there, but reading 8 MiB in place took as long as the pipe's copy.
        let v = fastest_claim(pipe.clone(), shown(["90 µs", "9.7 ms"])).0;
        assert_eq!(v, Verdict::Qualified);
        let v = fastest_claim(pipe.clone(), shown(["7.4 ms", "9.0 ms"])).0;
        assert_eq!(v, Verdict::Qualified);
        let v = fastest_claim(pipe, shown(["7.3 ms", "12.0 ms"])).0;
        assert_eq!(v, Verdict::Refuted);
        // 999 µs is sooner than 1.0 ms.
        let v = fastest_claim(shown(["1.0 ms", "1.0 ms"]), shown(["999 µs", "999 µs"])).0;
        assert_eq!(v, Verdict::Confirmed);
    }
}
