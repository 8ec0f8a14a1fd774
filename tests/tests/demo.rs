//! `make demo` as a user runs it: envoy/local/demo.sh in the foreground, on ports of its own.
//! It must print a ready line, keep serving what it printed after that (the pinned Envoy dies
//! with its parent, so a script that exits takes Envoy along), show only what the pure core
//! decides, and on SIGINT stop Envoy, exit 0 and leave no process behind.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::HashMap;
use std::fs;
use std::io::{BufRead, BufReader, ErrorKind, Read};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use sticky_canary_core::{decide, Config, RequestHeaders};
use sticky_canary_e2e::Client;

/// Generous bounds for a loaded 2-core machine; the test only ever polls up to them.
const READY_TIMEOUT: Duration = Duration::from_secs(180);
const EXIT_TIMEOUT: Duration = Duration::from_secs(60);

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// Four free loopback ports for the demo, which binds fixed ports as a user runs it. They are
/// taken below the kernel's ephemeral range (32768 and up here), where no other test's Envoy can
/// be given them: those bind port 0. Each is checked free, and all are held until all are chosen.
fn free_ports() -> [u16; 4] {
    let start = 20_000 + (std::process::id() % 1_000) as u16 * 10;
    let listeners: Vec<TcpListener> = (start..32_000)
        .filter_map(|port| TcpListener::bind(("127.0.0.1", port)).ok())
        .take(4)
        .collect();
    let ports: Vec<u16> = listeners
        .iter()
        .map(|l| l.local_addr().unwrap().port())
        .collect();
    [ports[0], ports[1], ports[2], ports[3]]
}

/// The pluginConfig of envoy/local/envoy.yaml, the one the demo runs.
fn demo_plugin_config() -> String {
    let text = fs::read_to_string(repo_root().join("envoy/local/envoy.yaml")).unwrap();
    let yaml: yaml_serde::Value = yaml_serde::from_str(&text).unwrap();
    let manager = &yaml["static_resources"]["listeners"][0]["filter_chains"][0]["filters"][0];
    let wasm = &manager["typed_config"]["http_filters"][0]["typed_config"]["config"];
    wasm["configuration"]["value"]
        .as_str()
        .expect("the front listener's first HTTP filter is sticky_canary")
        .to_string()
}

struct Headers(HashMap<String, Vec<u8>>);

impl RequestHeaders for Headers {
    fn header(&self, name: &str) -> Option<Vec<u8>> {
        self.0.get(name).cloned()
    }
}

