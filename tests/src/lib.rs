//! Harness for end-to-end tests: starts the real Envoy (from the project venv) with the real
//! module, using the same `envoy/` scenario files the docs show, rendered with free loopback
//! ports and a test's own pluginConfig, and talks HTTP/1.1 to it over raw sockets so tests can
//! send any bytes a hostile client could.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

pub mod bad_configs;
pub mod http;
pub mod istio;
pub mod manifests;
pub mod schema;
pub mod traffic;

use std::collections::HashMap;
use std::fs;
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub use http::{Client, Header, Response};

/// The demo's ports as they stand in the scenario files.
const SCENARIO_FRONT_PORT: u16 = 10000;
const SCENARIO_V1_PORT: u16 = 10001;
const SCENARIO_V2_PORT: u16 = 10002;
const SCENARIO_ADMIN_PORT: u16 = 9901;
pub const SCENARIO_WASM_PATH: &str = "build/sticky_canary.wasm";
const SCENARIO_ECDS_DIR: &str = "envoy/ecds/filters";
const ECDS_FILE_NAME: &str = "sticky-canary.yaml";
/// The filter (and ECDS resource) name in `envoy/ecds/envoy.yaml`.
const SCENARIO_ECDS_FILTER: &str = "extensions.istio.io/wasmplugin/default.sticky-canary";

pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

pub fn envoy_binary() -> PathBuf {
    let path = std::env::var_os("ENVOY_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join(".venv/bin/envoy"));
    assert!(
        path.exists(),
        "no Envoy at {}: run `make test`, which installs it",
        path.display()
    );
    path
}

pub fn wasm_module() -> PathBuf {
    let path = std::env::var_os("STICKY_CANARY_WASM")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join(SCENARIO_WASM_PATH));
    assert!(
        path.exists(),
        "no module at {}: run `make test`, which builds it",
        path.display()
    );
    path
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A scenario file with its ports and paths pointed at this test's own.
struct Rendering {
    front: u16,
    v1: u16,
    v2: u16,
    admin: u16,
    ecds_dir: PathBuf,
}

impl Rendering {
    fn new(dir: &Path) -> Self {
        Rendering {
            front: free_port(),
            v1: free_port(),
            v2: free_port(),
            admin: free_port(),
            ecds_dir: dir.join("filters"),
        }
    }

    /// An ECDS resource file: only the module path points somewhere else.
    fn render_resource(&self, text: &str) -> String {
        replace_all(text, SCENARIO_WASM_PATH, wasm_module().to_str().unwrap())
    }

    /// A bootstrap file: ports, module path and ECDS directory.
    fn render(&self, text: &str) -> String {
        let mut out = text.to_string();
        for (from, to) in [
            (SCENARIO_FRONT_PORT, self.front),
            (SCENARIO_V1_PORT, self.v1),
            (SCENARIO_V2_PORT, self.v2),
            (SCENARIO_ADMIN_PORT, self.admin),
        ] {
            out = replace_all(
                &out,
                &format!("port_value: {from}}}"),
                &format!("port_value: {to}}}"),
            );
        }
        out = replace_all(&out, SCENARIO_WASM_PATH, wasm_module().to_str().unwrap());
        out.replace(SCENARIO_ECDS_DIR, self.ecds_dir.to_str().unwrap())
    }
}

fn replace_all(text: &str, from: &str, to: &str) -> String {
    assert!(
        text.contains(from),
        "scenario file no longer contains `{from}`"
    );
    text.replace(from, to)
}

/// Adds WASI environment variables to the one `vm_config:` of a scenario file, as
/// `vm_config.environment_variables.key_values` (what Istio renders from a WasmPlugin's
/// `vmConfig.env` with `valueFrom: INLINE`).
pub fn with_vm_env(text: &str, env: &[(&str, &str)]) -> String {
    if env.is_empty() {
        return text.to_string();
    }
    let lines: Vec<&str> = text.lines().collect();
    let at: Vec<usize> = lines
        .iter()
        .enumerate()
        .filter(|(_, l)| l.trim() == "vm_config:")
        .map(|(i, _)| i)
        .collect();
    assert_eq!(at.len(), 1, "expected exactly one vm_config");
    let line = lines[at[0]];
    let indent = &line[..line.len() - line.trim_start().len()];
    let pairs: Vec<String> = env
        .iter()
        .map(|(k, v)| format!("{}: {}", serde_json::json!(k), serde_json::json!(v)))
        .collect();
    let mut out: Vec<String> = lines.iter().map(|l| l.to_string()).collect();
    out.insert(
        at[0] + 1,
        format!(
            "{indent}  environment_variables: {{key_values: {{{}}}}}",
            pairs.join(", ")
        ),
    );
    out.join("\n") + "\n"
}

/// Drops the one `access_log:` block of a scenario file (up to the next key at its indent).
fn without_access_log(text: &str) -> String {
    let lines: Vec<&str> = text.lines().collect();
    let indent = |l: &str| l.len() - l.trim_start().len();
    let start = lines
        .iter()
        .position(|l| l.trim() == "access_log:")
        .expect("scenario file has an access_log");
    let end = (start + 1..lines.len())
        .find(|&i| {
            indent(lines[i]) <= indent(lines[start]) && !lines[i].trim_start().starts_with('-')
        })
        .unwrap();
    let kept: Vec<&str> = lines[..start]
        .iter()
        .chain(&lines[end..])
        .copied()
        .collect();
    kept.join("\n") + "\n"
}

/// Replaces the one inline pluginConfig (`value: '{...}'`) of a scenario file.
pub fn with_plugin_config(text: &str, plugin_config: &str) -> String {
    let lines: Vec<&str> = text.lines().collect();
    let at: Vec<usize> = lines
        .iter()
        .enumerate()
        .filter(|(_, l)| l.trim_start().starts_with("value: '{"))
        .map(|(i, _)| i)
        .collect();
    assert_eq!(at.len(), 1, "expected exactly one inline pluginConfig");
    let line = lines[at[0]];
    let indent = &line[..line.len() - line.trim_start().len()];
    let quoted = plugin_config.replace('\'', "''");
    let mut out: Vec<String> = lines.iter().map(|l| l.to_string()).collect();
    out[at[0]] = format!("{indent}value: '{quoted}'");
    out.join("\n") + "\n"
}

fn scenario_file(relative: &str) -> String {
    fs::read_to_string(repo_root().join(relative)).unwrap()
}

/// How the filter gets its configuration.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Delivery {
    /// `envoy/local/envoy.yaml`: pluginConfig inline in the bootstrap.
    Inline,
    /// `envoy/ecds/envoy.yaml`: pluginConfig pushed through ECDS from a watched file.
    Ecds,
}

