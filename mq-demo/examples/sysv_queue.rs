//! System V queues: each message carries a type; the receiver picks by type. Lecture: "Message
//! Queues" ("Order: FIFO, or selectable by message type"). Linux only; libc, as nix has no SysV.
//!
//! Run `cargo run -p mq-demo --example sysv_queue`: types 3, 1 and 2 sent, type 2 received
//! first, the rest lowest type first, then msgctl IPC_RMID removes the queue (after an error
//! too). IPC_NOWAIT: nothing blocks, so no Ctrl-C handler; if killed, `ipcrm -q ID` removes it.
//!
//! To use it alone: `cargo new sysv_queue`, put this file in src/main.rs, add these
//! lines under [dependencies] in Cargo.toml, then `cargo run`:
//! ```toml
//! [dependencies]
//! libc = "0.2"
//! nix = "0.32"
//! ```

#[cfg(target_os = "linux")]
use {nix::errno::Errno, std::io::Write};

/// The layout msgsnd and msgrcv expect: a type (> 0 when sending), then the bytes.
#[cfg(target_os = "linux")]
#[repr(C)]
#[derive(Default)]
struct Message {
    mtype: libc::c_long,
    mtext: [u8; 32],
}

/// Owns the queue: dropping it removes the queue, on success and on every early `?`.
#[cfg(target_os = "linux")]
struct Queue(libc::c_int);
#[cfg(target_os = "linux")]
impl Queue {
    fn send(&self, mtype: libc::c_long, text: &str) -> Result<(), String> {
        let mut mtext = [0; 32];
        let slot = mtext.get_mut(..text.len()).ok_or("msgsnd: over 32 bytes")?;
        slot.copy_from_slice(text.as_bytes());
        let message = Message { mtype, mtext };
        let ptr = (&raw const message).cast();
        // SAFETY: #[repr(C)]: the c_long type, then >= text.len() bytes, copied by the kernel.
        let rc = unsafe { libc::msgsnd(self.0, ptr, text.len(), libc::IPC_NOWAIT) };
        Errno::result(rc).map_err(|e| format!("msgsnd type {mtype}: {e}"))?;
        Ok(())
    }
    /// The oldest message that `msgtyp` selects, or None if there is none now.
    fn receive(&self, msgtyp: libc::c_long) -> Result<Option<(libc::c_long, String)>, String> {
        let mut message = Message::default();
        let (ptr, size) = ((&raw mut message).cast(), message.mtext.len());
        // SAFETY: the kernel writes one c_long and at most `size` bytes into `message`.
        let rc = unsafe { libc::msgrcv(self.0, ptr, size, msgtyp, libc::IPC_NOWAIT) };
        let len = match Errno::result(rc) {
            Ok(len) => len as usize,               // the byte count, never negative
            Err(Errno::ENOMSG) => return Ok(None), // IPC_NOWAIT: fails instead of waiting
            Err(e) => return Err(format!("msgrcv type {msgtyp}: {e}")),
        };
        let text = String::from_utf8_lossy(message.mtext.get(..len).unwrap_or_default());
        Ok(Some((message.mtype, text.into_owned())))
    }
}
#[cfg(target_os = "linux")]
impl Drop for Queue {
    fn drop(&mut self) {
        let id = self.0; // a failed print is ignored below: a panic in drop may abort
        // SAFETY: IPC_RMID reads no buffer (null is allowed); a wrong id fails with EINVAL.
        let rc = unsafe { libc::msgctl(id, libc::IPC_RMID, std::ptr::null_mut()) };
        let _ = match Errno::result(rc) {
            Ok(_) => writeln!(std::io::stdout(), "msgctl IPC_RMID: queue {id} removed"),
            Err(e) => writeln!(std::io::stderr(), "msgctl {id} IPC_RMID: {e}"),
        };
    }
}

#[cfg(target_os = "linux")]
fn main() -> Result<(), Box<dyn std::error::Error>> {
    // IPC_PRIVATE: a new queue named by its id alone (unrelated processes share an ftok key).
    // SAFETY: msgget takes two integers and touches no memory of ours.
    let id = unsafe { libc::msgget(libc::IPC_PRIVATE, libc::IPC_CREAT | libc::IPC_EXCL | 0o600) };
    let queue = Queue(Errno::result(id).map_err(|e| format!("msgget IPC_PRIVATE: {e}"))?);
    // SIGPIPE stays ignored (Rust's default): a closed stdout is an error, and `queue` drops.
    let mut out = std::io::stdout();
    let made = format!("msgget: queue id {id}, mode 0600; `ipcs -q` lists it until removed");
    writeln!(out, "{made}")?;
    for (mtype, text) in [(3, "rotate logs"), (1, "send alert"), (2, "compress")] {
        queue.send(mtype, text)?;
        writeln!(out, "msgsnd type {mtype}: {text:?}")?;
    }
    // msgtyp 2: the oldest of type 2; -3: the oldest of the lowest type <= 3 (POSIX: highest)
    for msgtyp in [2, -3] {
        while let Some((mtype, text)) = queue.receive(msgtyp)? {
            writeln!(out, "msgrcv {msgtyp:>2}: type {mtype} {text:?}")?;
        }
    }
    Ok(()) // `queue` drops here: msgctl(IPC_RMID)
}

#[cfg(not(target_os = "linux"))]
fn main() -> Result<(), Box<dyn std::error::Error>> {
    println!("the libc crate binds msgget and friends only on Linux; run this there.");
    Ok(())
}
