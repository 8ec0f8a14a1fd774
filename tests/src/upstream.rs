//! The test's own upstream on a Unix socket, for what the scenarios' stand-in listeners cannot do:
//! it records every request head it receives, and behaves as the test says ([`Behaviour`]):
//! answers at once, fails every n-th request, resets, or holds requests until enough are in
//! flight. Every answer says `x-served-by: <name>` and `x-received-subset: <its
//! x-canary-subset>`, like the stand-ins.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::{BufRead, BufReader, ErrorKind, Read, Write};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use tempfile::TempDir;

/// How often blocked reads and accepts look whether the upstream was dropped.
const POLL: Duration = Duration::from_millis(5);
/// How long held requests may take to arrive.
const ARRIVAL_TIMEOUT: Duration = Duration::from_secs(120);
/// A connection's thread does little: a small stack lets a test hold a thousand of them.
const STACK: usize = 128 * 1024;

/// What the upstream does with the requests it receives from now on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Behaviour {
    /// `200` to every request, at once.
    Answer,
    /// `500` to every `n`-th request received (1: all of them; counted across all connections,
    /// so "3 %" is exact), `200` to the others.
    FailEvery(u64),
    /// Closes the connection once a request's head arrived, without a response.
    Reset,
    /// Holds each request until this many are held at once, then answers them all `200` and
    /// closes their connections.
    HoldUntil(usize),
}

/// A request head as received: lowercase names, values as text.
#[derive(Clone, Debug)]
pub struct Request {
    /// `GET /path HTTP/1.1`.
    pub request_line: String,
    pub headers: Vec<(String, String)>,
}

impl Request {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

struct Shared {
    name: String,
    behaviour: Mutex<Behaviour>,
    received: Mutex<Vec<Request>>,
    count: AtomicU64,
    failed: AtomicU64,
    /// Requests held now ([`Behaviour::HoldUntil`]), and the signal that more arrived.
    held: Mutex<usize>,
    more_held: Condvar,
    stop: AtomicBool,
}

pub struct Upstream {
    shared: Arc<Shared>,
    socket: PathBuf,
    accept: Option<JoinHandle<()>>,
    _dir: Option<TempDir>,
}

impl Upstream {
    /// Listens on a socket in a directory of its own (see [`Upstream::socket`]).
    pub fn start(name: &str, behaviour: Behaviour) -> Upstream {
        let dir = tempfile::Builder::new()
            .prefix("sticky-canary-up-")
            .tempdir()
            .unwrap();
        let mut upstream = Upstream::start_at(&dir.path().join("upstream.sock"), name, behaviour);
        upstream._dir = Some(dir);
        upstream
    }

    /// Listens on `socket`, a path the test's bootstrap already names.
    pub fn start_at(socket: &Path, name: &str, behaviour: Behaviour) -> Upstream {
        check(behaviour);
        let listener =
            UnixListener::bind(socket).unwrap_or_else(|e| panic!("bind {}: {e}", socket.display()));
        listener.set_nonblocking(true).unwrap();
        let shared = Arc::new(Shared {
            name: name.to_string(),
            behaviour: Mutex::new(behaviour),
            received: Mutex::new(Vec::new()),
            count: AtomicU64::new(0),
            failed: AtomicU64::new(0),
            held: Mutex::new(0),
            more_held: Condvar::new(),
            stop: AtomicBool::new(false),
        });
        let accepting = shared.clone();
        let accept = thread::spawn(move || {
            while !accepting.stop.load(Ordering::Acquire) {
                match listener.accept() {
                    Ok((stream, _)) => {
                        let shared = accepting.clone();
                        thread::Builder::new()
                            .stack_size(STACK)
                            .spawn(move || serve(stream, &shared))
                            .unwrap();
                    }
                    Err(e) if e.kind() == ErrorKind::WouldBlock => thread::sleep(POLL),
                    Err(e) => panic!("accept: {e}"),
                }
            }
        });
        Upstream {
            shared,
            socket: socket.to_path_buf(),
            accept: Some(accept),
            _dir: None,
        }
    }

    pub fn socket(&self) -> &Path {
        &self.socket
    }

    /// What to do with the requests received from now on.
    pub fn set(&self, behaviour: Behaviour) {
        check(behaviour);
        *self.shared.behaviour.lock().unwrap() = behaviour;
    }

