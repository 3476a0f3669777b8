//! Step 3: message boundaries. Three writes into a stream pair come out of one read, merged;
//! into a datagram pair, as three reads of the sizes written. The lecture sets the two beside
//! TCP (a stream, like a pipe) and UDP (messages, like a queue), so the same three writes go
//! over loopback too: a TCP connection, and two UDP sockets (std::net::UdpSocket). Then
//! whether one datagram of 1 MiB fits (it must fit in the socket buffer: a datagram is never
//! split).

use std::io::{Read, Write};
use std::net::{Shutdown, TcpStream, UdpSocket};
use std::os::fd::AsRawFd;
use std::time::{Duration, Instant};

use nix::sys::socket::{MsgFlags, recv};
use plumbing::tour::heading;
use plumbing::verdict::{self, Verdict, judge};
use plumbing::{Result, stop};
use uds_demo::{datagram_duplex, sensor_readings, stream_duplex, tcp_duplex};

/// How long the readers wait for bytes still on their way through loopback.
const ARRIVAL_LIMIT: Duration = Duration::from_secs(2);

pub fn run() -> Result {
    heading(
        3,
        "Boundaries: three writes, then reads, on a stream pair and a datagram pair",
    );
    let readings = sensor_readings();
    let sizes: Vec<usize> = readings.iter().map(String::len).collect();
    let shown: Vec<String> = sizes.iter().map(usize::to_string).collect();
    let (mut stream_a, mut stream_b) =
        stream_duplex(64).map_err(|e| format!("socketpair SOCK_STREAM: {e}"))?;
    let (mut dgram_a, mut dgram_b) =
        datagram_duplex(64).map_err(|e| format!("socketpair SOCK_DGRAM: {e}"))?;
    for reading in &readings {
        stream_a
            .write_all(reading.as_bytes())
            .map_err(|e| format!("write stream: {e}"))?;
        dgram_a
            .write_all(reading.as_bytes())
            .map_err(|e| format!("send datagram: {e}"))?;
    }
    drop(stream_a); // the reader then sees EOF after the data
    drop(dgram_a); // ... and so does the datagram reader (see DatagramEnd)
    println!("   wrote {} bytes into each pair", shown.join(" + "));
    let stream_reads = read_until_eof(&mut stream_b)?;
    let dgram_reads = read_until_eof(&mut dgram_b)?;
    print_reads("UnixStream:   ", &sizes, &stream_reads);
    print_reads("UnixDatagram: ", &sizes, &dgram_reads);
    println!("   the same three writes over loopback, TCP and UDP (127.0.0.1):");
    let tcp_reads = over_tcp(&readings)?;
    print_reads("TcpStream:    ", &sizes, &tcp_reads);
    let udp_reads = over_udp(&readings)?;
    print_reads("UdpSocket:    ", &sizes, &udp_reads);
    match datagram_duplex(1 << 20) {
        Ok(_) => println!("   a 1 MiB datagram: carried whole on this machine"),
        Err(e) => println!("   a 1 MiB datagram: refused: {e}"),
    }
    let reads = Reads {
        unix_stream: stream_reads,
        unix_datagram: dgram_reads,
        tcp: tcp_reads,
        udp: udp_reads,
    };
    let (v, because) = modes_claim(&sizes, &reads);
    verdict::record("stream and datagram, as TCP and UDP", v, because);
    Ok(())
}

/// "   NAME: 3 read(s) returned [15, 13, 18] bytes: boundaries kept" (or merged).
fn print_reads(name: &str, written: &[usize], reads: &[usize]) {
    println!(
        "   {name}{} read(s) returned {reads:?} bytes: {}",
        reads.len(),
        boundaries(written, reads)
    );
}

/// "boundaries kept" when the reads returned exactly the sizes written, else "merged".
fn boundaries(written: &[usize], reads: &[usize]) -> &'static str {
    match kept(written, reads) {
        true => "boundaries kept",
        false => "boundaries merged",
    }
}

fn kept(written: &[usize], reads: &[usize]) -> bool {
    written == reads
}

/// The sizes of the reads on each kind of socket, for the same three writes.
pub struct Reads {
    pub unix_stream: Vec<usize>,
    pub unix_datagram: Vec<usize>,
    pub tcp: Vec<usize>,
    pub udp: Vec<usize>,
}

/// The lecture: a Unix socket comes as a stream, which keeps no boundaries, like TCP, and as
/// datagrams, which keep them, like UDP. Holds when the stream reads and TCP's did not
/// return the sizes written, and the datagram reads and UDP's did.
pub fn modes_claim(written: &[usize], reads: &Reads) -> (Verdict, String) {
    let count = |r: &[usize]| r.len();
    let holds = !kept(written, &reads.unix_stream)
        && !kept(written, &reads.tcp)
        && kept(written, &reads.unix_datagram)
        && kept(written, &reads.udp);
    let because = format!(
        "{} writes came out of {} and {} read(s) on UnixStream and TCP, {} and {} on \
         UnixDatagram and UDP",
        written.len(),
        count(&reads.unix_stream),
        count(&reads.tcp),
        count(&reads.unix_datagram),
        count(&reads.udp)
    );
    (judge(holds, false), because)
}