/// The subset the pure core picks for a request to the demo: the oracle for every claim.
fn expected(config: &Config, path: &str, headers: &[(&str, &str)]) -> String {
    let mut map: HashMap<String, Vec<u8>> = HashMap::new();
    map.insert(":authority".into(), b"127.0.0.1".to_vec());
    map.insert(":path".into(), path.as_bytes().to_vec());
    for (name, value) in headers {
        map.insert(name.to_string(), value.as_bytes().to_vec());
    }
    let decision = decide(config, &Headers(map), || {
        panic!("the demo's requests carry keys")
    })
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
fn children_of(parent: u32) -> Vec<(u32, u64)> {
    fs::read_dir("/proc")
        .unwrap()
        .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter_map(|pid| {
            let (ppid, start) = proc_stat(pid)?;
            (ppid == parent).then_some((pid, start))
        })
        .collect()
}

fn still_running(process: (u32, u64)) -> bool {
    proc_stat(process.0).is_some_and(|(_, start)| start == process.1)
}

fn signal(pid: u32, name: &str) {
    let status = Command::new("kill")
        .args([&format!("-{name}"), &pid.to_string()])
        .status()
        .unwrap();
    assert!(status.success(), "kill -{name} {pid} failed");
}

fn refuses_connections(port: u16) -> bool {
    matches!(
        TcpStream::connect(("127.0.0.1", port)),
        Err(e) if e.kind() == ErrorKind::ConnectionRefused
    )
}

/// The running script: its stdout line by line, its stderr as a whole. Dropping it (a failed
/// assertion) stops the demo as a user would, so no Envoy outlives the test.
struct Demo {
    child: Child,
    lines: Receiver<String>,
    output: Vec<String>,
    stderr: Arc<Mutex<String>>,
    dir: PathBuf,
}

impl Demo {
    fn start(ports: [u16; 4]) -> Demo {
        let root = repo_root();
        let envoy = std::env::var_os("ENVOY_BIN")
            .map(PathBuf::from)
            .unwrap_or_else(|| root.join(".venv/bin/envoy"));
        let wasm = std::env::var_os("STICKY_CANARY_WASM")
            .map(PathBuf::from)
            .unwrap_or_else(|| root.join("build/sticky_canary.wasm"));
        for (what, path) in [("Envoy", &envoy), ("module", &wasm)] {
            assert!(
                path.exists(),
                "no {what} at {}: run `make test`, which installs and builds it",
                path.display()
            );
        }
        let [front, v1, v2, admin] = ports;
        let mut child = Command::new(root.join("envoy/local/demo.sh"))
            .env("ENVOY", &envoy)
            .env("STICKY_CANARY_WASM", &wasm)
            .env("FRONT_PORT", front.to_string())
            .env("V1_PORT", v1.to_string())
            .env("V2_PORT", v2.to_string())
            .env("ADMIN_PORT", admin.to_string())
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
        }
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }

    fn transcript(&self) -> String {
        format!(
            "stdout:\n{}\nstderr:\n{}",
            self.output.join("\n"),
            self.stderr.lock().unwrap()
        )
    }

    /// Reads stdout up to the first line starting with `prefix`.
    fn read_until(&mut self, prefix: &str, timeout: Duration) -> String {
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
    fn read_to_end(&mut self, timeout: Duration) {
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

    fn wait_exit(&mut self, timeout: Duration) -> ExitStatus {
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

    fn line_after(&self, prefix: &str) -> &str {
        self.output
            .iter()
            .find_map(|line| line.trim_start().strip_prefix(prefix))
            .unwrap_or_else(|| panic!("no line {prefix:?}\n{}", self.transcript()))
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

/// `http://127.0.0.1:PORT/PATH` -> (PORT, /PATH).
fn split_url(url: &str) -> (u16, String) {
    let rest = url.strip_prefix("http://127.0.0.1:").unwrap();
    let slash = rest.find('/').unwrap();
    (rest[..slash].parse().unwrap(), rest[slash..].to_string())
}

fn first_url(line: &str) -> &str {
    let start = line.find("http://").unwrap();
    line[start..].split_whitespace().next().unwrap()
}

#[test]
fn make_demo_serves_until_sigint_then_leaves_nothing_running() {
    let config = Config::from_json(demo_plugin_config().as_bytes()).unwrap();
    let ports = free_ports();
    let [front, _, _, admin] = ports;
    let mut demo = Demo::start(ports);

    let ready = demo.read_until("Ready:", READY_TIMEOUT);
    assert_eq!(
        first_url(&ready),
        format!("http://127.0.0.1:{front}/"),
        "{ready}"
    );

    // What the demo showed is what the core decides.
    let users: Vec<String> = (1..=500).map(|i| format!("user-{i}")).collect();
    let on_v2 = users
        .iter()
        .filter(|u| expected(&config, "/", &[("x-user-id", u)]) == "v2")
        .count();
    assert_eq!(
        demo.line_after("v1 (page A): "),
        format!("{}   v2 (page B): {on_v2}", 500 - on_v2)
    );
    for user in ["alice", "bob", "user-7", "user-42"] {
        let subset = expected(&config, "/", &[("x-user-id", user)]);
        let shown: Vec<&str> = demo
            .line_after(&format!("{user} "))
            .split_whitespace()
            .collect();
        assert_eq!(shown, vec![subset.as_str(); 5], "stickiness of {user}");
    }
    let alice = expected(&config, "/", &[("x-user-id", "alice")]);
    let by_rule = expected(
        &config,
        "/",
        &[("x-user-id", "alice"), ("x-canary", "true")],
    );
    assert_ne!(by_rule, alice, "the demo's rule must change alice's subset");
    assert!(demo
        .line_after("== a content rule wins over hashing: ")
        .ends_with(&format!("-> {by_rule}")));
    assert!(demo
        .line_after("== a forged routing header is overwritten: ")
        .ends_with(&format!("-> {alice}")));

    let envoy_pid: u32 = demo
        .line_after("Starting Envoy (pid ")
        .split(')')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    let children = children_of(demo.pid());
    assert!(
        children.iter().any(|&(pid, _)| pid == envoy_pid),
        "Envoy (pid {envoy_pid}) is not among the script's children {children:?}"
    );

    // The URL printed for a browser, fetched as a browser would (no header of its own).
    let browser_url = first_url(
        demo.output
            .iter()
            .find(|line| line.contains("?uid="))
            .expect("a URL for a browser"),
    )
    .to_string();
    let (port, path) = split_url(&browser_url);
    assert_eq!(port, front, "{browser_url}");
    let uid = path.split_once("?uid=").unwrap().1.to_string();
    let want = expected(&config, &path, &[]);
    assert_eq!(want, expected(&config, "/", &[("x-user-id", &uid)]));
    let body_of = |subset: &str| match subset {
        "v1" => &b"A\n"[..],
        "v2" => &b"B\n"[..],
        other => panic!("the demo has no subset {other}"),
    };
    let fetch = |demo: &Demo| {
        let response = Client::new(port).get(&path, &[]);
        assert_eq!(response.status, 200, "{}", demo.transcript());
        assert_eq!(response.served_by(), want, "{browser_url}");
        assert_eq!(response.body, body_of(&want), "{browser_url}");
    };
    fetch(&demo);
    assert_eq!(Client::new(admin).get("/ready", &[]).status, 200);

    // The bug this guards against: Envoy died a moment after the script had printed its URLs.
    // Waiting is the point here, not a way to wait for something.
    thread::sleep(Duration::from_secs(2));
    assert!(
        demo.child.try_wait().unwrap().is_none(),
        "the demo exited by itself\n{}",
        demo.transcript()
    );
    fetch(&demo);

    signal(demo.pid(), "INT");
    let status = demo.wait_exit(EXIT_TIMEOUT);
    demo.read_to_end(EXIT_TIMEOUT);
    assert_eq!(status.code(), Some(0), "{}", demo.transcript());
    assert_eq!(
        demo.output.last().map(String::as_str),
        Some("Stopped: nothing is left running."),
        "{}",
        demo.transcript()
    );
    let left: Vec<_> = children
        .into_iter()
        .filter(|&child| still_running(child))
        .collect();
    assert!(left.is_empty(), "still running after the demo: {left:?}");
    assert!(refuses_connections(front), "the front port still accepts");
    assert!(refuses_connections(admin), "the admin port still accepts");
}
