//! Step 6, both ways. First one queue, opened O_RDWR by two processes: a side that sends and
//! then receives takes back its own message, so a conversation on one queue needs turns kept
//! outside it. Then a queue has no EOF, a liveness pipe adds one: `mq_demo::duplex` pairs
//! one queue per direction with a liveness pipe, because a queue never reports that the last
//! sender is gone. 1000 round trips
//! with an echo process, then the echo is killed and a read returns EOF instead of hanging.

use std::io::{self, Read, Write};
use std::os::fd::AsFd;
use std::os::unix::net::UnixStream;
use std::time::{Duration, Instant};

use mq_demo::Queue;
use nix::mqueue::MQ_OFlag;
use nix::sys::signal::Signal;
use plumbing::tour::{duration, heading};
use plumbing::verdict::{self, Verdict, judge};
use plumbing::{Result, child, stop};

use super::check_ended;

const SIZE: usize = 64;
const ROUND_TRIPS: usize = 1000;

/// Returns the names the duplex pair's two queues had, for the tour's last check; `name` is
/// the one queue's, which the tour knows already.
pub fn run(name: &str) -> Result<[String; 2]> {
    stop::check()?; // a stop signal during the step before ends the tour here
    heading(6, "Both ways: a queue has no EOF; a liveness pipe adds one");
    one_queue(name)?;
    stop::check()?;
    println!("  (mq_demo::duplex. A queue never reports that the last sender is gone, so");
    println!("  each side also holds the only write end of a pipe the other side polls:");
    println!("  the kernel closes it when the process dies)");
    let (end, peer_end) = mq_demo::duplex(SIZE)?; // names already unlinked
    // fork() copies both ends. Each process closes the end that is not its own, or it would
    // hold the other's liveness pipe open itself.
    let mut ours = Some(end);
    let mut echo = child::fork(|| {
        drop(ours.take()); // in the echo process
        echo_messages(peer_end)
    })?; // here `peer_end` went with the closure, and is closed
    let mut end = ours.ok_or("our end of the duplex pair is gone")?;
    let names = end.queue_names().map(str::to_owned);

    let mut buf = [0u8; SIZE];
    for i in 0..ROUND_TRIPS {
        stop::check()?; // (returning drops `echo`, which kills and reaps it)
        buf.iter_mut()
            .enumerate()
            .for_each(|(j, b)| *b = (i + j) as u8); // changes every message
        end.write_all(&buf)?;
        end.read_exact(&mut buf)?;
        if buf.iter().enumerate().any(|(j, b)| *b != !((i + j) as u8)) {
            return Err(format!("round trip {i}: the reply is not the inverted message").into());
        }
    }
    println!(
        "  {ROUND_TRIPS} round trips of {SIZE}-byte messages with the echo process (pid {}),",
        echo.pid()
    );
    println!("  every byte checked");

    echo.signal(Signal::SIGKILL)?;
    let start = Instant::now();
    let n = end.read(&mut buf)?; // no message will ever come: without the pipe, this would hang
    let waited = start.elapsed();
    echo.wait(Duration::from_secs(2))?;
    if n != 0 {
        return Err(format!("read() after the echo was killed: {n} bytes, not EOF").into());
    }
    println!(
        "  killed it with SIGKILL, then read(): 0 bytes (EOF) after {}, not a hang",
        duration(waited)
    );
    Ok(names)
}

/// The echo process: inverts every byte of each message and sends it back, until EOF.
fn echo_messages(mut end: mq_demo::End) -> Result {
    let mut buf = [0u8; SIZE];
    loop {
        match end.read_exact(&mut buf) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(()), // parent gone
            Err(e) => return Err(e.into()),
        }
        buf.iter_mut().for_each(|b| *b = !*b);
        end.write_all(&buf)?;
    }
}

/// How long one side of the one-queue probe waits for the other's turn: far longer than it
/// takes, so reaching it means the other side is stuck.
const TURN_LIMIT: Duration = Duration::from_secs(5);