    /// Every request head received so far, in the order they arrived.
    pub fn received(&self) -> Vec<Request> {
        self.shared.received.lock().unwrap().clone()
    }

    /// How many requests were received so far (answered, failed, reset or held).
    pub fn received_count(&self) -> u64 {
        self.shared.count.load(Ordering::SeqCst)
    }

    /// Requests answered `500` so far.
    pub fn failed(&self) -> u64 {
        self.shared.failed.load(Ordering::SeqCst)
    }

    /// Polls until `done` holds for what was received; fails after `timeout`.
    pub fn wait_for(&self, what: &str, timeout: Duration, done: impl Fn(&[Request]) -> bool) {
        let start = Instant::now();
        while !done(&self.shared.received.lock().unwrap()) {
            assert!(
                start.elapsed() < timeout,
                "timed out waiting for {what}: {} requests received",
                self.received_count()
            );
            thread::sleep(POLL);
        }
    }

    /// Waits until `count` requests are held at once ([`Behaviour::HoldUntil`]), so that a
    /// sender can pace itself to the listen backlog.
    pub fn wait_until_held(&self, count: usize) {
        let held = self.shared.held.lock().unwrap();
        let (held, timeout) = self
            .shared
            .more_held
            .wait_timeout_while(held, ARRIVAL_TIMEOUT, |held| *held < count)
            .unwrap();
        assert!(
            !timeout.timed_out(),
            "only {} of {count} requests held",
            *held
        );
    }
}

impl Drop for Upstream {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::Release);
        self.shared.more_held.notify_all();
        if let Some(accept) = self.accept.take() {
            let _ = accept.join();
        }
    }
}

fn check(behaviour: Behaviour) {
    match behaviour {
        Behaviour::FailEvery(0) => panic!("fail every 0th request?"),
        Behaviour::HoldUntil(0) => panic!("hold until 0 requests?"),
        _ => {}
    }
}

/// One keep-alive connection: a request at a time, until it closes or the upstream is dropped.
fn serve(stream: UnixStream, shared: &Shared) {
    stream.set_nonblocking(false).unwrap();
    stream.set_read_timeout(Some(POLL)).unwrap();
    let mut writer = stream.try_clone().unwrap();
    let mut reader = BufReader::new(stream);
    while let Some(request) = read_request(&mut reader, shared) {
        let number = shared.count.fetch_add(1, Ordering::SeqCst) + 1;
        let subset = request.header("x-canary-subset").unwrap_or("").to_string();
        shared.received.lock().unwrap().push(request);
        let behaviour = *shared.behaviour.lock().unwrap();
        let (status, close) = match behaviour {
            Behaviour::Answer => (200, false),
            Behaviour::FailEvery(n) => (if number % n == 0 { 500 } else { 200 }, false),
            Behaviour::Reset => return,
            Behaviour::HoldUntil(count) => {
                hold(shared, count);
                (200, true)
            }
        };
        if status == 500 {
            shared.failed.fetch_add(1, Ordering::SeqCst);
        }
        let reason = if status == 200 {
            "OK"
        } else {
            "Internal Server Error"
        };
        let connection = if close { "connection: close\r\n" } else { "" };
        let response = format!(
            "HTTP/1.1 {status} {reason}\r\nx-served-by: {}\r\nx-received-subset: {subset}\r\n\
             {connection}content-length: 0\r\n\r\n",
            shared.name
        );
        if writer.write_all(response.as_bytes()).is_err() || close {
            return;
        }
    }
}

/// Counts this request as held and waits until `count` are, or the upstream is dropped.
fn hold(shared: &Shared, count: usize) {
    let mut held = shared.held.lock().unwrap();
    *held += 1;
    shared.more_held.notify_all();
    let start = Instant::now();
    while *held < count && !shared.stop.load(Ordering::Acquire) {
        assert!(
            start.elapsed() < ARRIVAL_TIMEOUT,
            "only {} of {count} requests arrived",
            *held
        );
        held = shared.more_held.wait_timeout(held, POLL * 20).unwrap().0;
    }
}