pub struct Envoy {
    child: Child,
    dir: tempdir::TempDir,
    ports: Rendering,
    ecds_version: u32,
    vm_env: Vec<(String, String)>,
}

impl Envoy {
    pub fn start(delivery: Delivery, plugin_config: &str) -> Envoy {
        Envoy::start_with_env(delivery, plugin_config, &[])
    }

    /// Like [`Envoy::start`], with these variables in the Wasm VM's environment.
    pub fn start_with_env(delivery: Delivery, plugin_config: &str, env: &[(&str, &str)]) -> Envoy {
        Envoy::start_scenario(delivery, plugin_config, env, true)
    }

    /// Like [`Envoy::start`] without the front listener's access log, for load runs where a
    /// line per request would cost more than the filter.
    pub fn start_without_access_log(delivery: Delivery, plugin_config: &str) -> Envoy {
        Envoy::start_scenario(delivery, plugin_config, &[], false)
    }

    fn start_scenario(
        delivery: Delivery,
        plugin_config: &str,
        env: &[(&str, &str)],
        access_log: bool,
    ) -> Envoy {
        let bootstrap = match delivery {
            Delivery::Inline => with_vm_env(
                &with_plugin_config(&scenario_file("envoy/local/envoy.yaml"), plugin_config),
                env,
            ),
            Delivery::Ecds => scenario_file("envoy/ecds/envoy.yaml"),
        };
        let bootstrap = if access_log {
            bootstrap
        } else {
            without_access_log(&bootstrap)
        };
        let mut envoy = Envoy::launch(&bootstrap, env);
        if delivery == Delivery::Ecds {
            envoy.write_ecds(plugin_config);
        }
        envoy.wait_ready();
        envoy
    }

