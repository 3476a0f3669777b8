//! Step 8 of the tour (`shm-demo counter`): the lecture's lost-update demo, for real.
//! Two processes each add 1 to one counter in shared memory N times, started together by a
//! barrier in the same mapping: without synchronisation, with `fetch_add`, and with a lock.

use std::cell::UnsafeCell;
use std::mem::MaybeUninit;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering, compiler_fence};
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::time::{ClockId, clock_gettime};
use nix::unistd::Pid;
use plumbing::tour::{duration, heading};
use plumbing::verdict::{self, Verdict, judge};
use plumbing::{Result, child, cpu, stop};
use shm_demo::SharedMapping;

/// Step 8: the lost-update demo, three ways, `increments` per process.
pub fn run(increments: u64) -> Result {
    let expected = 2 * increments;
    heading(
        8,
        &format!("two processes each add 1 to one shared counter {increments} times, started"),
    );
    println!("   together by a barrier in the mapping; expected {expected}");
    let [a, b] = cpu::two_cpus()?;
    if a != b {
        println!("   (pinned to CPUs {a} and {b}: both count at the same time)");
    } else {
        println!("   (one CPU, {a}: the two take turns, so an update is lost only when a process");
        println!("   is preempted between its load and its store, which may be rare)");
    }
    let methods = [
        (Method::LoadThenStore, "unsynchronized (load, then store)"),
        (Method::FetchAdd, "atomic fetch_add"),
        (Method::Mutex, "process-shared robust pthread mutex"),
    ];
    println!("   lost = expected - counter; time: the slower process's; ns/inc: per increment");
    println!(
        "   {:<35} {:>9} {:>9} {:>10} {:>7}",
        "", "counter", "lost", "time", "ns/inc"
    );
    let mut losses = [0; 3];
    for ((method, what), losses) in methods.into_iter().zip(&mut losses) {
        stop::check()?;
        let mut outcome = race(method, increments, [a, b])?;
        // On a busy machine the scheduler may run the two one after the other, even on two
        // CPUs, and then no update can be lost: that would show nothing about the race.
        for _ in 0..RETRIES {
            if a == b || outcome.overlapped {
                break;
            }
            println!("   (the two did not count at the same moment: once more)");
            stop::check()?;
            outcome = race(method, increments, [a, b])?;
        }
        let lost = expected.saturating_sub(outcome.total);
        *losses = lost;
        let per = outcome.elapsed.as_nanos() as f64 / increments as f64;
        let time = duration(outcome.elapsed);
        println!(
            "   {what:<35} {:>9} {lost:>9} {time:>10} {per:>7.1}",
            outcome.total
        );
    }
    let (v, because) = coordination_claim(losses, expected);
    verdict::record("the kernel does not coordinate access; you do", v, because);
    Ok(())
}

/// How often a race whose two processes never counted at the same moment is run again.
const RETRIES: usize = 5;

/// The lecture: the kernel does not coordinate access to shared memory; the processes must.
/// `lost` is the updates lost [unsynchronized, fetch_add, mutex] of `expected`. It holds when
/// both synchronized ways lost none; an unsynchronized run that lost none too (one CPU, no
/// preemption at the wrong moment) did not show the hazard, which qualifies it.
pub fn coordination_claim(lost: [u64; 3], expected: u64) -> (Verdict, String) {
    let [racy, atomic, locked] = lost;
    let because = format!(
        "unsynchronized increments lost {racy} of {expected}; fetch_add lost {atomic}, \
         the mutex {locked}"
    );
    (judge(atomic == 0 && locked == 0, racy == 0), because)
}

/// How each increment is done.
#[derive(Clone, Copy)]
enum Method {
    /// Load, then store: two steps another process can slip between.
    LoadThenStore,
    /// One atomic read-modify-write (`lock xadd` on x86).
    FetchAdd,
    /// A plain `+= 1` inside a process-shared, robust pthread mutex.
    Mutex,
}

