//! An upstream of the test's own on a Unix socket that answers every request at once (HTTP/1.1,
//! keep-alive) and records what it received: it stands in for a subset whose requests a test
//! must see one by one, such as the target of a mirror policy.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::{BufRead, BufReader, ErrorKind, Read, Write};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use tempfile::TempDir;

/// How often blocked reads and accepts look whether the upstream was dropped.
const POLL: Duration = Duration::from_millis(20);

/// A request head as received: lowercase names, values as text.
#[derive(Clone, Debug)]
pub struct Recorded {
    /// `GET /path HTTP/1.1`.
    pub request_line: String,
    pub headers: Vec<(String, String)>,
}

impl Recorded {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

pub struct RecordingUpstream {
    _dir: TempDir,
    socket: PathBuf,
    received: Arc<Mutex<Vec<Recorded>>>,
    stop: Arc<AtomicBool>,
}

impl RecordingUpstream {
    /// Listens on a socket in a directory of its own; answers each request with `200`,
    /// `x-served-by: <served_by>` and `x-received-subset: <its x-canary-subset>`.
    pub fn start(served_by: &str) -> RecordingUpstream {
        let dir = tempfile::Builder::new()
            .prefix("sticky-canary-up-")
            .tempdir()
            .unwrap();
        let socket = dir.path().join("upstream.sock");
        let listener = UnixListener::bind(&socket).unwrap();
        listener.set_nonblocking(true).unwrap();
        let received = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let (log, stopped, served_by) = (received.clone(), stop.clone(), served_by.to_string());
        thread::spawn(move || {
            while !stopped.load(Ordering::Acquire) {
                match listener.accept() {
                    Ok((stream, _)) => {
                        let (log, stopped, served_by) =
                            (log.clone(), stopped.clone(), served_by.clone());
                        thread::spawn(move || serve(stream, &log, &stopped, &served_by));
                    }
                    Err(e) if e.kind() == ErrorKind::WouldBlock => thread::sleep(POLL),
                    Err(e) => panic!("accept: {e}"),
                }
            }
        });
        RecordingUpstream {
            _dir: dir,
            socket,
            received,
            stop,
        }
    }

    pub fn socket(&self) -> &Path {
        &self.socket
    }

    /// Every request received so far, in the order they arrived.
    pub fn received(&self) -> Vec<Recorded> {
        self.received.lock().unwrap().clone()
    }

    /// Waits until `done` holds for what was received, polling; fails after `timeout`.
    pub fn wait_for(&self, what: &str, timeout: Duration, done: impl Fn(&[Recorded]) -> bool) {
        let start = Instant::now();
        while !done(&self.received()) {
            assert!(
                start.elapsed() < timeout,
                "timed out waiting for {what}: {} requests received",
                self.received().len()
            );
            thread::sleep(POLL);
        }
    }
}

impl Drop for RecordingUpstream {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Release);
    }
}

/// Answers the requests of one connection until it closes or the upstream is dropped.
fn serve(stream: UnixStream, log: &Mutex<Vec<Recorded>>, stop: &AtomicBool, served_by: &str) {
    stream.set_nonblocking(false).unwrap();
    stream.set_read_timeout(Some(POLL)).unwrap();
    let mut writer = stream.try_clone().unwrap();
    let mut reader = BufReader::new(stream);
    let mut line = Vec::new();
    let mut request_line = None;
    let mut headers = Vec::new();
    while !stop.load(Ordering::Acquire) {
        match reader.read_until(b'\n', &mut line) {
            Ok(0) => return,
            Ok(_) if !line.ends_with(b"\n") => continue,
            Ok(_) => {}
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => continue,
            Err(_) => return,
        }
        let text = String::from_utf8_lossy(&line).trim_end().to_string();
        line.clear();
        if request_line.is_none() {
            request_line = Some(text);
            continue;
        }
        if !text.is_empty() {
            if let Some((name, value)) = text.split_once(':') {
                headers.push((name.to_ascii_lowercase(), value.trim().to_string()));
            }
            continue;
        }
        let request = Recorded {
            request_line: request_line.take().unwrap_or_default(),
            headers: std::mem::take(&mut headers),
        };
        let length: usize = request
            .header("content-length")
            .and_then(|l| l.parse().ok())
            .unwrap_or(0);
        let mut body = vec![0; length];
        if reader.read_exact(&mut body).is_err() {
            return;
        }
        let subset = request.header("x-canary-subset").unwrap_or("").to_string();
        log.lock().unwrap().push(request);
        let response = format!(
            "HTTP/1.1 200 OK\r\nx-served-by: {served_by}\r\nx-received-subset: {subset}\r\n\
             content-length: 2\r\n\r\nB\n"
        );
        if writer.write_all(response.as_bytes()).is_err() {
            return;
        }
    }
}
