//! Role `echo` (step 8): writes back every byte it reads, one read(2) and one write(2) each,
//! until end-of-file: a pipe's round trip, to set beside the doorbell's. And the parent's side
//! of such a pair: start it pinned with a pipe each way, take a round trip, finish.

use std::fs::File;
use std::io::{self, ErrorKind, PipeReader, PipeWriter, Read, Write};
use std::os::fd::AsFd;
use std::process::Stdio;

use nix::unistd::Pid;
use plumbing::child::Child;
use plumbing::{Result, cpu, stop};

use super::doorbell::WARM_UP;
use super::{REPLY_TIMEOUT, command};

/// The child: each byte that comes in on stdin goes back out on stdout, unbuffered.
pub fn run() -> Result {
    let owned = |fd: std::os::fd::BorrowedFd| fd.try_clone_to_owned().map(File::from);
    let mut input = owned(io::stdin().as_fd()).map_err(|e| format!("dup stdin: {e}"))?;
    let mut output = owned(io::stdout().as_fd()).map_err(|e| format!("dup stdout: {e}"))?;
    let mut byte = [0u8; 1];
    loop {
        match input.read(&mut byte) {
            Ok(0) => return Ok(()), // the parent closed its end: done
            Ok(_) => output
                .write_all(&byte)
                .map_err(|e| format!("write stdout: {e}"))?,
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) => return Err(format!("read stdin: {e}").into()),
        }
    }
}

/// The parent's side: the child, and our ends of its stdin and stdout pipes.
pub struct Echo {
    child: Child,
    to_child: PipeWriter,
    from_child: PipeReader,
}

/// Starts an echo child with a pipe each way, pins it to `cpu` (the parent pins itself first,
/// as for the doorbell), and runs the same warm-up.
pub fn start_pinned(cpu: usize) -> Result<Echo> {
    let (child_stdin, to_child) = io::pipe().map_err(|e| format!("pipe: {e}"))?;
    let (from_child, child_stdout) = io::pipe().map_err(|e| format!("pipe: {e}"))?;
    let mut command = command("echo", &[])?;
    command
        .stdin(Stdio::from(child_stdin))
        .stdout(Stdio::from(child_stdout));
    let child = Child::spawn(&mut command)?;
    // Our copies of the child's ends close here: its exit is then our end-of-file.
    drop(command);
    cpu::pin(child.pid(), cpu)?;
    let mut echo = Echo {
        child,
        to_child,
        from_child,
    };
    for round in 0..WARM_UP {
        echo.round_trip(round)?;
    }
    Ok(echo)
}

impl Echo {
    pub fn pid(&self) -> Pid {
        self.child.pid()
    }

    /// One byte to the child and back. The byte changes every round and must come back as it
    /// was sent. A child that dies ends the wait: its end closes, and we read end-of-file.
    pub fn round_trip(&mut self, round: u32) -> Result {
        let pid = self.child.pid();
        let sent = [round.to_le_bytes()[0]];
        self.to_child
            .write_all(&sent)
            .map_err(|e| format!("write to echo child {pid}: {e}"))?;
        let mut got = [0u8; 1];
        if let Err(e) = self.from_child.read_exact(&mut got) {
            stop::check()?;
            return Err(format!("read from echo child {pid}: {e}").into());
        }
        if got != sent {
            return Err(format!("echo child {pid} sent back {got:?} for {sent:?}").into());
        }
        Ok(())
    }

    /// Closes the child's stdin (it reads end-of-file and exits) and reaps it.
    pub fn finish(self) -> Result {
        let Echo {
            mut child,
            to_child,
            from_child,
        } = self;
        drop(to_child);
        child.wait_ok(REPLY_TIMEOUT)?;
        drop(from_child);
        Ok(())
    }
}