/// The shared block. Every field is valid when zero, which is what a fresh mapping holds.
#[repr(C)]
struct Counters {
    arrived: AtomicU32,
    racy: AtomicU64,
    atomic: AtomicU64,
    locked: UnsafeCell<u64>,
    lock: UnsafeCell<libc::pthread_mutex_t>,
    elapsed_ns: [AtomicU64; 2],
    /// when each process started and stopped counting, on the system-wide monotonic clock
    span_ns: [[AtomicU64; 2]; 2],
}

/// What was observed: the final counter and how long the slower process took to count.
struct Outcome {
    total: u64,
    elapsed: Duration,
    /// whether the two processes were counting at the same moment at all
    overlapped: bool,
}

/// Two processes, `increments` each; returns the counter once both have exited.
/// Child `i` runs on `cpus[i]`.
fn race(method: Method, increments: u64, cpus: [usize; 2]) -> Result<Outcome> {
    let map = SharedMapping::new(size_of::<Counters>()).map_err(|e| e.to_string())?;
    // SAFETY: the mapping is page aligned, at least size_of::<Counters>() bytes and zero
    // filled, a valid `Counters`. It is shared only with the children forked below, which
    // touch it through atomics, or `locked` under the mutex; the parent reads `locked` only
    // after both children have exited.
    let counters = unsafe { &*map.as_ptr().cast::<Counters>() };
    if let Method::Mutex = method {
        init_process_shared_mutex(counters.lock.get())?;
    }
    let mut children = Vec::new();
    for (me, on_cpu) in cpus.into_iter().enumerate() {
        children.push(child::fork(move || {
            cpu::pin(Pid::from_raw(0), on_cpu)?;
            count(counters, me, method, increments)
        })?);
    }
    child::wait_all(&mut children, Duration::from_secs(600))?;
    let total = match method {
        Method::LoadThenStore => counters.racy.load(Ordering::Acquire),
        Method::FetchAdd => counters.atomic.load(Ordering::Acquire),
        // SAFETY: both children have exited (reaped above), so nobody else touches `locked`.
        Method::Mutex => unsafe { *counters.locked.get() },
    };
    if let Method::Mutex = method {
        // SAFETY: no process holds or waits on the mutex any more; it is destroyed once.
        unsafe { libc::pthread_mutex_destroy(counters.lock.get()) };
    }
    let slowest = counters
        .elapsed_ns
        .iter()
        .map(|ns| ns.load(Ordering::Acquire))
        .max();
    let span = |i: usize, end: usize| counters.span_ns[i][end].load(Ordering::Acquire);
    let overlapped = span(0, 0).max(span(1, 0)) < span(0, 1).min(span(1, 1));
    Ok(Outcome {
        total,
        elapsed: Duration::from_nanos(slowest.unwrap_or(0)),
        overlapped,
    })
}

/// One child: wait at the barrier until both processes run, then count.
fn count(c: &Counters, me: usize, method: Method, increments: u64) -> Result {
    c.arrived.fetch_add(1, Ordering::AcqRel);
    // A sibling that died before arriving is noticed by the parent, which then kills us; the
    // deadline only bounds the spin if something stranger happens.
    let deadline = Instant::now() + Duration::from_secs(10);
    while c.arrived.load(Ordering::Acquire) < 2 {
        if Instant::now() > deadline {
            return Err("the other process never reached the start barrier".into());
        }
        std::hint::spin_loop();
    }
    let start = Instant::now();
    c.span_ns[me][0].store(monotonic_ns()?, Ordering::Release);
    match method {
        Method::LoadThenStore => {
            for _ in 0..increments {
                // Deliberately racy, but not undefined behaviour: each access is atomic on
                // its own (Relaxed), so the other process's store is just another value. The
                // race is in the logic: if it stores between our load and our store, we
                // overwrite its update with a stale value + 1, and one update is lost.
                let seen = c.racy.load(Ordering::Relaxed);
                // One load and one store per iteration, as written: for Relaxed atomics the
                // optimiser may fuse them (one `inc` on memory) or merge iterations, which
                // would shrink the window between them that this demo is about.
                compiler_fence(Ordering::SeqCst);
                c.racy.store(seen + 1, Ordering::Relaxed);
            }
        }
        Method::FetchAdd => {
            for _ in 0..increments {
                c.atomic.fetch_add(1, Ordering::Relaxed);
            }
        }
        Method::Mutex => {
            for _ in 0..increments {
                lock(c.lock.get())?;
                // SAFETY: we hold the process-shared mutex, so the other process is not
                // inside this block; its lock/unlock order our accesses after its own.
                unsafe { *c.locked.get() += 1 };
                // SAFETY: we hold the mutex (locked just above), so unlocking it is valid.
                unsafe { libc::pthread_mutex_unlock(c.lock.get()) };
            }
        }
    }
    c.elapsed_ns[me].store(start.elapsed().as_nanos() as u64, Ordering::Release);
    c.span_ns[me][1].store(monotonic_ns()?, Ordering::Release);
    Ok(())
}

