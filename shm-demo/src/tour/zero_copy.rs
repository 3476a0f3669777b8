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

use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::AsFd;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use nix::sys::signal::Signal;
use nix::time::{ClockId, clock_gettime};
use nix::unistd::{Pid, pipe};
use plumbing::child::{self, Child};
use plumbing::tour::{duration, heading};
use plumbing::verdict::{self, Verdict, judge};
use plumbing::{Result, stop};
use shm_demo::SharedMapping;

const WIDTH: usize = 2048;
const HEIGHT: usize = 1024;
/// 2048 x 1024 RGBA pixels: 8 MiB.
const FRAME_LEN: usize = WIDTH * HEIGHT * 4;
/// The longest any side waits for the other.
const LIMIT: Duration = Duration::from_secs(20);

/// The control block both children and the tour share. Zero is a valid start for every field.
#[repr(C)]
struct Control {
    /// Children that have set up (frame drawn, buffers touched) and wait for `go`.
    ready: AtomicU32,
    /// Futex word: 1 when the tour has read /proc and the handoff may begin.
    go: AtomicU32,
    /// Futex word, shared memory only: 1 when the sender has published the frame.
    published: AtomicU32,
    /// Children that have finished their part of the handoff.
    done: AtomicU32,
    /// Futex word: 1 when the tour has read /proc again and the children may exit.
    release: AtomicU32,
    sent_check: AtomicU32,
    received_check: AtomicU32,
    /// CLOCK_MONOTONIC, in ns: the sender began / the frame was there / it was checked.
    started_ns: AtomicU64,
    arrived_ns: AtomicU64,
    checked_ns: AtomicU64,
}

/// How the frame travels.
#[derive(Clone, Copy)]
enum Via {
    Pipe,
    SharedMemory,
}

/// What one handoff showed.
struct Handoff {
    arrived: Duration,
    checked: Duration,
    sent_check: u32,
    received_check: u32,
    sender_wchar: u64,
    receiver_rchar: u64,
}

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

/// One handoff by `via`: fork the two sides, let them set up, read /proc/PID/io, start
/// them, wait until both are done, read /proc/PID/io again, let them exit.
fn handoff(via: Via) -> Result<Handoff> {
    let control_map = SharedMapping::new(size_of::<Control>()).map_err(|e| e.to_string())?;
    // SAFETY: page aligned, zero filled and large enough: a valid `Control` (atomics only),
    // used by this process and its two children through atomic operations only.
    let control = unsafe { &*control_map.as_ptr().cast::<Control>() };
    let seed = monotonic_ns()? ^ u64::from(std::process::id()) << 40;
    let mut children = match via {
        Via::Pipe => {
            let (read_end, write_end) = pipe().map_err(|e| format!("pipe: {e}"))?;
            let (read_end, write_end) = (File::from(read_end), File::from(write_end));
            // Each child closes the end it does not use, so the other sees EOF or EPIPE if
            // it dies; the tour closes both once the two are forked (at the end of this arm).
            let sender = child::fork_closing(&[read_end.as_fd()], || {
                pipe_sender(control, &write_end, seed)
            })?;
            let receiver =
                child::fork_closing(&[write_end.as_fd()], || pipe_receiver(control, &read_end))?;
            vec![sender, receiver]
        }
        Via::SharedMemory => {
            let frame = SharedMapping::new(FRAME_LEN).map_err(|e| e.to_string())?;
            let frame = &frame;
            let sender = child::fork(|| shm_sender(control, frame, seed))?;
            let receiver = child::fork(|| shm_receiver(control, frame))?;
            vec![sender, receiver]
        }
    };
    let counted = count_io(control, &mut children);
    if counted.is_err() {
        // Kill both before reaping either: a side that outlived the other by a moment would
        // report its peer's death, which is not what went wrong.
        for child in children.iter().filter(|c| !c.is_reaped()) {
            let _ = child.signal(Signal::SIGKILL);
        }
    }
    let [before, after] = counted?;
    child::wait_all(&mut children, LIMIT)?;
    let since_start = |ns: &AtomicU64| {
        let start = control.started_ns.load(Ordering::Acquire);
        Duration::from_nanos(ns.load(Ordering::Acquire).saturating_sub(start))
    };
    Ok(Handoff {
        arrived: since_start(&control.arrived_ns),
        checked: since_start(&control.checked_ns),
        sent_check: control.sent_check.load(Ordering::Acquire),
        received_check: control.received_check.load(Ordering::Acquire),
        sender_wchar: after[0].saturating_sub(before[0]),
        receiver_rchar: after[1].saturating_sub(before[1]),
    })
}

