//! Step 8, System V queues: the lecture table's other answers, "selectable by message type"
//! and "system-wide key". ftok makes a key from a private directory; msgget makes the queue
//! that key names; messages of types 3, 1 and 2 go in; msgrcv takes type 2 alone, then the
//! lowest type first. /proc/sysvipc/msg, the file `ipcs -q` reads, lists the queue until
//! msgctl(IPC_RMID) removes it. (examples/sysv_queue.rs is the same, standing alone.)

use std::path::PathBuf;

use mq_demo::sysv::{self, MsgBuf, SysvQueue, c_long, show_key};
use mq_demo::sysv_keyed::{self, KeyedQueue};
use nix::errno::Errno;
use nix::unistd::Pid;
use plumbing::tour::heading;
use plumbing::verdict::{self, Verdict, judge};
use plumbing::{Result, stop};

use super::in_new_ipc_namespace;

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
    heading(
        8,
        "System V queue: a system-wide key, messages chosen by type",
    );
    remove_stale(); // a killed run's queue is removed, not left to accumulate
    let (keyed, by_key) = make_queue()?;
    let (key, id) = (keyed.queue.key(), keyed.queue.id());
    let mut buf = MsgBuf::new(64);
    send_all(&keyed.queue, &mut buf)?;
    show_listed(key, id)?;
    // While the queue exists: what a process in another IPC namespace finds by the key.
    let elsewhere = in_new_ipc_namespace(|| match sysv::find(key) {
        Ok(Some(_)) => "found".into(),
        Ok(None) => "ENOENT".into(),
        Err(e) => e.to_string(),
    })?;
    let taken = receive_by_type(&keyed.queue, &mut buf)?;

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
    print_elsewhere(&elsewhere);
    let sent: Vec<c_long> = SENT.iter().map(|(t, _)| *t).collect();
    let (v, because) = type_claim(&sent, &taken);
    verdict::record("selectable by message type (System V)", v, because);
    let elsewhere = elsewhere.as_ref().map(|(_, found)| found.as_str());
    let (v, because) = key_claim(id, by_key, elsewhere);
    verdict::record("named by a system-wide key (System V)", v, because);
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

/// A private directory, a key from ftok, and the queue msgget makes for it; says each, and
/// returns what msgget(key, 0) found then.
fn make_queue() -> Result<(KeyedQueue, Option<i32>)> {
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
    let found = sysv::find(key)?;
    let shown = found.map_or("ENOENT".into(), |id| format!("id {id}"));
    println!("  msgget(key, 0) -> {shown}: the key names the queue system-wide");
    Ok((keyed, found))
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
/// order taken with the order sent. Returns the types taken, in order.
fn receive_by_type(queue: &SysvQueue, buf: &mut MsgBuf) -> Result<Vec<c_long>> {
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
                    order.push(buf.mtype());
                }
                Err(Errno::ENOMSG) => {
                    println!("  msgrcv(msgtyp {msgtyp:>2}): ENOMSG, none left of that choice");
                    break;
                }
                Err(e) => return Err(format!("msgrcv msgtyp {msgtyp}: {e}").into()),
            }
        }
    }
    let sent: Vec<c_long> = SENT.iter().map(|(t, _)| *t).collect();
    println!(
        "  (msgtyp 2: the oldest of type 2; -3: the lowest type <= 3 first)\n  \
         types taken: {}; sent: {}",
        types(&order),
        types(&sent)
    );
    Ok(order)
}

/// "2 1 3".
fn types(list: &[c_long]) -> String {
    let shown: Vec<String> = list.iter().map(c_long::to_string).collect();
    shown.join(" ")
}

/// The namespace probe's line: what a child in a new IPC namespace found by the key, or why
/// it could not make one.
fn print_elsewhere(elsewhere: &std::result::Result<(Pid, String), String>) {
    match elsewhere {
        Ok((pid, found)) => {
            println!("  a child (pid {pid}) in a new IPC namespace (unshare), while it existed:");
            let scope = match found.as_str() {
                "ENOENT" => ": a key is system-wide within one IPC namespace",
                _ => "",
            };
            println!("    msgget(key, 0) -> {found}{scope}");
        }
        Err(why) => println!("  a new IPC namespace was not tried: {why}"),
    }
}

/// The lecture: messages are selectable by type. Holds when msgrcv took, from the types
/// `sent`, first every 2 in sending order, then the rest of types <= 3 lowest first (oldest
/// first among equals): what msgtyp 2 and msgtyp -3 ask for.
pub fn type_claim(sent: &[c_long], taken: &[c_long]) -> (Verdict, String) {
    let (mut expected, mut rest): (Vec<c_long>, Vec<c_long>) = sent.iter().partition(|&&t| t == 2);
    rest.retain(|&t| t <= 3);
    rest.sort(); // stable: the oldest first among equal types
    expected.extend(rest);
    let because = format!(
        "msgrcv by type took {} of {} sent",
        types(taken),
        types(sent)
    );
    (judge(taken == expected, false), because)
}

/// The lecture: a queue has a system-wide key (or name). Holds when msgget(key, 0) `found`
/// the queue's `id`; qualified when a process in a new IPC namespace did not find it
/// (`elsewhere`): system-wide means within one IPC namespace. Not tried earns nothing.
pub fn key_claim(
    id: i32,
    found: Option<i32>,
    elsewhere: std::result::Result<&str, &String>,
) -> (Verdict, String) {
    let mut because = match found {
        Some(found) => format!("msgget(key, 0) gave id {found}, the queue's {id}"),
        None => format!("msgget(key, 0) gave ENOENT, not the queue's {id}"),
    };
    because += &match elsewhere {
        Ok(found) => format!("; from a new IPC namespace: {found}"),
        Err(why) => format!("; another IPC namespace not tried ({why})"),
    };
    let hidden = matches!(elsewhere, Ok(found) if found != "found");
    (judge(found == Some(id), hidden), because)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_chosen_type_then_the_lowest_confirms_selection() {
        let (v, because) = type_claim(&[3, 1, 2], &[2, 1, 3]);
        assert_eq!(v, Verdict::Confirmed);
        assert_eq!(because, "msgrcv by type took 2 1 3 of 3 1 2 sent");
        assert_eq!(
            type_claim(&[2, 3, 1, 2], &[2, 2, 1, 3]).0,
            Verdict::Confirmed
        );
    }

    #[test]
    fn sending_order_refutes_it() {
        assert_eq!(type_claim(&[3, 1, 2], &[3, 1, 2]).0, Verdict::Refuted);
        assert_eq!(type_claim(&[3, 1, 2], &[2, 3, 1]).0, Verdict::Refuted);
    }

    #[test]
    fn a_key_hidden_from_another_namespace_qualifies_system_wide() {
        let (v, because) = key_claim(7, Some(7), Ok("ENOENT"));
        assert_eq!(v, Verdict::Qualified);
        assert_eq!(
            because,
            "msgget(key, 0) gave id 7, the queue's 7; from a new IPC namespace: ENOENT"
        );
        assert_eq!(key_claim(7, Some(7), Ok("found")).0, Verdict::Confirmed);
        let why = "unshare: EPERM".to_string();
        assert_eq!(key_claim(7, Some(7), Err(&why)).0, Verdict::Confirmed);
        assert_eq!(key_claim(7, None, Ok("ENOENT")).0, Verdict::Refuted);
        assert_eq!(key_claim(7, Some(8), Ok("ENOENT")).0, Verdict::Refuted);
    }
}
