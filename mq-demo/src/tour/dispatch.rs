//! Step 1, job dispatch: a coordinator process queues Tasks with priorities, then forks a
//! worker that takes them, highest priority first.
//!
//! The worker is forked, not this binary started again, because a forked child inherits the
//! open queue descriptor: the name can be unlinked before the worker even exists, so a crash
//! at any moment leaks nothing. fork() is safe because the program is single-threaded until
//! the last step (mpsc) starts threads.

use std::fmt;
use std::thread;
use std::time::{Duration, Instant};

use mq_demo::{Queue, Task};
use nix::errno::Errno;
use nix::mqueue::MQ_OFlag;
use nix::sys::prctl;
use nix::sys::signal::Signal;
use nix::unistd::{Pid, getpid, getppid};
use plumbing::{Result, child, program, stop};

use super::check_ended;

/// task_type 0 tells the worker to stop; it is sent last, at the lowest priority.
const SHUTDOWN: u32 = 0;

/// (priority, task_type, payload), in the order the coordinator sends them.
const JOBS: [(u32, u32, &str); 6] = [
    (1, 2, "compress file.dat"),
    (5, 1, "resize photo.jpg"),
    (9, 3, "alert: temperature: 42"),
    (3, 2, "compress logs.tar"),
    (9, 4, "page the on-call engineer"),
    (0, SHUTDOWN, "shutdown"),
];

pub fn run(name: &str, work: Duration) -> Result {
    stop::check()?; // a stop signal during the step before ends the tour here
    println!("\nStep 1. Dispatch: a coordinator queues Tasks by priority; a worker takes them");
    // mq_open(O_CREAT | O_EXCL, 0600): 10 messages of up to 256 bytes.
    let mut queue = Queue::create(name, MQ_OFlag::O_RDWR, 10, 256)?;
    // The worker inherits the descriptor across fork(), so nobody needs the name any more.
    queue.unlink()?;
    println!("  queue {name}:");
    println!("    10 messages of up to 256 bytes, mode 0600; name unlinked at once");
    for (priority, task_type, payload) in JOBS {
        let task = Task {
            task_type,
            payload: payload.into(),
        };
        // mq_send: one whole message, at its priority.
        queue
            .send(&task.encode(), priority)
            .map_err(|e| queue.error("mq_send", e))?;
        println!("  coordinator sent  prio {priority}  type {task_type}  {payload:?}");
    }
    println!(
        "  all {} Tasks are queued before the worker starts, so the order below is",
        JOBS.len()
    );
    println!("  the queue's, not a race");
    let coordinator = getpid();
    // fork(): the worker inherits the queue. (If the coordinator dies first, the worker says
    // so and ends: a defence, not this step's lesson.)
    let mut worker =
        child::fork(|| unless_coordinator_dies(|| take_tasks(&queue, work, coordinator)))?;
    let longest = work * JOBS.len() as u32 + Duration::from_secs(10);
    check_ended(worker.wait(longest)?, "worker")?;
    println!("  coordinator: worker (pid {}) exited 0", worker.pid());
    Ok(())
}

/// The forked worker: takes whole Tasks, highest priority first, until the shutdown Task.
fn take_tasks(queue: &Queue, work: Duration, coordinator: Pid) -> Result {
    println!("  worker (pid {}) takes them in this order:", getpid());
    let mut buf = vec![0; queue.msgsize()]; // mq_receive needs room for the largest message
    let mut priorities = Vec::new();
    loop {
        // mq_receive: the oldest message of the highest priority waiting, whole.
        let (len, priority) = receive(queue, &mut buf, coordinator)?;
        let task = Task::decode(&buf[..len])
            .map_err(|e| format!("message {}: {e}", priorities.len() + 1))?;
        priorities.push(priority.to_string());
        println!(
            "    took  prio {priority}  type {}  {:?}  ({len}-byte message)",
            task.task_type, task.payload
        );
        if task.task_type == SHUTDOWN {
            break;
        }
        do_the_work(work, coordinator)?; // --work-ms: slow enough to watch
    }
    println!(
        "  worker: {} Tasks, each whole; priorities in the order taken: {}",
        priorities.len(),
        priorities.join(" ")
    );
    Ok(())
}

// The defence, not this step's lesson: a worker that notices its coordinator died.

/// Why a worker ends before the shutdown Task.
#[derive(Debug)]
struct CoordinatorDied(Pid);

impl fmt::Display for CoordinatorDied {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "the coordinator (pid {}) died; worker exiting", self.0)
    }
}

impl std::error::Error for CoordinatorDied {}

/// Runs the worker's `body`; if the coordinator dies first, the worker says so and ends.
fn unless_coordinator_dies(body: impl FnOnce() -> Result) -> Result {
    // fork() asked for SIGKILL when the coordinator dies. SIGTERM instead only sets the stop
    // flag (the handler is inherited), so the worker can notice and say why it ends.
    prctl::set_pdeathsig(Signal::SIGTERM).map_err(|e| format!("prctl PR_SET_PDEATHSIG: {e}"))?;
    match body() {
        Err(e) if e.is::<CoordinatorDied>() => {
            // Nobody is left to read our exit status: say it here, once.
            program::say(&format!("worker: {e}"));
            Ok(())
        }
        result => result,
    }
}

/// mq_receive, as mq_timedreceive in 100 ms slices: between them the worker checks on the
/// coordinator, which one long wait for a message would never do.
fn receive(queue: &Queue, buf: &mut [u8], coordinator: Pid) -> Result<(usize, u32)> {
    loop {
        coordinator_alive(coordinator)?;
        match queue.receive_timeout(buf, Duration::from_millis(100)) {
            Err(Errno::ETIMEDOUT) => continue, // a slice ended: check on the coordinator again
            received => return Ok(received.map_err(|e| queue.error("mq_timedreceive", e))?),
        }
    }
}

/// A Task's work, `work` long, in 10 ms naps between checks on the coordinator.
fn do_the_work(work: Duration, coordinator: Pid) -> Result {
    let until = Instant::now() + work;
    while Instant::now() < until {
        coordinator_alive(coordinator)?;
        thread::sleep(Duration::from_millis(10));
    }
    Ok(())
}

/// In the worker: fails once the coordinator is gone (we were re-parented), or when asked to
/// stop.
fn coordinator_alive(coordinator: Pid) -> Result {
    if getppid() != coordinator {
        return Err(CoordinatorDied(coordinator).into());
    }
    Ok(stop::check()?)
}
