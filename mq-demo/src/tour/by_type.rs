//! Step 8, System V queues: the lecture table's other answers, "selectable by message type"
//! and "system-wide key". ftok makes a key from a private directory; msgget makes the queue
//! that key names; messages of types 3, 1 and 2 go in; msgrcv takes type 2 alone, then the
//! lowest type first. /proc/sysvipc/msg, the file `ipcs -q` reads, lists the queue until
//! msgctl(IPC_RMID) removes it. (examples/sysv_queue.rs is the same, standing alone.)

use std::path::PathBuf;

use mq_demo::sysv::{self, MsgBuf, SysvQueue, c_long, show_key};
use mq_demo::sysv_keyed::{self, KeyedQueue};
use nix::errno::Errno;
use plumbing::{Result, stop};

/// (type, text), in sending order, as in examples/sysv_queue.rs.
const SENT: [(c_long, &str); 3] = [(3, "rotate logs"), (1, "send alert"), (2, "compress")];

/// What step 8 made, for the tour's last check.
pub struct Made {
    pub id: i32,
    pub key: sysv::key_t,
    pub dir: PathBuf,
}

pub fn run() -> Result<Made> {
    stop::check()?; // a stop signal during the step before ends the tour here
    println!("\nStep 8. System V queue: a system-wide key, messages chosen by type");
    remove_stale(); // a killed run's queue is removed, not left to accumulate
    let keyed = make_queue()?;
    let (key, id) = (keyed.queue.key(), keyed.queue.id());
    let mut buf = MsgBuf::new(64);
    send_all(&keyed.queue, &mut buf)?;
    show_listed(key, id)?;
    receive_by_type(&keyed.queue, &mut buf)?;

    let KeyedQueue { queue, dir, .. } = keyed;
    queue
        .remove()
        .map_err(|e| format!("msgctl {id} IPC_RMID: {e}"))?;
    // (The directory stays until we have looked: its inode, and so the key, is not reused.)
    let listed = if sysv::listed_id(id)?.is_some() {
        "still lists"
    } else {
        "no longer lists"
    };
    let found = sysv::find(key)?.map_or("ENOENT".into(), |id| format!("id {id}"));
    println!("  msgctl(id, IPC_RMID): /proc/sysvipc/msg {listed} id {id};");
    println!("  msgget(key, 0) -> {found}");
    let made = Made {
        id,
        key,
        dir: dir.path().to_owned(),
    };
    drop(dir);
    stop::check()?;
    Ok(made)
}

/// Removes the queues of earlier runs of ours that were killed (their pid is gone), and says so:
/// a System V queue outlives its process, and nothing else would ever remove it.
fn remove_stale() {
    for stale in sysv_keyed::remove_stale() {
        println!(
            "  removed queue id {} (key {}): its run (pid {}) was killed",
            stale.id,
            show_key(stale.key),
            stale.pid
        );
    }
}

/// A private directory, a key from ftok, and the queue msgget makes for it; says each.
fn make_queue() -> Result<KeyedQueue> {
    let keyed = KeyedQueue::create()?;
    let (key, id) = (keyed.queue.key(), keyed.queue.id());
    println!("  private directory (mode 0700) of this run:");
    println!("    {}", keyed.dir.path().display());
    for (proj, taken) in (sysv_keyed::PROJ..).zip(&keyed.taken) {
        println!(
            "  ftok(that directory, '{}') -> key {}: EEXIST, taken by another queue",
            proj as char,
            show_key(*taken)
        );
    }
    println!(
        "  ftok(that directory, '{}') -> key {}",
        keyed.proj as char,
        show_key(key)
    );
    println!("  msgget(key, IPC_CREAT | IPC_EXCL | 0600) -> queue id {id}");
    println!("    (IPC_CREAT | IPC_EXCL: create a new queue, or fail with EEXIST if the");
    println!("    key already names one; 0600: read and write for this user only)");
    let found = sysv::find(key)?.map_or("ENOENT".into(), |id| format!("id {id}"));
    println!("  msgget(key, 0) -> {found}: the key names the queue system-wide");
    Ok(keyed)
}

/// Sends [`SENT`], in order, without waiting.
fn send_all(queue: &SysvQueue, buf: &mut MsgBuf) -> Result {
    for (mtype, text) in SENT {
        buf.text_mut()[..text.len()].copy_from_slice(text.as_bytes());
        queue
            .send(mtype, buf, text.len(), libc::IPC_NOWAIT)
            .map_err(|e| format!("msgsnd type {mtype}: {e}"))?;
        println!("  msgsnd type {mtype}: {text:?}");
    }
    Ok(())
}

/// Takes the messages of type 2 alone, then the rest lowest type first, and compares the
/// order taken with the order sent.
fn receive_by_type(queue: &SysvQueue, buf: &mut MsgBuf) -> Result {
    let mut order = Vec::new();
    for msgtyp in [2, -3] {
        loop {
            match queue.receive(msgtyp, buf, libc::IPC_NOWAIT) {
                Ok(len) => {
                    let text = String::from_utf8_lossy(&buf.text()[..len]).into_owned();
                    println!(
                        "  msgrcv(msgtyp {msgtyp:>2}): type {} {text:?}",
                        buf.mtype()
                    );
                    order.push(buf.mtype().to_string());
                }
                Err(Errno::ENOMSG) => {
                    println!("  msgrcv(msgtyp {msgtyp:>2}): ENOMSG, none left of that choice");
                    break;
                }
                Err(e) => return Err(format!("msgrcv msgtyp {msgtyp}: {e}").into()),
            }
        }
    }
    let sent: Vec<String> = SENT.iter().map(|(t, _)| t.to_string()).collect();
    println!(
        "  (msgtyp 2: the oldest of type 2; -3: the lowest type <= 3 first)\n  \
         types taken: {}; sent: {}",
        order.join(" "),
        sent.join(" ")
    );
    Ok(())
}

/// The queue's line in /proc/sysvipc/msg, found by its key: what `ipcs -q` would print.
fn show_listed(key: sysv::key_t, id: i32) -> Result {
    let listed = sysv::listed()?;
    let q = listed
        .iter()
        .find(|q| q.key == key)
        .ok_or_else(|| format!("/proc/sysvipc/msg lists no key {}", show_key(key)))?;
    if q.id != id {
        return Err(format!("key {} is listed with id {}, not {id}", show_key(key), q.id).into());
    }
    println!("  /proc/sysvipc/msg (what `ipcs -q` lists), its line for this key:");
    println!(
        "    key {}  msqid {}  perms {:o}  qnum {}  cbytes {}",
        show_key(q.key),
        q.id,
        q.perms,
        q.qnum,
        q.cbytes
    );
    println!("    (qnum: messages waiting; cbytes: their bytes)");
    Ok(())
}