/// The next request's head (its body, if any, read and dropped); `None` once the connection
/// closed or the upstream was dropped.
fn read_request(reader: &mut BufReader<UnixStream>, shared: &Shared) -> Option<Request> {
    let mut line = Vec::new();
    let mut request_line = None;
    let mut headers = Vec::new();
    loop {
        if shared.stop.load(Ordering::Acquire) {
            return None;
        }
        match reader.read_until(b'\n', &mut line) {
            Ok(0) => return None,
            Ok(_) if !line.ends_with(b"\n") => continue,
            Ok(_) => {}
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => continue,
            Err(_) => return None,
        }
        let text = String::from_utf8_lossy(&line).trim_end().to_string();
        line.clear();
        match (&request_line, text.is_empty()) {
            // Blank lines between requests.
            (None, true) => continue,
            (None, false) => request_line = Some(text),
            (Some(_), false) => {
                if let Some((name, value)) = text.split_once(':') {
                    headers.push((name.to_ascii_lowercase(), value.trim().to_string()));
                }
            }
            (Some(_), true) => break,
        }
    }
    let request = Request {
        request_line: request_line.unwrap_or_default(),
        headers,
    };
    let length: usize = request
        .header("content-length")
        .and_then(|l| l.parse().ok())
        .unwrap_or(0);
    let mut body = vec![0; length];
    reader.read_exact(&mut body).ok()?;
    Some(request)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn connect(upstream: &Upstream) -> BufReader<UnixStream> {
        let stream = UnixStream::connect(upstream.socket()).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        BufReader::new(stream)
    }

    /// Sends a GET for `user`; the response's status line and headers, or `None` when the
    /// connection closed instead.
    fn get(connection: &mut BufReader<UnixStream>, user: &str) -> Option<Vec<String>> {
        let request =
            format!("GET /{user} HTTP/1.1\r\nX-User-Id: {user}\r\nx-canary-subset: v2\r\n\r\n");
        connection.get_mut().write_all(request.as_bytes()).unwrap();
        let mut head = Vec::new();
        loop {
            let mut line = String::new();
            if connection.read_line(&mut line).unwrap_or(0) == 0 {
                return None;
            }
            let line = line.trim_end().to_string();
            if line.is_empty() {
                return Some(head);
            }
            head.push(line);
        }
    }

    #[test]
    fn every_nth_request_across_connections_fails_and_every_head_is_recorded() {
        let upstream = Upstream::start("v2", Behaviour::FailEvery(3));
        let (mut a, mut b) = (connect(&upstream), connect(&upstream));
        let statuses: Vec<String> = (0..6)
            .map(|i| {
                let connection = if i % 2 == 0 { &mut a } else { &mut b };
                get(connection, &format!("u{i}")).unwrap().remove(0)
            })
            .collect();
        let fail = "HTTP/1.1 500 Internal Server Error";
        let ok = "HTTP/1.1 200 OK";
        assert_eq!(statuses, [ok, ok, fail, ok, ok, fail]);
        assert_eq!((upstream.received_count(), upstream.failed()), (6, 2));
        let first = &upstream.received()[0];
        assert_eq!(first.request_line, "GET /u0 HTTP/1.1");
        assert_eq!(first.header("x-user-id"), Some("u0"));

        upstream.set(Behaviour::Answer);
        let head = get(&mut a, "u6").unwrap();
        assert_eq!(
            head,
            [
                ok,
                "x-served-by: v2",
                "x-received-subset: v2",
                "content-length: 0"
            ]
        );
    }

    #[test]
    fn reset_closes_without_a_response_and_counts_the_request() {
        let upstream = Upstream::start("v2", Behaviour::Reset);
        assert_eq!(get(&mut connect(&upstream), "u"), None);
        assert_eq!(upstream.received_count(), 1);
    }

    #[test]
    fn held_requests_are_answered_once_enough_are_in_flight() {
        let upstream = Upstream::start("held", Behaviour::HoldUntil(2));
        let mut first = connect(&upstream);
        let sender = thread::spawn(move || get(&mut first, "first"));
        upstream.wait_until_held(1);
        assert!(!sender.is_finished(), "answered before the second arrived");
        let second = get(&mut connect(&upstream), "second").unwrap();
        assert!(
            second.contains(&"connection: close".to_string()),
            "{second:?}"
        );
        assert_eq!(sender.join().unwrap().unwrap()[0], "HTTP/1.1 200 OK");
    }
}