/// The three writes on a TCP connection over loopback (TCP_NODELAY: each goes out at once,
/// in a segment of its own), then reads until EOF, once every byte has arrived.
fn over_tcp(readings: &[String]) -> Result<Vec<usize>> {
    let (mut client, mut server) =
        tcp_duplex(64).map_err(|e| format!("TCP over 127.0.0.1: {e}"))?;
    server
        .set_read_timeout(Some(ARRIVAL_LIMIT))
        .map_err(|e| format!("setsockopt SO_RCVTIMEO: {e}"))?;
    for reading in readings {
        client
            .write_all(reading.as_bytes())
            .map_err(|e| format!("write TCP: {e}"))?;
    }
    client
        .shutdown(Shutdown::Write)
        .map_err(|e| format!("shutdown TCP: {e}"))?;
    let total = readings.iter().map(String::len).sum();
    wait_until_queued(&server, total)?;
    read_until_eof(&mut server)
}

/// Loopback delivers a segment in the kernel's own time: look (MSG_PEEK, nothing consumed)
/// until all `total` bytes wait in the receive queue, so the reads see what the stream keeps.
fn wait_until_queued(stream: &TcpStream, total: usize) -> Result {
    let deadline = Instant::now() + ARRIVAL_LIMIT;
    let mut buf = vec![0u8; total + 1];
    loop {
        stop::check()?;
        let flags = MsgFlags::MSG_PEEK | MsgFlags::MSG_DONTWAIT;
        match recv(stream.as_raw_fd(), &mut buf, flags) {
            Ok(n) if n >= total => return Ok(()),
            _ if Instant::now() > deadline => return Ok(()), // the reads will show what came
            _ => std::thread::sleep(Duration::from_millis(1)),
        }
    }
}

/// The three writes as UDP datagrams from one socket on 127.0.0.1 to another, then one
/// recv(2) per datagram until all bytes have come (or none more came within 2 s: UDP may
/// drop, and has no end-of-file).
fn over_udp(readings: &[String]) -> Result<Vec<usize>> {
    let receiver = UdpSocket::bind("127.0.0.1:0").map_err(|e| format!("bind UDP: {e}"))?;
    let sender = UdpSocket::bind("127.0.0.1:0").map_err(|e| format!("bind UDP: {e}"))?;
    let to = receiver
        .local_addr()
        .map_err(|e| format!("getsockname: {e}"))?;
    sender
        .connect(to)
        .map_err(|e| format!("connect UDP {to}: {e}"))?;
    receiver
        .set_read_timeout(Some(ARRIVAL_LIMIT))
        .map_err(|e| format!("setsockopt SO_RCVTIMEO: {e}"))?;
    for reading in readings {
        sender
            .send(reading.as_bytes())
            .map_err(|e| format!("send UDP: {e}"))?;
    }
    let total: usize = readings.iter().map(String::len).sum();
    let mut buf = [0u8; 4096];
    let mut sizes = Vec::new();
    while sizes.iter().sum::<usize>() < total {
        match receiver.recv(&mut buf) {
            Ok(n) => sizes.push(n),
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break,
            Err(e) => return Err(format!("recv UDP: {e}").into()),
        }
    }
    Ok(sizes)
}

/// Reads until EOF, returning the size of each read.
fn read_until_eof<R: Read>(reader: &mut R) -> Result<Vec<usize>> {
    let mut buf = [0u8; 4096];
    let mut sizes = Vec::new();
    loop {
        match reader.read(&mut buf)? {
            0 => return Ok(sizes),
            n => sizes.push(n),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reads(stream: &[usize], dgram: &[usize], tcp: &[usize], udp: &[usize]) -> Reads {
        Reads {
            unix_stream: stream.to_vec(),
            unix_datagram: dgram.to_vec(),
            tcp: tcp.to_vec(),
            udp: udp.to_vec(),
        }
    }

    #[test]
    fn the_modes_verdict_follows_the_reads() {
        let w = [15, 13, 18];
        let (v, because) = modes_claim(&w, &reads(&[46], &w, &[46], &w));
        assert_eq!(v, Verdict::Confirmed);
        assert_eq!(
            because,
            "3 writes came out of 1 and 1 read(s) on UnixStream and TCP, 3 and 3 on \
             UnixDatagram and UDP"
        );
        // TCP that kept the sizes, a datagram pair that merged, a lost UDP datagram.
        assert_eq!(
            modes_claim(&w, &reads(&[46], &w, &w, &w)).0,
            Verdict::Refuted
        );
        assert_eq!(
            modes_claim(&w, &reads(&[46], &[46], &[46], &w)).0,
            Verdict::Refuted
        );
        let lost = modes_claim(&w, &reads(&[46], &w, &[46], &[15, 13]));
        assert_eq!(lost.0, Verdict::Refuted);
        assert!(lost.1.ends_with("3 and 2 on UnixDatagram and UDP"));
        // A stream split differently from the writes keeps no boundaries either.
        assert_eq!(
            modes_claim(&w, &reads(&[28, 18], &w, &[20, 26], &w)).0,
            Verdict::Confirmed
        );
    }
}
