//! `make demo` as a user runs it (envoy/demo/demo.sh, in the foreground, on ports of its own):
//! starting it, reading what it prints, and stopping it as Ctrl-C does. Used by the demo test
//! and by the browser tests, which drive the pages and the console it serves.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::fs;
use std::io::{BufRead, BufReader, ErrorKind, Read};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use serde_json::Value;
use sticky_canary_core::{plan, Config, Fixed, Request};

use crate::artifacts::{envoy_binary, repo_root, wasm_module};

/// Generous bounds for a loaded 2-core machine; the tests only ever poll up to them.
pub const READY_TIMEOUT: Duration = Duration::from_secs(180);
pub const EXIT_TIMEOUT: Duration = Duration::from_secs(60);

/// The demo's ECDS resource, which demo.sh copies for Envoy and the console.
pub const DEMO_RESOURCE: &str = "envoy/demo/filters/sticky-canary.yaml";

/// Five free loopback ports for the demo (front, v1, v2, admin, console), which binds fixed
/// ports as a user runs it. They are taken below the kernel's ephemeral range (32768 and up
/// here), where no other test's Envoy can be given them: those bind port 0. Each is checked free,
/// and all are held until all are chosen; a range per test process and per call keeps two demo
/// tests running at once apart.
pub fn free_ports(slot: u16) -> [u16; 5] {
    let start = 20_000 + (std::process::id() % 500) as u16 * 20 + slot * 10;
    let listeners: Vec<TcpListener> = (start..32_000)
        .filter_map(|port| TcpListener::bind(("127.0.0.1", port)).ok())
        .take(5)
        .collect();
    let ports: Vec<u16> = listeners
        .iter()
        .map(|l| l.local_addr().unwrap().port())
        .collect();
    [ports[0], ports[1], ports[2], ports[3], ports[4]]
}

/// The pluginConfig the demo starts with.
pub fn demo_plugin_config() -> String {
    let text = fs::read_to_string(repo_root().join(DEMO_RESOURCE)).unwrap();
    let yaml: yaml_serde::Value = yaml_serde::from_str(&text).unwrap();
    let json: Value = serde_json::to_value(yaml).unwrap();
    json.pointer("/resources/0/typed_config/config/configuration/value")
        .and_then(Value::as_str)
        .expect("the demo's resource carries a pluginConfig")
        .to_string()
}

/// The subset the pure core picks for a request to the demo: the oracle for every claim.
pub fn expected(config: &Config, path: &str, headers: &[(&str, &str)]) -> String {
    let mut pairs: Vec<(&[u8], &[u8])> =
        vec![(b":authority", b"127.0.0.1"), (b":path", path.as_bytes())];
    pairs.extend(headers.iter().map(|(n, v)| (n.as_bytes(), v.as_bytes())));
    // Fixed inputs: the demo's requests carry keys, so neither is drawn.
    let decision = plan(config, &Request::new(pairs), &Fixed::default())
        .decision
        .expect("the demo's route takes every request");
    config.routes[decision.route].subsets[decision.subset]
        .name
        .clone()
}

/// `/proc/<pid>/stat` as (parent pid, start time in clock ticks), or `None` once it is gone.
fn proc_stat(pid: u32) -> Option<(u32, u64)> {
    let text = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name may hold spaces and parentheses: the fields start after the last ')'.
    let fields: Vec<&str> = text.get(text.rfind(')')? + 2..)?.split(' ').collect();
    Some((fields[1].parse().ok()?, fields[19].parse().ok()?))
}

/// Every process whose parent is `parent`, as (pid, start time): a pid alone could be reused.
pub fn children_of(parent: u32) -> Vec<(u32, u64)> {
    fs::read_dir("/proc")
        .unwrap()
        .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter_map(|pid| {
            let (ppid, start) = proc_stat(pid)?;
            (ppid == parent).then_some((pid, start))
        })
        .collect()
}

pub fn still_running(process: (u32, u64)) -> bool {
    proc_stat(process.0).is_some_and(|(_, start)| start == process.1)
}

pub fn signal(pid: u32, name: &str) {
    let status = Command::new("kill")
        .args([&format!("-{name}"), &pid.to_string()])
        .status()
        .unwrap();
    assert!(status.success(), "kill -{name} {pid} failed");
}

pub fn refuses_connections(port: u16) -> bool {
    matches!(
        TcpStream::connect(("127.0.0.1", port)),
        Err(e) if e.kind() == ErrorKind::ConnectionRefused
    )
}

/// `http://127.0.0.1:PORT/PATH` -> (PORT, /PATH).
pub fn split_url(url: &str) -> (u16, String) {
    let rest = url.strip_prefix("http://127.0.0.1:").unwrap();
    let slash = rest.find('/').unwrap();
    (rest[..slash].parse().unwrap(), rest[slash..].to_string())
}

/// The first URL in a line.
pub fn first_url(line: &str) -> &str {
    let start = line.find("http://").unwrap();
    line[start..].split_whitespace().next().unwrap()
}