    /// The ECDS scenario fed with an extension config as Istio pushes it (see [`istio`]): the
    /// scenario's filter is renamed to the config's resource name, as Istio names the filter in
    /// the listener after the WasmPlugin.
    pub fn start_extension(extension: &serde_json::Value) -> Envoy {
        let name = extension["name"].as_str().unwrap();
        let bootstrap = replace_all(
            &scenario_file("envoy/ecds/envoy.yaml"),
            SCENARIO_ECDS_FILTER,
            name,
        );
        let mut envoy = Envoy::launch(&bootstrap, &[]);
        envoy.push_extension(extension);
        envoy.wait_ready();
        envoy
    }

    /// Pushes a new extension config (same resource name) by atomic rename.
    pub fn push_extension(&mut self, extension: &serde_json::Value) {
        self.ecds_version += 1;
        let response = istio::discovery_response(extension, self.ecds_version);
        self.install_ecds_file(&serde_json::to_string_pretty(&response).unwrap());
    }

    fn launch(bootstrap: &str, vm_env: &[(&str, &str)]) -> Envoy {
        let dir = tempdir::TempDir::new();
        let ports = Rendering::new(dir.path());
        let config_path = dir.path().join("envoy.yaml");
        fs::write(&config_path, ports.render(bootstrap)).unwrap();
        fs::create_dir_all(&ports.ecds_dir).unwrap();
        Envoy {
            child: spawn_envoy(&config_path, dir.path()),
            dir,
            ports,
            ecds_version: 0,
            vm_env: vm_env
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        }
    }

    pub fn front(&self) -> Client {
        Client::new(self.ports.front)
    }

    pub fn front_port(&self) -> u16 {
        self.ports.front
    }

    /// Writes a new ECDS resource with this pluginConfig, by atomic rename as Envoy needs.
    pub fn push_ecds(&mut self, plugin_config: &str) {
        self.write_ecds(plugin_config);
    }

    fn write_ecds(&mut self, plugin_config: &str) {
        self.ecds_version += 1;
        let env: Vec<(&str, &str)> = self
            .vm_env
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        let resource = with_vm_env(
            &with_plugin_config(
                &scenario_file("envoy/ecds/filters/sticky-canary.yaml"),
                plugin_config,
            ),
            &env,
        )
        .replace(
            "version_info: \"1\"",
            &format!("version_info: \"{}\"", self.ecds_version),
        );
        self.install_ecds_file(&self.ports.render_resource(&resource));
    }

    /// Envoy only sees an ECDS file replaced by an atomic rename.
    fn install_ecds_file(&self, text: &str) {
        let staged = self.ports.ecds_dir.join(format!(".{ECDS_FILE_NAME}.tmp"));
        fs::write(&staged, text).unwrap();
        fs::rename(&staged, self.ports.ecds_dir.join(ECDS_FILE_NAME)).unwrap();
    }

    pub fn admin(&self, path: &str) -> String {
        let response = Client::new(self.ports.admin).get(path, &[]);
        assert_eq!(response.status, 200, "admin {path}");
        String::from_utf8(response.body).unwrap()
    }

    /// POSTs to the admin interface (e.g. `/logging?wasm=debug`).
    pub fn admin_post(&self, path: &str) -> String {
        let raw = format!("POST {path} HTTP/1.1\r\nhost: admin\r\ncontent-length: 0\r\n\r\n");
        let response = Client::new(self.ports.admin).request(raw.as_bytes());
        assert_eq!(response.status, 200, "admin POST {path}");
        String::from_utf8(response.body).unwrap()
    }

    /// Counters and gauges from `/stats`, by full name.
    pub fn stats(&self) -> HashMap<String, u64> {
        self.admin("/stats")
            .lines()
            .filter_map(|line| {
                let (name, value) = line.split_once(": ")?;
                Some((name.to_string(), value.trim().parse().ok()?))
            })
            .collect()
    }

    /// The stats whose names start with `prefix`, sorted by name, to compare snapshots.
    pub fn stats_with_prefix(&self, prefix: &str) -> Vec<(String, u64)> {
        let mut stats: Vec<(String, u64)> = self
            .stats()
            .into_iter()
            .filter(|(name, _)| name.starts_with(prefix))
            .collect();
        stats.sort();
        stats
    }

    pub fn stat(&self, name: &str) -> u64 {
        self.stats().get(name).copied().unwrap_or(0)
    }

