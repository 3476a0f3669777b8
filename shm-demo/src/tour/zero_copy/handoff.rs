//! One handoff of step 2's frame, by pipe or in shared memory, and what it measures. The tour
//! forks a sender and a receiver; the three share a small control block (an anonymous
//! MAP_SHARED mapping) and take turns through it:
//!
//! 1. each child sets up (the sender draws the frame; the receiver touches its buffer, or
//!    maps the shared frame's pages) and counts itself `ready`;
//! 2. the tour reads /proc/PID/io of both and sets `go`; the sender notes the time and sends
//!    (writes the frame to the pipe, or sets `published`: the handoff in shared memory);
//! 3. the receiver notes when the frame arrived and when it was checked; each child counts
//!    itself `done`;
//! 4. the tour reads /proc/PID/io again and sets `release`; the children exit.
//!
//! Every wait is bounded by [`LIMIT`] and ends on a stop signal; the tour's wait also ends as
//! soon as a child dies.

use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::AsFd;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use nix::sys::signal::Signal;
use nix::time::{ClockId, clock_gettime};
use nix::unistd::{Pid, pipe};
use plumbing::child::{self, Child};
use plumbing::{Result, stop};
use shm_demo::SharedMapping;

use super::frame::{FRAME_LEN, check_value, draw};

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
pub(super) enum Via {
    Pipe,
    SharedMemory,
}

/// What one handoff showed.
pub(super) struct Handoff {
    pub(super) arrived: Duration,
    pub(super) checked: Duration,
    pub(super) sent_check: u32,
    pub(super) received_check: u32,
    pub(super) sender_wchar: u64,
    pub(super) receiver_rchar: u64,
}

/// One handoff by `via`: fork the two sides, let them set up, read /proc/PID/io, start
/// them, wait until both are done, read /proc/PID/io again, let them exit.
pub(super) fn handoff(via: Via) -> Result<Handoff> {
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
