//! Step 2: open(2) on a FIFO blocks until the other end is opened too. A non-blocking open
//! for writing with no reader fails at once (ENXIO); a reader started first waits in open()
//! until the writer, started 300 ms later, arrives.

use std::fs::OpenOptions;
use std::os::unix::fs::OpenOptionsExt;
use std::time::Duration;

use nix::fcntl::OFlag;
use plumbing::stop;
use plumbing::tour::heading;

use super::mkfifo::MadeFifo;
use super::processes::StepProcesses;

pub fn run(made: &MadeFifo) -> plumbing::Result {
    heading(2, "open() blocks until both ends are open");
    let fifo = &made.fifo;
    match OpenOptions::new()
        .write(true)
        .custom_flags(OFlag::O_NONBLOCK.bits())
        .open(fifo)
    {
        Err(e) => {
            println!("   no process has it open for reading yet, so");
            let errno = nix::errno::Errno::from_raw(e.raw_os_error().unwrap_or(0));
            println!(
                "   open(O_WRONLY|O_NONBLOCK) fails: {errno:?}, {}",
                errno.desc()
            );
        }
        Ok(_) => println!("   open(O_WRONLY|O_NONBLOCK) succeeded: someone else has it open"),
    }
    let mut step = StepProcesses::new();
    let reader = step.start("reader", "read", fifo, &[])?;
    println!("   started reader (pid {reader}); the writer starts 300 ms later");
    stop::pause(Duration::from_millis(300))?;
    step.start("writer", "write", fifo, &["temperature: 42"])?;
    step.wait_all()?;
    Ok(())
}
