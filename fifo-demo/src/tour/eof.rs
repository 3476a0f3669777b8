//! Step 5: the reader sees end-of-file only when the LAST writer has closed its end, not the
//! first: a slow writer keeps the FIFO open after a quick one has left.

use std::time::Duration;

use plumbing::stop;
use plumbing::tour::{duration, heading};

use super::mkfifo::MadeFifo;
use super::processes::StepProcesses;

pub fn run(made: &MadeFifo) -> plumbing::Result {
    heading(5, "EOF comes when the last writer closes its end");
    let fifo = &made.fifo;
    println!("   'sensor B' writes 3 lines 200 ms apart;");
    println!("   'sensor A', started 150 ms later, writes 1");
    let mut step = StepProcesses::new();
    step.start("reader", "read", fifo, &[])?;
    let slow = ["sensor B", "--count", "3", "--interval-ms", "200"];
    step.start("sensor B", "write", fifo, &slow)?;
    stop::pause(Duration::from_millis(150))?;
    step.start("sensor A", "write", fifo, &["sensor A"])?;
    let exits = step.wait_all()?;
    if let [reader, b, a] = exits[..] {
        println!(
            "   exited at: 'sensor A' +{}, 'sensor B' +{},",
            duration(a),
            duration(b)
        );
        println!("   the reader (after EOF) +{}", duration(reader));
    }
    Ok(())
}