/// Lets the two children run the handoff and returns what /proc/PID/io says of them before
/// and after: [sender wchar, receiver rchar] each time.
fn count_io(control: &Control, children: &mut [Child]) -> Result<[[u64; 2]; 2]> {
    let [sender, receiver] = [children[0].pid(), children[1].pid()];
    await_count(&control.ready, children)?;
    let before = [io_field(sender, "wchar")?, io_field(receiver, "rchar")?];
    control.go.store(1, Ordering::Release);
    futex_wake(&control.go);
    await_count(&control.done, children)?;
    let after = [io_field(sender, "wchar")?, io_field(receiver, "rchar")?];
    control.release.store(1, Ordering::Release);
    futex_wake(&control.release);
    Ok([before, after])
}

/// Waits (bounded) until both children have counted themselves in `counter`; a child that
/// fails or dies first ends the wait with its status.
fn await_count(counter: &AtomicU32, children: &mut [Child]) -> Result {
    let deadline = Instant::now() + LIMIT;
    while counter.load(Ordering::Acquire) < 2 {
        for child in children.iter_mut() {
            if let Some(status) = child.try_wait(nix::sys::wait::WaitPidFlag::empty())? {
                let how = child::describe(status);
                return Err(format!("child {} {how} before the handoff ended", child.pid()).into());
            }
        }
        stop::check()?;
        if Instant::now() > deadline {
            return Err(format!("the two sides did not finish within {LIMIT:?}").into());
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    Ok(())
}

fn pipe_sender(control: &Control, mut pipe: &File, seed: u64) -> Result {
    let mut frame = vec![0; FRAME_LEN];
    draw(&mut frame, seed);
    control
        .sent_check
        .store(check_value(&frame), Ordering::Release);
    start_when_told(control)?;
    pipe.write_all(&frame)
        .map_err(|e| format!("write the frame to the pipe: {e}"))?;
    finish(control)
}

fn pipe_receiver(control: &Control, mut pipe: &File) -> Result {
    let mut frame = vec![0; FRAME_LEN];
    frame.fill(1); // touch every page now, so the handoff does not pay for page faults
    count_in(&control.ready);
    futex_wait_for(&control.go)?;
    pipe.read_exact(&mut frame).map_err(|e| match e.kind() {
        std::io::ErrorKind::UnexpectedEof => "the sender died before the whole frame came".into(),
        _ => format!("read the frame from the pipe: {e}"),
    })?;
    control.arrived_ns.store(monotonic_ns()?, Ordering::Release);
    control
        .received_check
        .store(check_value(&frame), Ordering::Release);
    control.checked_ns.store(monotonic_ns()?, Ordering::Release);
    finish(control)
}

fn shm_sender(control: &Control, frame: &SharedMapping, seed: u64) -> Result {
    // SAFETY: the mapping is FRAME_LEN bytes. Until `published` the receiver only loads one
    // byte per page through an atomic (to map the pages), so this is the only writer and no
    // reference in this process aliases it.
    let pixels = unsafe { std::slice::from_raw_parts_mut(frame.as_ptr(), FRAME_LEN) };
    draw(pixels, seed);
    control
        .sent_check
        .store(check_value(pixels), Ordering::Release);
    start_when_told(control)?;
    // The handoff itself: one store and one wake-up. Not a byte is copied.
    control.published.store(1, Ordering::Release);
    futex_wake(&control.published);
    finish(control)
}

fn shm_receiver(control: &Control, frame: &SharedMapping) -> Result {
    // Map every page into this process now (a read fault each), as a compositor that reuses
    // its buffers has them mapped, so the handoff does not pay for page faults.
    for page in (0..FRAME_LEN).step_by(4096) {
        // SAFETY: in bounds; an atomic load of one byte the sender may be writing is a value.
        let byte = unsafe {
            &*frame
                .as_ptr()
                .add(page)
                .cast::<std::sync::atomic::AtomicU8>()
        };
        byte.load(Ordering::Relaxed);
    }
    count_in(&control.ready);
    futex_wait_for(&control.published)?;
    control.arrived_ns.store(monotonic_ns()?, Ordering::Release);
    // SAFETY: `published` was stored with Release after the sender's last write to the frame,
    // and loaded with Acquire above; the sender never writes it again, so the bytes stay put
    // while this shared slice lives.
    let pixels = unsafe { std::slice::from_raw_parts(frame.as_ptr(), FRAME_LEN) };
    control
        .received_check
        .store(check_value(pixels), Ordering::Release);
    control.checked_ns.store(monotonic_ns()?, Ordering::Release);
    finish(control)
}

/// The sender's side of the start: ready, wait for `go`, note the time.
fn start_when_told(control: &Control) -> Result {
    count_in(&control.ready);
    futex_wait_for(&control.go)?;
    control.started_ns.store(monotonic_ns()?, Ordering::Release);
    Ok(())
}

/// Done with the handoff; stay until the tour has read /proc/PID/io.
fn finish(control: &Control) -> Result {
    count_in(&control.done);
    futex_wait_for(&control.release)
}

fn count_in(counter: &AtomicU32) {
    counter.fetch_add(1, Ordering::AcqRel);
}

/// Pixels that depend on `seed` (a new one every run and every handoff), so a frame that was
/// not really carried cannot pass the check.
fn draw(frame: &mut [u8], seed: u64) {
    for (i, word) in frame.chunks_exact_mut(8).enumerate() {
        word.copy_from_slice(&splitmix(seed.wrapping_add(i as u64)).to_ne_bytes());
    }
}

fn splitmix(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// An order-sensitive check value of the whole frame (FNV-1a over 8-byte words).
fn check_value(frame: &[u8]) -> u32 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for word in frame.chunks_exact(8) {
        let mut bytes = [0; 8];
        bytes.copy_from_slice(word);
        h = (h ^ u64::from_ne_bytes(bytes)).wrapping_mul(0x0100_0000_01b3);
    }
    (h ^ (h >> 32)) as u32
}

/// A number from /proc/PID/io: `rchar` (bytes read with read() and friends) or `wchar`.
// plumbing-wanted: procfs::io_field, beside status_field.
fn io_field(pid: Pid, field: &str) -> Result<u64> {
    let path = format!("/proc/{pid}/io");
    let text = std::fs::read_to_string(&path).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => {
            format!("read {path}: {e} (the kernel counts I/O only with CONFIG_TASK_IO_ACCOUNTING)")
        }
        _ => format!("read {path}: {e}"),
    })?;
    text.lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|v| v.trim().parse().ok())
        .ok_or_else(|| format!("no {field} in {path}").into())
}

