//! The ways `compare` times making a queue channel: two POSIX queues by name, and two System V
//! queues, by a key or IPC_PRIVATE. Each returns the two queues, one per direction, both
//! created exclusively with mode 0600; whatever had a name has lost it by then.

use std::hash::BuildHasher;
use std::io;
use std::sync::OnceLock;

use nix::mqueue::MQ_OFlag;

use crate::queue::Queue;
use crate::queue_limits::{check_size, msg_max};
use crate::queue_names::unique_name;
use crate::sysv::{SysvQueue, key_t, msgmnb};

/// Named: two queues (mq_open O_CREAT | O_EXCL, 0600) holding `msg_size`-byte messages, each
/// opened once for reading and writing as the mq row's ends share them, the names removed at
/// once. At most 10 messages a queue (or msg_max, if lower). The limits in /proc are read and
/// checked on the first call only: reading them costs more than making the queues.
pub fn queues(msg_size: usize) -> io::Result<(Queue, Queue)> {
    static MAXMSG: OnceLock<usize> = OnceLock::new();
    static CHECKED: OnceLock<usize> = OnceLock::new();
    let maxmsg = *MAXMSG.get_or_init(|| msg_max().map_or(1, |n| n.min(10)));
    if CHECKED.get() != Some(&msg_size) {
        check_size(maxmsg, msg_size)?;
        let _ = CHECKED.set(msg_size);
    }
    let queue = || -> io::Result<Queue> {
        let mut queue = Queue::create_checked(&unique_name(), MQ_OFlag::O_RDWR, maxmsg, msg_size)?;
        queue.unlink()?;
        Ok(queue)
    };
    Ok((queue()?, queue()?))
}

/// The largest message a System V setup carries: compare sends one of 64 bytes through every
/// channel it makes. The System V setups refuse to make queues that could not hold it.
pub const SYSV_SETUP_MESSAGE: usize = 64;

/// Keyed: two System V queues (msgget IPC_CREAT | IPC_EXCL, 0600) under random keys; a key
/// someone else holds (EEXIST) is tried again with another, eight times at most. Dropping a
/// queue removes it (IPC_RMID). InvalidInput if a queue cannot hold a
/// [`SYSV_SETUP_MESSAGE`] (see [`room_for_setup_message`]).
pub fn sysv_keyed() -> io::Result<(SysvQueue, SysvQueue)> {
    room_for_setup_message()?;
    Ok((keyed()?, keyed()?))
}

/// Private: two System V queues made with IPC_PRIVATE, which only their ids name; refused as
/// [`sysv_keyed`] is.
pub fn sysv_private() -> io::Result<(SysvQueue, SysvQueue)> {
    room_for_setup_message()?;
    Ok((
        SysvQueue::create(libc::IPC_PRIVATE)?,
        SysvQueue::create(libc::IPC_PRIVATE)?,
    ))
}

/// A msgsnd without IPC_NOWAIT waits while its message does not fit in the queue, and a queue
/// holds at most /proc/sys/kernel/msgmnb bytes: a message larger than that never fits, so the
/// send would wait for ever. Read once per process, as for the POSIX queues: reading /proc
/// costs more than making the queues.
fn room_for_setup_message() -> io::Result<()> {
    static MSGMNB: OnceLock<usize> = OnceLock::new();
    let mnb = match MSGMNB.get() {
        Some(&mnb) => mnb,
        None => {
            let mnb = msgmnb()?;
            *MSGMNB.get_or_init(|| mnb)
        }
    };
    if mnb >= SYSV_SETUP_MESSAGE {
        return Ok(());
    }
    Err(io::Error::new(
        io::ErrorKind::InvalidInput,
        format!(
            "a System V queue holds /proc/sys/kernel/msgmnb = {mnb} bytes, less than the \
             {SYSV_SETUP_MESSAGE}-byte message a setup sends, so msgsnd would wait for ever; \
             raise it (as root: sysctl kernel.msgmnb=16384, the default)"
        ),
    ))
}

fn keyed() -> io::Result<SysvQueue> {
    for _ in 0..8 {
        match SysvQueue::create(random_key()) {
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
            made => return made,
        }
    }
    Err(io::Error::other("msgget: 8 random keys were all taken"))
}

/// A random key (never IPC_PRIVATE, which is 0): std's per-instance random hasher seed.
fn random_key() -> key_t {
    let random = std::hash::RandomState::new().hash_one(std::process::id());
    (random as key_t) | 1
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::sysv::MsgBuf;

    #[test]
    fn every_way_carries_a_message() {
        let (a, _b) = queues(64).unwrap();
        a.send(&[7; 64], 0).unwrap();
        let mut got = [0u8; 64];
        assert_eq!(a.receive(&mut got).unwrap(), (64, 0));
        assert_eq!(got, [7; 64]);
        for (a, _b) in [sysv_keyed().unwrap(), sysv_private().unwrap()] {
            let mut buf = MsgBuf::new(64);
            buf.text_mut().fill(7);
            a.send(1, &mut buf, 64, 0).unwrap();
            buf.text_mut().fill(0);
            assert_eq!(a.receive(0, &mut buf, 0).unwrap(), 64);
            assert_eq!(buf.text(), [7; 64]);
        }
    }
}
