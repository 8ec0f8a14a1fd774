//! An upstream of the test's own on a Unix socket, for what the stand-in listeners cannot do:
//! it holds every request until a given number are in flight at once, then answers them all,
//! saying which routing header each one received.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

/// How long the held requests may take to arrive.
const ARRIVAL_TIMEOUT: Duration = Duration::from_secs(120);

pub struct HeldUpstream {
    handle: JoinHandle<Vec<Received>>,
    arrived: Arc<AtomicUsize>,
}

/// A request as the upstream received it.
#[derive(Clone, Debug)]
pub struct Received {
    pub user: Option<String>,
    pub routing_header: Option<String>,
}

impl HeldUpstream {
    /// Listens on `socket` (which Envoy's cluster names); holds requests, one per connection,
    /// until `count` have arrived, then answers each with `200`, `x-served-by: held` and
    /// `x-received-subset: <its x-canary-subset>`.
    pub fn start(socket: &Path, count: usize) -> HeldUpstream {
        let listener =
            UnixListener::bind(socket).unwrap_or_else(|e| panic!("bind {}: {e}", socket.display()));
        listener.set_nonblocking(true).unwrap();
        let arrived = Arc::new(AtomicUsize::new(0));
        let counter = arrived.clone();
        let handle = thread::spawn(move || {
            let start = Instant::now();
            let mut held: Vec<(UnixStream, Received)> = Vec::with_capacity(count);
            while held.len() < count {
                match listener.accept() {
                    Ok((stream, _)) => {
                        stream.set_nonblocking(false).unwrap();
                        stream
                            .set_read_timeout(Some(Duration::from_secs(30)))
                            .unwrap();
                        let received = read_head(&stream);
                        held.push((stream, received));
                        counter.store(held.len(), Ordering::Release);
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                        assert!(
                            start.elapsed() < ARRIVAL_TIMEOUT,
                            "only {} of {count} requests arrived",
                            held.len()
                        );
                        thread::sleep(Duration::from_millis(2));
                    }
                    Err(e) => panic!("accept: {e}"),
                }
            }
            held.into_iter()
                .map(|(mut stream, received)| {
                    let subset = received.routing_header.clone().unwrap_or_default();
                    let response = format!(
                        "HTTP/1.1 200 OK\r\nx-served-by: held\r\nx-received-subset: {subset}\r\n\
                         content-length: 0\r\nconnection: close\r\n\r\n"
                    );
                    stream.write_all(response.as_bytes()).unwrap();
                    received
                })
                .collect()
        });
        HeldUpstream { handle, arrived }
    }

    /// Waits until `count` requests are held (bounded by the arrival timeout), so that a sender
    /// can pace itself to the listen backlog.
    pub fn wait_until_held(&self, count: usize) {
        let start = Instant::now();
        while self.arrived.load(Ordering::Acquire) < count {
            assert!(!self.handle.is_finished(), "the held upstream stopped");
            assert!(
                start.elapsed() < ARRIVAL_TIMEOUT,
                "only {} of {count} requests held",
                self.arrived.load(Ordering::Acquire)
            );
            thread::sleep(Duration::from_millis(5));
        }
    }

    /// What each request received, in the order they arrived; once all were answered.
    pub fn finish(self) -> Vec<Received> {
        self.handle.join().expect("the held upstream failed")
    }
}

/// Reads one request head (the requests are GETs without a body).
fn read_head(stream: &UnixStream) -> Received {
    let mut reader = BufReader::new(stream);
    let mut received = Received {
        user: None,
        routing_header: None,
    };
    loop {
        let mut line = String::new();
        reader.read_line(&mut line).unwrap();
        let line = line.trim_end();
        if line.is_empty() {
            return received;
        }
        if let Some((name, value)) = line.split_once(':') {
            let value = Some(value.trim().to_string());
            match name.to_ascii_lowercase().as_str() {
                "x-user-id" => received.user = value,
                "x-canary-subset" => received.routing_header = value,
                _ => {}
            }
        }
    }
}