fn monotonic_ns() -> Result<u64, String> {
    let now = clock_gettime(ClockId::CLOCK_MONOTONIC).map_err(|e| format!("clock_gettime: {e}"))?;
    Ok(now.tv_sec() as u64 * 1_000_000_000 + now.tv_nsec() as u64)
}

/// Sleeps on the futex `word` until it is non-zero, in 50 ms slices (so a stop signal or a
/// dead tour is noticed), at most [`LIMIT`].
fn futex_wait_for(word: &AtomicU32) -> Result {
    let deadline = Instant::now() + LIMIT;
    while word.load(Ordering::Acquire) == 0 {
        stop::check()?;
        if Instant::now() > deadline {
            return Err(format!("waited {LIMIT:?} for the other side").into());
        }
        let slice = libc::timespec {
            tv_sec: 0,
            tv_nsec: 50_000_000,
        };
        // SAFETY: `word` is a live AtomicU32 in a shared mapping (not FUTEX_PRIVATE: the
        // waker is another process). FUTEX_WAIT returns at once if it is no longer 0, on a
        // wake, on a signal or after the slice; each case is rechecked by the loop.
        unsafe {
            libc::syscall(
                libc::SYS_futex,
                word.as_ptr(),
                libc::FUTEX_WAIT,
                0u32,
                &slice as *const libc::timespec,
            )
        };
    }
    Ok(())
}

/// Wakes every process sleeping on the futex `word`.
fn futex_wake(word: &AtomicU32) {
    // SAFETY: FUTEX_WAKE only reads the address to find its waiters; `word` is live.
    unsafe { libc::syscall(libc::SYS_futex, word.as_ptr(), libc::FUTEX_WAKE, i32::MAX) };
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