/// One queue for both directions: this process and a peer open it O_RDWR. A receive right
/// after our own send takes our message back; the peer's answer comes only when the turns
/// are kept outside the queue (a socket pair here).
fn one_queue(name: &str) -> Result {
    let question = format!("question {:08x}", super::drawn(1 << 32, 6)); // new every run
    let queue = Queue::create(name, MQ_OFlag::O_RDWR, 10, 64)?;
    let (mut turn, peer_turn) = UnixStream::pair().map_err(|e| format!("socketpair: {e}"))?;
    turn.set_read_timeout(Some(TURN_LIMIT))
        .map_err(|e| format!("SO_RCVTIMEO: {e}"))?;
    let mut peer = child::fork_closing(&[turn.as_fd()], || answer_once(name, peer_turn))?;
    wait_turn(&mut turn, "opened the queue")?;
    // The peer waits for its turn, not in mq_receive: what is first in line is ours.
    queue
        .send(question.as_bytes(), 0)
        .map_err(|e| queue.error("mq_send", e))?;
    let own = receive_text(&queue)?;
    println!("  One queue for both ways? queue {name}:");
    println!(
        "  opened O_RDWR here and, by name, in a peer process (pid {}):",
        peer.pid()
    );
    println!("    mq_send {question:?}, then mq_receive -> {own:?}");
    if own == question {
        println!("    our own message came back: the peer was not receiving yet");
    }
    queue
        .send(question.as_bytes(), 0)
        .map_err(|e| queue.error("mq_send", e))?;
    turn.write_all(b"t")
        .map_err(|e| format!("write to the peer: {e}"))?; // its turn
    wait_turn(&mut turn, "answered")?;
    let answer = receive_text(&queue)?;
    check_ended(peer.wait(TURN_LIMIT)?, "peer")?;
    println!("    sent it again, gave the peer its turn, then mq_receive");
    println!("    -> {answer:?}");
    println!("  (both ways on one queue only with the turns kept outside it, here by a");
    println!("  socket pair; so mq_demo::duplex below has one queue per direction)");
    let (v, because) = direction_claim(&question, &own, &answer);
    verdict::record("bidirectional", v, because);
    Ok(())
}

/// One message off `queue`, as text; waiting at most [`TURN_LIMIT`].
fn receive_text(queue: &Queue) -> Result<String> {
    let mut buf = vec![0u8; queue.msgsize()];
    let (n, _) = queue
        .receive_timeout(&mut buf, TURN_LIMIT)
        .map_err(|e| queue.error("mq_timedreceive", e))?;
    Ok(String::from_utf8_lossy(&buf[..n]).into_owned())
}

/// Reads the peer's one-byte "done" on the socket pair; an error names what the peer had not
/// done yet when it died or the wait ran out.
fn wait_turn(turn: &mut UnixStream, what: &str) -> Result {
    let mut byte = [0u8];
    turn.read_exact(&mut byte)
        .map_err(|e| format!("the peer never {what}: {e}"))?;
    Ok(())
}

/// The peer: opens the queue by its name, says so, and on its turn takes one message and
/// answers it on the same queue.
fn answer_once(name: &str, mut turn: UnixStream) -> Result {
    turn.set_read_timeout(Some(TURN_LIMIT))
        .map_err(|e| format!("SO_RCVTIMEO: {e}"))?;
    let queue = Queue::open(name, MQ_OFlag::O_RDWR)?; // a second mq_open, not an inherited one
    turn.write_all(b"o")?;
    wait_turn(&mut turn, "gave the turn")?;
    let answer = format!("answer to {}", receive_text(&queue)?);
    queue
        .send(answer.as_bytes(), 0)
        .map_err(|e| queue.error("mq_send", e))?;
    turn.write_all(b"a")?;
    Ok(())
}

/// The lecture's table: a message queue is bidirectional. Holds when the peer's answer to our
/// `question` came back on the one queue; qualified when a receive right after our send took
/// back our own message (`own`): each side receives whatever is first in line, its own too.
pub fn direction_claim(question: &str, own: &str, answer: &str) -> (Verdict, String) {
    let answered = answer == format!("answer to {question}");
    let mut because = match answered {
        true => "the peer answered on the same queue".to_string(),
        false => format!("the peer's answer was {answer:?}"),
    };
    because += &format!(", but a receive right after our send got {own:?}");
    if own == question {
        because += ", our own";
    }
    (judge(answered, own == question), because)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn taking_back_our_own_message_qualifies_bidirectional() {
        let q = "question 1a2b3c4d";
        let (v, because) = direction_claim(q, q, "answer to question 1a2b3c4d");
        assert_eq!(v, Verdict::Qualified);
        assert_eq!(
            because,
            "the peer answered on the same queue, but a receive right after our send got \
             \"question 1a2b3c4d\", our own"
        );
    }

    #[test]
    fn a_queue_that_kept_directions_apart_confirms_it() {
        let q = "question 1a2b3c4d";
        let (v, _) = direction_claim(
            q,
            "answer to question 1a2b3c4d",
            "answer to question 1a2b3c4d",
        );
        assert_eq!(v, Verdict::Confirmed);
    }

    #[test]
    fn no_answer_refutes_it() {
        let q = "question 1a2b3c4d";
        let (v, because) = direction_claim(q, q, q);
        assert_eq!(v, Verdict::Refuted);
        assert!(
            because.starts_with("the peer's answer was \"question"),
            "{because}"
        );
    }
}
