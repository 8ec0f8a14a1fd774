//! A stand-in upstream of the test's own on a Unix socket whose answers the test scripts while
//! traffic flows: healthy, a 500 for every n-th request it receives (counted across all its
//! connections, so "3 %" is exact), or a reset before any response headers.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::{self, JoinHandle};
use std::time::Duration;

/// What the upstream does with the requests it receives from now on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Script {
    /// `200` to every request.
    Healthy,
    /// `500` to every `n`-th request (1: all of them), `200` to the others.
    FailEvery(u64),
    /// Closes the connection once a request's head arrived, without a response.
    Reset,
}

const HEALTHY: u64 = 0;
const RESET: u64 = u64::MAX;

#[derive(Default)]
struct Shared {
    script: AtomicU64,
    received: AtomicU64,
    failed: AtomicU64,
    stop: AtomicBool,
}

/// Answers as `x-served-by: <name>` with `x-received-subset` like the scenario's stand-ins.
pub struct ScriptedUpstream {
    shared: Arc<Shared>,
    accept: Option<JoinHandle<()>>,
}

impl ScriptedUpstream {
    pub fn start(socket: &Path, name: &str, script: Script) -> ScriptedUpstream {
        let listener =
            UnixListener::bind(socket).unwrap_or_else(|e| panic!("bind {}: {e}", socket.display()));
        listener.set_nonblocking(true).unwrap();
        let shared = Arc::new(Shared::default());
        shared.script.store(code(script), Ordering::SeqCst);
        let upstream_shared = shared.clone();
        let name = name.to_string();
        let accept = thread::spawn(move || {
            while !shared.stop.load(Ordering::Relaxed) {
                match listener.accept() {
                    Ok((stream, _)) => {
                        let (shared, name) = (shared.clone(), name.clone());
                        thread::spawn(move || serve(stream, &shared, &name));
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                        thread::sleep(Duration::from_millis(2));
                    }
                    Err(e) => panic!("accept: {e}"),
                }
            }
        });
        ScriptedUpstream {
            shared: upstream_shared,
            accept: Some(accept),
        }
    }

    pub fn set(&self, script: Script) {
        self.shared.script.store(code(script), Ordering::SeqCst);
    }

    /// Requests received so far (answered or reset).
    pub fn received(&self) -> u64 {
        self.shared.received.load(Ordering::SeqCst)
    }

    /// Requests answered `500` so far.
    pub fn failed(&self) -> u64 {
        self.shared.failed.load(Ordering::SeqCst)
    }
}

impl Drop for ScriptedUpstream {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::Relaxed);
        if let Some(accept) = self.accept.take() {
            let _ = accept.join();
        }
    }
}

fn code(script: Script) -> u64 {
    match script {
        Script::Healthy => HEALTHY,
        Script::FailEvery(n) => {
            assert!(n >= 1 && n != RESET, "fail every {n}th?");
            n
        }
        Script::Reset => RESET,
    }
}

/// One keep-alive connection: a GET head at a time (the tests send no bodies).
fn serve(stream: UnixStream, shared: &Shared, name: &str) {
    stream
        .set_read_timeout(Some(Duration::from_secs(60)))
        .unwrap();
    let mut writer = stream.try_clone().unwrap();
    let mut reader = BufReader::new(stream);
    loop {
        let mut subset = String::new();
        let mut any = false;
        loop {
            let mut line = String::new();
            match reader.read_line(&mut line) {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
            let line = line.trim_end();
            if line.is_empty() {
                break;
            }
            any = true;
            if let Some((n, v)) = line.split_once(':') {
                if n.eq_ignore_ascii_case("x-canary-subset") {
                    subset = v.trim().to_string();
                }
            }
        }
        if !any {
            continue;
        }
        let number = shared.received.fetch_add(1, Ordering::SeqCst) + 1;
        let status = match shared.script.load(Ordering::SeqCst) {
            RESET => return,
            HEALTHY => 200,
            n if number % n == 0 => 500,
            _ => 200,
        };
        if status == 500 {
            shared.failed.fetch_add(1, Ordering::SeqCst);
        }
        let reason = if status == 200 {
            "OK"
        } else {
            "Internal Server Error"
        };
        let response = format!(
            "HTTP/1.1 {status} {reason}\r\nx-served-by: {name}\r\nx-received-subset: {subset}\r\ncontent-length: 0\r\n\r\n"
        );
        if writer.write_all(response.as_bytes()).is_err() {
            return;
        }
    }
}
