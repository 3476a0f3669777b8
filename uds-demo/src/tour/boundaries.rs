//! Step 3: message boundaries. Three writes into a stream pair come out of one read, merged;
//! into a datagram pair, as three reads of the sizes written. Then whether one datagram of
//! 1 MiB fits (it must fit in the socket buffer: a datagram is never split).

use std::io::{Read, Write};

use plumbing::Result;
use plumbing::tour::heading;
use uds_demo::{datagram_duplex, sensor_readings, stream_duplex};

pub fn run() -> Result {
    heading(
        3,
        "Boundaries: three writes, then reads, on a stream pair and a datagram pair",
    );
    let readings = sensor_readings();
    let sizes: Vec<String> = readings.iter().map(|r| r.len().to_string()).collect();
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
    println!("   wrote {} bytes into each pair", sizes.join(" + "));
    let stream_reads = read_until_eof(&mut stream_b)?;
    let dgram_reads = read_until_eof(&mut dgram_b)?;
    println!(
        "   UnixStream:   {} read(s) returned {:?} bytes: boundaries merged",
        stream_reads.len(),
        stream_reads
    );
    println!(
        "   UnixDatagram: {} read(s) returned {:?} bytes: boundaries kept",
        dgram_reads.len(),
        dgram_reads
    );
    match datagram_duplex(1 << 20) {
        Ok(_) => println!("   a 1 MiB datagram: carried whole on this machine"),
        Err(e) => println!("   a 1 MiB datagram: refused: {e}"),
    }
    Ok(())
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
