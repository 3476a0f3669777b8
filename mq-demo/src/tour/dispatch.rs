//! Step 1, job dispatch: a coordinator process queues Tasks with priorities, then forks a
//! worker that takes them, highest priority first.
//!
//! The worker is forked, not this binary started again, because a forked child inherits the
//! open queue descriptor: the name can be unlinked before the worker even exists, so a crash
//! at any moment leaks nothing. fork() is safe because the program is single-threaded until
//! the last step (mpsc) starts threads.

use std::cmp::Reverse;
use std::fmt;
use std::thread;
use std::time::{Duration, Instant};

use mq_demo::{Queue, Task};
use nix::errno::Errno;
use nix::mqueue::MQ_OFlag;
use nix::sys::prctl;
use nix::sys::signal::Signal;
use nix::unistd::{Pid, getpid, getppid};
use plumbing::tour::heading;
use plumbing::verdict::{self, Verdict, judge};
use plumbing::{Result, program, stop};

use super::ask_child;

/// task_type 0 tells the worker to stop; it is sent last, at the lowest priority.
const SHUTDOWN: u32 = 0;

/// (priority, task_type, payload), in the order the coordinator sends them. The alert carries
/// this run's `reading`, which the worker must echo: no two runs print the same one.
fn jobs(reading: &str) -> [(u32, u32, String); 6] {
    [
        (1, 2, "compress file.dat".into()),
        (5, 1, "resize photo.jpg".into()),
        (9, 3, format!("alert: temperature: {reading}")),
        (3, 2, "compress logs.tar".into()),
        (9, 4, "page the on-call engineer".into()),
        (0, SHUTDOWN, "shutdown".into()),
    ]
}

pub fn run(name: &str, work: Duration) -> Result {
    stop::check()?; // a stop signal during the step before ends the tour here
    heading(
        1,
        "Dispatch: a coordinator queues Tasks by priority; a worker takes them",
    );
    // mq_open(O_CREAT | O_EXCL, 0600): 10 messages of up to 256 bytes.
    let mut queue = Queue::create(name, MQ_OFlag::O_RDWR, 10, 256)?;
    // The worker inherits the descriptor across fork(), so nobody needs the name any more.
    queue.unlink()?;
    println!("  queue {name}:");
    println!("    10 messages of up to 256 bytes, mode 0600; name unlinked at once");
    // A reading drawn for this run, 10.0 to 99.9: a fixed one could be printed by a fake.
    let reading = format!("{:.1}", 10.0 + super::drawn(900, 1) as f64 / 10.0);
    let jobs = jobs(&reading);
    for (priority, task_type, payload) in &jobs {
        let (priority, task_type) = (*priority, *task_type);
        let task = Task {
            task_type,
            payload: payload.clone(),
        };
        // mq_send: one whole message, at its priority.
        queue
            .send(&task.encode(), priority)
            .map_err(|e| queue.error("mq_send", e))?;
        println!("  coordinator sent  prio {priority}  type {task_type}  {payload:?}");
    }
    println!(
        "  all {} Tasks are queued before the worker starts, so the order below is",
        jobs.len()
    );
    println!("  the queue's, not a race");
    let coordinator = getpid();
    // fork(): the worker inherits the queue, and tells the coordinator what it took. (If the
    // coordinator dies first, the worker says so and ends: a defence, not this step's lesson.)
    let longest = work * jobs.len() as u32 + Duration::from_secs(10);
    let (worker, report) = ask_child("worker", longest, || {
        unless_coordinator_dies(|| take_tasks(&queue, work, coordinator))
    })?;
    println!("  coordinator: worker (pid {worker}) exited 0");
    let sent: Vec<(u32, String)> = jobs.iter().map(|(p, _, t)| (*p, t.clone())).collect();
    let (v, because) = order_claim(&sent, &taken(&report)?);
    verdict::record("FIFO order, the highest priority first", v, because);
    Ok(())
}

/// The worker's report, one "priority payload" line per Task it took.
fn taken(report: &str) -> Result<Vec<(u32, String)>> {
    let parse = |line: &str| {
        let (priority, payload) = line.split_once(' ')?;
        Some((priority.parse().ok()?, payload.to_string()))
    };
    let taken = report
        .lines()
        .map(|l| parse(l).ok_or(format!("worker said {l:?}")));
    Ok(taken.collect::<std::result::Result<_, _>>()?)
}

