//! The `client` role, `uds-demo client --unix PATH | --inet IP:PORT | --abstract NAME [MSG...]`:
//! connects (the one line that differs per family), then sends each message and prints its
//! echo and round trip, the same way for every family. It owns nothing, so it keeps the
//! default action of every signal.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::os::fd::AsFd;
use std::os::unix::net::UnixStream;
use std::time::{Duration, Instant};

use plumbing::Result;
use plumbing::tour::duration;
use uds_demo::address::{Address, abstract_addr};
use uds_demo::socket_file::connect_unix;
use uds_demo::timeouts::{REPLY_TIMEOUT, set_timeouts};
use uds_demo::{echo_once, sensor_readings};

/// What a client sends: `messages` (none: the sensor readings), `rounds` times, `interval` apart.
pub struct Conversation {
    pub messages: Vec<String>,
    pub rounds: u64,
    pub interval: Duration,
}

/// Connects to `to` (the one line that differs per family) and talks.
pub fn run(to: &Address, talk: &Conversation) -> Result {
    match to {
        Address::File(path) => {
            let stream = connect_unix(path)?;
            converse(stream, &format!("unix:{}", path.display()), talk)
        }
        Address::Abstract(name) => {
            let stream = UnixStream::connect_addr(&abstract_addr(name)?)
                .map_err(|e| format!("connect @{name}: {e}"))?;
            converse(stream, &format!("abstract:@{name}"), talk)
        }
        Address::Inet(addr) => {
            let stream = TcpStream::connect_timeout(addr, REPLY_TIMEOUT)
                .map_err(|e| format!("connect {addr}: {e}"))?;
            converse(stream, &format!("inet:{addr}"), talk)
        }
    }
}

/// Sends each message, prints each echo and its round trip; the same for every family.
fn converse<S: Read + Write + AsFd>(mut stream: S, name: &str, talk: &Conversation) -> Result {
    set_timeouts(&stream, REPLY_TIMEOUT, None)?;
    let messages = if talk.messages.is_empty() {
        sensor_readings()
    } else {
        talk.messages.clone()
    };
    for round in 0..talk.rounds {
        if round > 0 {
            std::thread::sleep(talk.interval);
        }
        for message in &messages {
            let start = Instant::now();
            let echo = echo_once(&mut stream, message.as_bytes(), REPLY_TIMEOUT)
                .map_err(|e| format!("echo over {name}: {e}"))?;
            println!(
                "echo: {} ({} bytes, {})",
                String::from_utf8_lossy(&echo),
                echo.len(),
                duration(start.elapsed())
            );
        }
    }
    Ok(())
}
