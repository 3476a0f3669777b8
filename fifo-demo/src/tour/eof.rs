//! Step 5: the reader sees end-of-file only when the LAST writer has closed its end, not the
//! first: a slow writer keeps the FIFO open after a quick one has left.

use std::time::Duration;

use plumbing::stop;
use plumbing::tour::{duration, heading};
use plumbing::verdict::{self, Verdict, judge};

use super::mkfifo::MadeFifo;
use super::processes::StepProcesses;
use super::said::{ReaderReport, number_before};

/// Exits are seen by polling each child in turn: two that end together are seen in either
/// order, this far apart at most.
const POLL_SLACK: Duration = Duration::from_millis(20);

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
        let read = ReaderReport::from(&step.said(0))?;
        let sent = [step.said(1), step.said(2)]
            .iter()
            .map(|said| number_before(said, " bytes in ").unwrap_or(0))
            .sum();
        let (v, because) = eof_claim(read.bytes, sent, reader, [a, b]);
        verdict::record("EOF comes when the last writer leaves", v, because);
    }
    Ok(())
}

/// The lecture: the reader sees EOF once the last writer has closed its end. It holds when
/// the reader read every byte the writers `sent`, and left (at `reader`, after its EOF) no
/// earlier than the later writer's exit (`writers`: 'sensor A', 'sensor B').
pub fn eof_claim(
    got: u64,
    sent: u64,
    reader: Duration,
    writers: [Duration; 2],
) -> (Verdict, String) {
    let because = format!(
        "EOF after {got} of {sent} bytes; the reader left at +{}, the writers at +{} \
         and +{}",
        duration(reader),
        duration(writers[0]),
        duration(writers[1])
    );
    let last = writers[0].max(writers[1]);
    let holds = got == sent && sent > 0 && reader + POLL_SLACK >= last;
    (judge(holds, false), because)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn eof_after_the_last_writer_confirms_it() {
        let (v, because) = eof_claim(48, 48, ms(404), [ms(155), ms(404)]);
        assert_eq!(v, Verdict::Confirmed);
        assert_eq!(
            because,
            "EOF after 48 of 48 bytes; the reader left at +404.0 ms, the writers at \
             +155.0 ms and +404.0 ms"
        );
        // The reader gone with the first writer: EOF came too early.
        assert_eq!(
            eof_claim(48, 48, ms(160), [ms(155), ms(404)]).0,
            Verdict::Refuted
        );
        assert_eq!(
            eof_claim(12, 48, ms(404), [ms(155), ms(404)]).0,
            Verdict::Refuted
        );
    }
}