/// The running script: its stdout line by line, its stderr as a whole. Dropping it (a failed
/// assertion) stops the demo as a user would, so no Envoy outlives the test.
pub struct Demo {
    pub child: Child,
    lines: Receiver<String>,
    pub output: Vec<String>,
    stderr: Arc<Mutex<String>>,
    /// build/demo-<front port>: the demo's copies (Envoy config, ECDS file, logs).
    pub dir: PathBuf,
    pub ports: [u16; 5],
}

impl Demo {
    /// Starts envoy/demo/demo.sh with these ports (front, v1, v2, admin, console) and `console`
    /// as the `sticky-canary` binary.
    pub fn start(ports: [u16; 5], console: &Path) -> Demo {
        let root = repo_root();
        let (envoy, wasm) = (envoy_binary(), wasm_module());
        for (what, path) in [("Envoy", &envoy), ("module", &wasm)] {
            assert!(
                path.exists(),
                "no {what} at {}: run `make test`, which installs and builds it",
                path.display()
            );
        }
        let [front, v1, v2, admin, console_port] = ports;
        let mut child = Command::new(root.join("envoy/demo/demo.sh"))
            .env("ENVOY", &envoy)
            .env("STICKY_CANARY_WASM", &wasm)
            .env("CONSOLE", console)
            .env("FRONT_PORT", front.to_string())
            .env("V1_PORT", v1.to_string())
            .env("V2_PORT", v2.to_string())
            .env("ADMIN_PORT", admin.to_string())
            .env("CONSOLE_PORT", console_port.to_string())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let (send, lines) = mpsc::channel();
        let stdout = child.stdout.take().unwrap();
        thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if send.send(line).is_err() {
                    break;
                }
            }
        });
        let stderr = Arc::new(Mutex::new(String::new()));
        let mut pipe = child.stderr.take().unwrap();
        let sink = Arc::clone(&stderr);
        thread::spawn(move || {
            let mut text = String::new();
            let _ = pipe.read_to_string(&mut text);
            sink.lock().unwrap().push_str(&text);
        });
        Demo {
            child,
            lines,
            output: Vec::new(),
            stderr,
            dir: root.join(format!("build/demo-{front}")),
            ports,
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The ECDS file the demo's Envoy watches and its console edits.
    pub fn ecds_file(&self) -> PathBuf {
        self.dir.join("filters/sticky-canary.yaml")
    }

    pub fn transcript(&self) -> String {
        let logs: String = ["envoy.log", "console.log"]
            .iter()
            .map(|name| {
                let text = fs::read_to_string(self.dir.join(name)).unwrap_or_default();
                let tail: Vec<&str> = text.lines().rev().take(30).collect();
                let tail: Vec<&str> = tail.into_iter().rev().collect();
                format!("\n{name} (end):\n{}", tail.join("\n"))
            })
            .collect();
        format!(
            "stdout:\n{}\nstderr:\n{}{logs}",
            self.output.join("\n"),
            self.stderr.lock().unwrap()
        )
    }

    /// Reads stdout up to the first line starting with `prefix`.
    pub fn read_until(&mut self, prefix: &str, timeout: Duration) -> String {
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    self.output.push(line.clone());
                    if line.starts_with(prefix) {
                        return line;
                    }
                }
                Err(RecvTimeoutError::Timeout) => panic!(
                    "no line starting {prefix:?} within {timeout:?}\n{}",
                    self.transcript()
                ),
                Err(RecvTimeoutError::Disconnected) => {
                    let status = self.wait_exit(EXIT_TIMEOUT);
                    panic!(
                        "the demo exited ({status}) before a line starting {prefix:?}\n{}",
                        self.transcript()
                    )
                }
            }
        }
    }

    /// The rest of stdout, up to its end (every writer gone).
    pub fn read_to_end(&mut self, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => self.output.push(line),
                Err(RecvTimeoutError::Disconnected) => return,
                Err(RecvTimeoutError::Timeout) => panic!(
                    "stdout still open {timeout:?} after the demo ended: something holds it\n{}",
                    self.transcript()
                ),
            }
        }
    }

    pub fn wait_exit(&mut self, timeout: Duration) -> ExitStatus {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "the demo still runs {timeout:?} after the signal\n{}",
                self.transcript()
            );
            thread::sleep(Duration::from_millis(50));
        }
    }

    pub fn line_after(&self, prefix: &str) -> &str {
        self.output
            .iter()
            .find_map(|line| line.trim_start().strip_prefix(prefix))
            .unwrap_or_else(|| panic!("no line {prefix:?}\n{}", self.transcript()))
    }

    /// The URL printed on the line that mentions `what`.
    pub fn url_of(&self, what: &str) -> String {
        first_url(
            self.output
                .iter()
                .find(|line| line.contains(what) && line.contains("http://"))
                .unwrap_or_else(|| panic!("no URL line with {what:?}\n{}", self.transcript())),
        )
        .to_string()
    }
}

impl Drop for Demo {
    fn drop(&mut self) {
        if self.child.try_wait().ok().flatten().is_none() {
            let _ = Command::new("kill")
                .args(["-TERM", &self.pid().to_string()])
                .status();
            let deadline = Instant::now() + EXIT_TIMEOUT;
            while self.child.try_wait().ok().flatten().is_none() && Instant::now() < deadline {
                thread::sleep(Duration::from_millis(50));
            }
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
        let _ = fs::remove_dir_all(&self.dir);
    }
}