/// CLOCK_MONOTONIC in ns: one clock for every process, so two processes' spans compare.
fn monotonic_ns() -> Result<u64> {
    let now = clock_gettime(ClockId::CLOCK_MONOTONIC).map_err(|e| format!("clock_gettime: {e}"))?;
    Ok(now.tv_sec() as u64 * 1_000_000_000 + now.tv_nsec() as u64)
}

/// A mutex other processes can use (PTHREAD_PROCESS_SHARED) and that survives its holder
/// dying (PTHREAD_MUTEX_ROBUST: the next locker gets EOWNERDEAD instead of waiting forever).
fn init_process_shared_mutex(mutex: *mut libc::pthread_mutex_t) -> Result<(), String> {
    let check = |rc: i32, call: &str| match rc {
        0 => Ok(()),
        e => Err(format!("{call}: {}", Errno::from_raw(e))),
    };
    let mut attr = MaybeUninit::<libc::pthread_mutexattr_t>::uninit();
    // SAFETY: `attr` is initialised by pthread_mutexattr_init before any other use and
    // destroyed once. `mutex` points into our shared mapping, which no child maps yet (they
    // are forked after this), so nobody else can see it half-initialised.
    unsafe {
        check(
            libc::pthread_mutexattr_init(attr.as_mut_ptr()),
            "pthread_mutexattr_init",
        )?;
        let result = check(
            libc::pthread_mutexattr_setpshared(attr.as_mut_ptr(), libc::PTHREAD_PROCESS_SHARED),
            "pthread_mutexattr_setpshared",
        )
        .and_then(|()| {
            check(
                libc::pthread_mutexattr_setrobust(attr.as_mut_ptr(), libc::PTHREAD_MUTEX_ROBUST),
                "pthread_mutexattr_setrobust",
            )
        })
        .and_then(|()| {
            check(
                libc::pthread_mutex_init(mutex, attr.as_ptr()),
                "pthread_mutex_init",
            )
        });
        libc::pthread_mutexattr_destroy(attr.as_mut_ptr());
        result
    }
}

fn lock(mutex: *mut libc::pthread_mutex_t) -> Result<(), String> {
    // SAFETY: `mutex` was initialised before the fork and lives in the mapping for as long as
    // this child runs. The other process may hold it, wait on it, or die holding it.
    match unsafe { libc::pthread_mutex_lock(mutex) } {
        0 => Ok(()),
        libc::EOWNERDEAD => {
            // SAFETY: EOWNERDEAD means we now hold the mutex; mark it usable and release it.
            unsafe {
                libc::pthread_mutex_consistent(mutex);
                libc::pthread_mutex_unlock(mutex);
            }
            Err("the other process died holding the lock (EOWNERDEAD)".into())
        }
        e => Err(format!("pthread_mutex_lock: {}", Errno::from_raw(e))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn updates_lost_only_without_synchronization_confirm_it() {
        let (v, because) = coordination_claim([976_090, 0, 0], 2_000_000);
        assert_eq!(v, Verdict::Confirmed);
        assert_eq!(
            because,
            "unsynchronized increments lost 976090 of 2000000; fetch_add lost 0, the mutex 0"
        );
        assert_eq!(
            coordination_claim([0, 0, 0], 2_000_000).0,
            Verdict::Qualified
        );
        assert_eq!(coordination_claim([5, 1, 0], 2_000_000).0, Verdict::Refuted);
        assert_eq!(coordination_claim([5, 0, 3], 2_000_000).0, Verdict::Refuted);
    }
}