/// The lecture: a queue is FIFO, with an optional priority. A POSIX queue hands out the
/// highest priority first and, within one priority, the oldest: holds when the worker took
/// (`taken`) what was `sent` in exactly that order.
pub fn order_claim(sent: &[(u32, String)], taken: &[(u32, String)]) -> (Verdict, String) {
    let mut expected = sent.to_vec();
    expected.sort_by_key(|(priority, _)| Reverse(*priority)); // stable: FIFO within one
    let priorities = |tasks: &[(u32, String)]| {
        let p: Vec<String> = tasks.iter().map(|(p, _)| p.to_string()).collect();
        p.join(" ")
    };
    let mut because = format!(
        "sent priorities {}, taken {}",
        priorities(sent),
        priorities(taken)
    );
    let holds = taken == expected;
    if !holds && priorities(taken) == priorities(&expected) {
        because += ", equal ones out of sending order";
    }
    (judge(holds, false), because)
}

/// The forked worker: takes whole Tasks, highest priority first, until the shutdown Task.
/// Returns its report for the coordinator: one "priority payload" line per Task taken.
fn take_tasks(queue: &Queue, work: Duration, coordinator: Pid) -> Result<String> {
    println!("  worker (pid {}) takes them in this order:", getpid());
    let mut buf = vec![0; queue.msgsize()]; // mq_receive needs room for the largest message
    let mut priorities = Vec::new();
    let mut report = String::new();
    loop {
        // mq_receive: the oldest message of the highest priority waiting, whole.
        let (len, priority) = receive(queue, &mut buf, coordinator)?;
        let task = Task::decode(&buf[..len])
            .map_err(|e| format!("message {}: {e}", priorities.len() + 1))?;
        priorities.push(priority.to_string());
        report += &format!("{priority} {}\n", task.payload);
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
    Ok(report)
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
fn unless_coordinator_dies<T: Default>(body: impl FnOnce() -> Result<T>) -> Result<T> {
    // fork() asked for SIGKILL when the coordinator dies. SIGTERM instead only sets the stop
    // flag (the handler is inherited), so the worker can notice and say why it ends.
    prctl::set_pdeathsig(Signal::SIGTERM).map_err(|e| format!("prctl PR_SET_PDEATHSIG: {e}"))?;
    match body() {
        Err(e) if e.is::<CoordinatorDied>() => {
            // Nobody is left to read our exit status: say it here, once.
            program::say(&format!("worker: {e}"));
            Ok(T::default())
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
            // A slice ended, or a signal cut it short (the SIGTERM the coordinator's death
            // sends us, or a stop): look at the coordinator and the stop flag again.
            Err(Errno::ETIMEDOUT | Errno::EINTR) => continue,
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

#[cfg(test)]
mod tests {
    use super::*;

    fn tasks(list: &[(u32, &str)]) -> Vec<(u32, String)> {
        list.iter().map(|(p, t)| (*p, t.to_string())).collect()
    }

    #[test]
    fn highest_first_and_fifo_within_one_confirms_it() {
        let sent = tasks(&[(1, "a"), (9, "b"), (5, "c"), (9, "d")]);
        let taken = tasks(&[(9, "b"), (9, "d"), (5, "c"), (1, "a")]);
        let (v, because) = order_claim(&sent, &taken);
        assert_eq!(v, Verdict::Confirmed);
        assert_eq!(because, "sent priorities 1 9 5 9, taken 9 9 5 1");
    }

    #[test]
    fn another_order_refutes_it() {
        let sent = tasks(&[(1, "a"), (9, "b"), (5, "c"), (9, "d")]);
        let fifo = order_claim(&sent, &sent);
        assert_eq!(fifo.0, Verdict::Refuted);
        assert_eq!(fifo.1, "sent priorities 1 9 5 9, taken 1 9 5 9");
        let swapped = tasks(&[(9, "d"), (9, "b"), (5, "c"), (1, "a")]);
        let (v, because) = order_claim(&sent, &swapped);
        assert_eq!(v, Verdict::Refuted);
        assert!(
            because.ends_with(", equal ones out of sending order"),
            "{because}"
        );
        assert_eq!(order_claim(&sent, &swapped[..3]).0, Verdict::Refuted);
    }
}