    /// Envoy's resident memory in KiB (`VmRSS` of /proc/<pid>/status).
    pub fn rss_kib(&self) -> u64 {
        let status = fs::read_to_string(format!("/proc/{}/status", self.child.id())).unwrap();
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.split_whitespace().next()?.parse().ok())
            .unwrap()
    }

    /// Envoy's own log so far.
    pub fn log(&self) -> String {
        fs::read_to_string(self.dir.path().join("envoy.log")).unwrap_or_default()
    }

    /// The sum of the filter's own counters (`wasmcustom.sticky_canary.*`) once it has reached
    /// `at_least`. The filter hands its counts to Envoy on its 1 s tick, so they lag the
    /// requests; waiting for the expected total means every request so far has been handed over.
    pub fn settled_filter_counts(&self, at_least: u64) -> HashMap<String, u64> {
        let total = |stats: &HashMap<String, u64>| -> u64 {
            stats
                .iter()
                .filter(|(name, _)| name.starts_with("wasmcustom.sticky_canary."))
                .map(|(_, v)| v)
                .sum()
        };
        let mut stats = self.stats();
        let start = Instant::now();
        while total(&stats) < at_least {
            if start.elapsed() > Duration::from_secs(10) {
                panic!(
                    "the filter's counters stayed at {} (< {at_least}): {stats:?}\nEnvoy log:\n{}",
                    total(&stats),
                    self.log()
                );
            }
            std::thread::sleep(Duration::from_millis(50));
            stats = self.stats();
        }
        stats
    }

    /// Waits until `done` holds, polling; fails the test with Envoy's log after `timeout`.
    pub fn wait_for(&self, what: &str, timeout: Duration, mut done: impl FnMut(&Envoy) -> bool) {
        let start = Instant::now();
        while !done(self) {
            if start.elapsed() > timeout {
                panic!("timed out waiting for {what}; Envoy log:\n{}", self.log());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn wait_ready(&mut self) {
        let start = Instant::now();
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("Envoy exited with {status}; log:\n{}", self.log());
            }
            let admin_live = TcpStream::connect(("127.0.0.1", self.ports.admin)).is_ok()
                && Client::new(self.ports.admin)
                    .try_get("/ready")
                    .is_some_and(|r| r.status == 200);
            if admin_live && TcpStream::connect(("127.0.0.1", self.ports.front)).is_ok() {
                return;
            }
            if start.elapsed() > Duration::from_secs(30) {
                panic!("Envoy not ready after 30 s; log:\n{}", self.log());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Envoy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if std::thread::panicking() {
            eprintln!("---- Envoy log ----\n{}", self.log());
        }
    }
}

/// How the tests run Envoy, after `-c <config>`; envoy/local/docker-compose.yaml runs it the same
/// way (a test checks).
pub const ENVOY_RUN_FLAGS: &[&str] = &[
    "--use-dynamic-base-id",
    "--concurrency",
    "1",
    "--file-flush-interval-msec",
    "100",
    "--log-level",
    "warn",
    "--component-log-level",
    "wasm:info",
];

fn spawn_envoy(config: &Path, dir: &Path) -> Child {
    let log = fs::File::create(dir.join("envoy.log")).unwrap();
    Command::new(envoy_binary())
        .current_dir(repo_root())
        .arg("-c")
        .arg(config)
        .args(ENVOY_RUN_FLAGS)
        .stdin(Stdio::null())
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .spawn()
        .unwrap()
}

/// Runs `envoy --mode validate` on the local scenario with this pluginConfig; returns whether
/// Envoy accepted it and everything it printed.
pub fn validate(plugin_config: &str) -> (bool, String) {
    let dir = tempdir::TempDir::new();
    let ports = Rendering::new(dir.path());
    let config_path = dir.path().join("envoy.yaml");
    let bootstrap = with_plugin_config(&scenario_file("envoy/local/envoy.yaml"), plugin_config);
    fs::write(&config_path, ports.render(&bootstrap)).unwrap();
    let out = Command::new(envoy_binary())
        .current_dir(repo_root())
        .arg("--mode")
        .arg("validate")
        .arg("-c")
        .arg(&config_path)
        .args([
            "--use-dynamic-base-id",
            "--log-level",
            "warn",
            "--component-log-level",
            "wasm:info",
        ])
        .output()
        .unwrap();
    let text =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    (out.status.success(), text)
}

mod tempdir {
    use std::path::{Path, PathBuf};
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// A directory under the target dir, removed on drop unless the test failed.
    pub struct TempDir(PathBuf);

    impl TempDir {
        pub fn new() -> Self {
            static NEXT: AtomicUsize = AtomicUsize::new(0);
            let n = NEXT.fetch_add(1, Ordering::Relaxed);
            let path =
                std::env::temp_dir().join(format!("sticky-canary-e2e-{}-{n}", std::process::id()));
            let _ = std::fs::remove_dir_all(&path);
            std::fs::create_dir_all(&path).unwrap();
            TempDir(path)
        }
        pub fn path(&self) -> &Path {
            &self.0
        }
    }

    impl Drop for TempDir {
        fn drop(&mut self) {
            if !std::thread::panicking() {
                let _ = std::fs::remove_dir_all(&self.0);
            }
        }
    }
}

/// The subset the pure core decides for a request with this path and these headers (the test
/// oracle: the module in Envoy must agree with it bit for bit). `None`: no route matches.
pub fn expected_subset(
    plugin_config: &str,
    path: &str,
    headers: &[(&str, &[u8])],
) -> Option<String> {
    expected_subset_with_token(plugin_config, None, path, headers)
}

/// [`expected_subset`] for any request, also those without a route or a key.
pub fn expected_outcome(plugin_config: &str, path: &str, headers: &[(&str, &[u8])]) -> Expected {
    expected_outcome_with_token(plugin_config, None, path, headers)
}

/// [`expected_subset`] for a VM whose environment holds this override token.
pub fn expected_subset_with_token(
    plugin_config: &str,
    token: Option<&str>,
    path: &str,
    headers: &[(&str, &[u8])],
) -> Option<String> {
    match expected_outcome_with_token(plugin_config, token, path, headers) {
        Expected::Unrouted => None,
        Expected::Random => panic!("oracle asked for randomness"),
        Expected::Subset(name) => Some(name),
    }
}

/// [`expected_outcome`] for a VM whose environment holds this override token.
pub fn expected_outcome_with_token(
    plugin_config: &str,
    token: Option<&str>,
    path: &str,
    headers: &[(&str, &[u8])],
) -> Expected {
    struct Fake(HashMap<String, Vec<u8>>);
    impl sticky_canary_core::RequestHeaders for Fake {
        fn header(&self, name: &str) -> Option<Vec<u8>> {
            self.0.get(name).cloned()
        }
    }
    let secret = sticky_canary_core::Secret::new(token.map(str::as_bytes));
    let config =
        sticky_canary_core::Config::from_json_with_token(plugin_config.as_bytes(), secret).unwrap();
    // As Envoy 1.40 hands headers to the module: a repeated header gives its first value (also
    // Cookie, over HTTP/1: a second Cookie header is not seen), and `host` is `:authority`.
    let mut map: HashMap<String, Vec<u8>> = HashMap::new();
    map.insert(":path".to_string(), path.as_bytes().to_vec());
    // The client's default host, unless the request names its own.
    if !headers.iter().any(|(n, _)| n.eq_ignore_ascii_case("host")) {
        map.insert(":authority".to_string(), b"servicea.com".to_vec());
    }
    for (name, value) in headers {
        let name = if name.eq_ignore_ascii_case("host") {
            ":authority".to_string()
        } else {
            name.to_ascii_lowercase()
        };
        map.entry(name).or_insert_with(|| value.to_vec());
    }
    let random_asked = std::cell::Cell::new(false);
    let decision = sticky_canary_core::decide(&config, &Fake(map), || {
        random_asked.set(true);
        0
    });
    match decision {
        None => Expected::Unrouted,
        Some(_) if random_asked.get() => Expected::Random,
        Some(d) => Expected::Subset(config.routes[d.route].subsets[d.subset].name.clone()),
    }
}

/// What the core decides for a request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Expected {
    /// No route matches: the routing header is removed.
    Unrouted,
    /// No key and a `random` fallback: any subset, by weight.
    Random,
    Subset(String),
}

/// The demo's service-a route: v1 stable, v2 canary at `v2_weight` percent, keyed by user id.
pub fn service_a_config(v2_weight: u32) -> String {
    service_a_json(v2_weight).to_string()
}

/// [`service_a_config`] as a JSON value, for tests that add to it.
pub fn service_a_json(v2_weight: u32) -> serde_json::Value {
    serde_json::json!({
        "routes": [{
            "name": "service-a",
            "subsets": [{"name": "v1", "weight": 100 - v2_weight}, {"name": "v2", "weight": v2_weight}],
            "stickiness": {"keys": [{"header": "x-user-id"}, {"cookie": "uid"}, {"query": "uid"}]}
        }]
    })
}
