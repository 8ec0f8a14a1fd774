//! One Envoy per test: rendered from a scenario into the test's own directory, started, waited
//! for until it serves, restarted on demand, and killed on drop (its directory and log kept when
//! the test failed).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::fs;
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::Value;
use tempfile::TempDir;

use crate::artifacts::{envoy_binary, repo_root, wasm_module};
use crate::bootstrap::{
    Bootstrap, ECDS_BOOTSTRAP, LOCAL_BOOTSTRAP, SCENARIO_ECDS_FILTER, SHARED_VM_BOOTSTRAP,
    SHARED_VM_FILTERS,
};
use crate::ecds::EcdsFeed;
use crate::http_client::Client;
use crate::istio;

/// How the tests run Envoy, after `-c <config>`; envoy/local/docker-compose.yaml runs it the same
/// way (a test checks). [`EnvoyOptions::concurrency`] replaces the worker count.
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

/// Generous: a loaded 2-core CI machine starts several Envoys with V8 at once.
const READY_TIMEOUT: Duration = Duration::from_secs(60);
const LOG_FILE: &str = "envoy.log";
const CONFIG_FILE: &str = "envoy.yaml";
const ADMIN_ADDRESS_FILE: &str = "admin-address";

/// How the filter gets its configuration.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Delivery {
    /// `envoy/local/envoy.yaml`: pluginConfig inline in the bootstrap.
    Inline,
    /// `envoy/ecds/envoy.yaml`: pluginConfig pushed through ECDS from a watched file.
    Ecds,
}

#[derive(Clone)]
enum Source {
    /// A scenario with this pluginConfig.
    Scenario {
        delivery: Delivery,
        plugin_config: String,
    },
    /// The ECDS scenario fed with an extension config as Istio pushes it (see [`crate::istio`]).
    Extension(Value),
    /// `envoy/shared-vm/envoy.yaml`: one pluginConfig for each of its two ECDS filters.
    SharedVm([String; 2]),
    /// A scenario with inline filters in several listeners: `(listener, pluginConfig)`.
    Listeners {
        bootstrap: &'static str,
        filters: Vec<(String, String)>,
    },
}

/// An edit of the test's bootstrap after its addresses were bound, given the test's directory.
pub type BootstrapEdit = Arc<dyn Fn(&mut Bootstrap, &Path) + Send + Sync>;

/// What to start; [`EnvoyOptions::start`] starts it.
#[derive(Clone)]
pub struct EnvoyOptions {
    source: Source,
    concurrency: u32,
    envoy_binary: Option<PathBuf>,
    access_log: bool,
    vm_env: Vec<(String, String)>,
    edit: Option<BootstrapEdit>,
}

impl EnvoyOptions {
    /// A scenario with this pluginConfig: one worker, the project's Envoy, access log on, no VM
    /// environment.
    pub fn scenario(delivery: Delivery, plugin_config: &str) -> EnvoyOptions {
        EnvoyOptions {
            source: Source::Scenario {
                delivery,
                plugin_config: plugin_config.to_string(),
            },
            concurrency: 1,
            envoy_binary: None,
            access_log: true,
            vm_env: Vec::new(),
            edit: None,
        }
    }

    /// `envoy/shared-vm/envoy.yaml`: two filters in one VM, `service_a` for the one routing on
    /// `x-canary-subset`, `blue_green` for the one writing `x-bg-subset` (see
    /// [`crate::bootstrap::SHARED_VM_FILTERS`]).
    pub fn shared_vm(service_a: &str, blue_green: &str) -> EnvoyOptions {
        EnvoyOptions {
            source: Source::SharedVm([service_a.to_string(), blue_green.to_string()]),
            ..EnvoyOptions::scenario(Delivery::Ecds, "")
        }
    }

    /// `bootstrap` (a scenario file) with the inline filter of each listener named in `filters`
    /// given its pluginConfig: `envoy/lanes/envoy.yaml`, `envoy/mirror/envoy.yaml`.
    pub fn listeners(bootstrap: &'static str, filters: &[(&str, &str)]) -> EnvoyOptions {
        EnvoyOptions {
            source: Source::Listeners {
                bootstrap,
                filters: filters
                    .iter()
                    .map(|(l, c)| (l.to_string(), c.to_string()))
                    .collect(),
            },
            ..EnvoyOptions::scenario(Delivery::Inline, "")
        }
    }

    /// Edits the test's bootstrap once its addresses are bound (e.g. a cluster pointed at a
    /// test's own upstream).
    pub fn edit_bootstrap(
        mut self,
        edit: impl Fn(&mut Bootstrap, &Path) + Send + Sync + 'static,
    ) -> Self {
        self.edit = Some(Arc::new(edit));
        self
    }

    /// The ECDS scenario fed with this extension config (resource name, VM environment and all,
    /// as Istio pushes it): the scenario's filter is renamed to the config's resource name, as
    /// Istio names the filter in the listener after the WasmPlugin.
    pub fn extension(extension: &Value) -> EnvoyOptions {
        EnvoyOptions {
            source: Source::Extension(extension.clone()),
            ..EnvoyOptions::scenario(Delivery::Ecds, "")
        }
    }

    /// Worker threads (`--concurrency`).
    pub fn concurrency(mut self, workers: u32) -> Self {
        assert!(workers >= 1, "Envoy needs at least one worker");
        self.concurrency = workers;
        self
    }

    /// Another Envoy binary than `ENVOY_BIN` or the project's.
    pub fn envoy_binary(mut self, path: impl Into<PathBuf>) -> Self {
        self.envoy_binary = Some(path.into());
        self
    }

    /// The front listener's access log (a line per request).
    pub fn access_log(mut self, on: bool) -> Self {
        self.access_log = on;
        self
    }

    /// These variables in the Wasm VM's environment (also in every later ECDS push, until
    /// [`Envoy::push_ecds_with_env`] changes them).
    pub fn vm_env(mut self, env: &[(&str, &str)]) -> Self {
        self.vm_env = env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        self
    }

    pub fn start(self) -> Envoy {
        let dir = tempfile::Builder::new()
            .prefix("sticky-canary-e2e-")
            .tempdir()
            .unwrap();
        let ecds_dir = dir.path().join("filters");
        let (mut bootstrap, mut ecds) = match &self.source {
            Source::Scenario {
                delivery: Delivery::Inline,
                plugin_config,
            } => {
                let mut bootstrap = Bootstrap::load(LOCAL_BOOTSTRAP);
                bootstrap.set_plugin_config(plugin_config);
                bootstrap.set_vm_env(&self.vm_env);
                bootstrap.set_module(&wasm_module());
                (bootstrap, Vec::new())
            }
            Source::Scenario {
                delivery: Delivery::Ecds,
                ..
            } => {
                let mut bootstrap = Bootstrap::load(ECDS_BOOTSTRAP);
                let file = bootstrap.set_ecds_dir(&ecds_dir);
                let feed = EcdsFeed::new(SCENARIO_ECDS_FILTER, &ecds_dir, &file, &self.vm_env);
                (bootstrap, vec![feed])
            }
            Source::Extension(extension) => {
                assert!(
                    self.vm_env.is_empty(),
                    "an extension config carries its own VM environment"
                );
                let name = extension["name"]
                    .as_str()
                    .expect("extension without a name");
                let mut bootstrap = Bootstrap::load(ECDS_BOOTSTRAP);
                let file = bootstrap.set_ecds_dir(&ecds_dir);
                bootstrap.rename_ecds_filter(name);
                // Istio's listener filter takes the Wasm filter or the RBAC filter the agent
                // pushes when the module cannot be fetched (istio/istio 1.29.6
                // pilot/pkg/networking/core/extension/wasmplugin.go, 1.30.0 extensionfilter.go).
                bootstrap.set_ecds_filter_types(
                    name,
                    &[istio::WASM_FILTER_TYPE, istio::RBAC_FILTER_TYPE],
                );
                (bootstrap, vec![EcdsFeed::new(name, &ecds_dir, &file, &[])])
            }
            Source::Listeners { bootstrap, filters } => {
                let mut bootstrap = Bootstrap::load(bootstrap);
                for (listener, plugin_config) in filters {
                    bootstrap.set_listener_filter(
                        listener,
                        plugin_config,
                        &self.vm_env,
                        &wasm_module(),
                    );
                }
                (bootstrap, Vec::new())
            }
            Source::SharedVm(_) => {
                let mut bootstrap = Bootstrap::load(SHARED_VM_BOOTSTRAP);
                let feeds = SHARED_VM_FILTERS
                    .iter()
                    .map(|(filter, template)| {
                        let file = bootstrap.set_ecds_dir_of(filter, &ecds_dir);
                        EcdsFeed::new(filter, &ecds_dir, &file, &self.vm_env)
                            .with_template(template)
                    })
                    .collect();
                (bootstrap, feeds)
            }
        };
        if !self.access_log {
            bootstrap.drop_access_log();
        }
        bootstrap.bind_for_test(dir.path());
        if let Some(edit) = &self.edit {
            edit(&mut bootstrap, dir.path());
        }
        fs::write(dir.path().join(CONFIG_FILE), bootstrap.render()).unwrap();

        // Envoy reads the ECDS file while starting, so it must be there first.
        if !ecds.is_empty() {
            fs::create_dir_all(&ecds_dir).unwrap();
        }
        for (i, feed) in ecds.iter_mut().enumerate() {
            match &self.source {
                Source::Scenario { plugin_config, .. } => feed.push_plugin_config(plugin_config),
                Source::Extension(extension) => feed.push_extension(extension),
                Source::SharedVm(configs) => feed.push_plugin_config(&configs[i]),
                Source::Listeners { .. } => unreachable!("inline filters have no ECDS feed"),
            }
        }

        let child = spawn(&self, dir.path());
        let mut envoy = Envoy {
            options: self,
            dir,
            child,
            admin_port: 0,
            front_port: 0,
            ecds,
        };
        envoy.wait_ready();
        envoy
    }
}

pub struct Envoy {
    options: EnvoyOptions,
    dir: TempDir,
    child: Child,
    pub(crate) admin_port: u16,
    front_port: u16,
    /// One feed per ECDS filter, in the order of the scenario's filter chain.
    pub(crate) ecds: Vec<EcdsFeed>,
}

impl Envoy {
    pub fn start(delivery: Delivery, plugin_config: &str) -> Envoy {
        EnvoyOptions::scenario(delivery, plugin_config).start()
    }

    /// Like [`Envoy::start`], with these variables in the Wasm VM's environment.
    pub fn start_with_env(delivery: Delivery, plugin_config: &str, env: &[(&str, &str)]) -> Envoy {
        EnvoyOptions::scenario(delivery, plugin_config)
            .vm_env(env)
            .start()
    }

    /// Like [`Envoy::start`] without the front listener's access log, for load runs where a
    /// line per request would cost more than the filter.
    pub fn start_without_access_log(delivery: Delivery, plugin_config: &str) -> Envoy {
        EnvoyOptions::scenario(delivery, plugin_config)
            .access_log(false)
            .start()
    }

    /// See [`EnvoyOptions::extension`].
    pub fn start_extension(extension: &Value) -> Envoy {
        EnvoyOptions::extension(extension).start()
    }

    /// Stops Envoy and starts it again on the same files: the bootstrap and the ECDS resource
    /// last pushed. Its ports change; clients made before must be made again.
    pub fn restart(&mut self) {
        self.stop();
        // A stale address file would lead to whatever listens on the old port now.
        let _ = fs::remove_file(self.dir.path().join(ADMIN_ADDRESS_FILE));
        self.child = spawn(&self.options, self.dir.path());
        self.wait_ready();
    }

    fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    pub fn front(&self) -> Client {
        Client::new(self.front_port)
    }

    pub fn front_port(&self) -> u16 {
        self.front_port
    }

    /// The test's own directory: Envoy's files, sockets and log.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// The worker threads it runs (`--concurrency`).
    pub fn concurrency(&self) -> u32 {
        self.options.concurrency
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

    /// Its admin port on 127.0.0.1.
    pub fn admin_port(&self) -> u16 {
        self.admin_port
    }

    /// The file Envoy logs to.
    pub fn log_path(&self) -> PathBuf {
        self.dir.path().join(LOG_FILE)
    }

    /// Envoy's own log so far (of every run, when restarted).
    pub fn log(&self) -> String {
        fs::read_to_string(self.dir.path().join(LOG_FILE)).unwrap_or_default()
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

    /// Until the admin answers `/ready` and the front listener accepts. The admin's address
    /// comes from the file Envoy writes once it has bound it; the front port from the admin.
    fn wait_ready(&mut self) {
        let start = Instant::now();
        self.admin_port = 0;
        self.front_port = 0;
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("Envoy exited with {status}; log:\n{}", self.log());
            }
            if self.admin_port == 0 {
                self.admin_port = self.admin_port_from_file().unwrap_or(0);
            }
            if self.admin_port != 0 && self.front_port == 0 {
                self.front_port = self.front_port_when_ready().unwrap_or(0);
            }
            if self.front_port != 0 && TcpStream::connect(("127.0.0.1", self.front_port)).is_ok() {
                return;
            }
            if start.elapsed() > READY_TIMEOUT {
                panic!(
                    "Envoy not ready after {} s; log:\n{}",
                    READY_TIMEOUT.as_secs(),
                    self.log()
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The admin port, once Envoy has written its whole address (it may be caught mid-write) and
    /// the admin there is this Envoy's.
    fn admin_port_from_file(&self) -> Option<u16> {
        let text = fs::read_to_string(self.dir.path().join(ADMIN_ADDRESS_FILE)).ok()?;
        let address: SocketAddr = text.trim().parse().ok()?;
        if !address.ip().is_loopback() {
            return None;
        }
        let info = Client::new(address.port()).try_get("/server_info")?;
        let info: Value = serde_json::from_slice(&info.body).ok()?;
        let config = self.dir.path().join(CONFIG_FILE);
        (info["command_line_options"]["config_path"] == config.to_str().unwrap())
            .then_some(address.port())
    }

    /// The front listener's port, once the server is ready (listeners warmed: the ECDS config
    /// read).
    fn front_port_when_ready(&self) -> Option<u16> {
        let mut admin = Client::new(self.admin_port);
        if admin.try_get("/ready")?.status != 200 {
            return None;
        }
        let listeners = admin.try_get("/listeners?format=json")?;
        crate::admin::front_port(&serde_json::from_slice(&listeners.body).ok()?)
    }
}

impl Drop for Envoy {
    fn drop(&mut self) {
        self.stop();
        if std::thread::panicking() {
            self.dir.disable_cleanup(true);
            eprintln!(
                "---- Envoy log (kept in {}) ----\n{}",
                self.dir.path().display(),
                self.log()
            );
        }
    }
}

/// The flags for `options`: [`ENVOY_RUN_FLAGS`] with its worker count.
fn run_flags(options: &EnvoyOptions) -> Vec<String> {
    let mut flags: Vec<String> = ENVOY_RUN_FLAGS.iter().map(|f| f.to_string()).collect();
    let at = flags
        .iter()
        .position(|f| f == "--concurrency")
        .expect("ENVOY_RUN_FLAGS sets --concurrency");
    flags[at + 1] = options.concurrency.to_string();
    flags
}

fn spawn(options: &EnvoyOptions, dir: &Path) -> Child {
    // Appended, so a restarted Envoy's log follows the first run's.
    let log = fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(dir.join(LOG_FILE))
        .unwrap();
    let binary = options.envoy_binary.clone().unwrap_or_else(envoy_binary);
    Command::new(binary)
        .current_dir(repo_root())
        .arg("-c")
        .arg(dir.join(CONFIG_FILE))
        .args(run_flags(options))
        .arg("--admin-address-path")
        .arg(dir.join(ADMIN_ADDRESS_FILE))
        .stdin(Stdio::null())
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .spawn()
        .unwrap()
}

/// Runs `envoy --mode validate` on the local scenario with this pluginConfig; returns whether
/// Envoy accepted it and everything it printed. Validation binds nothing, so the scenario's
/// addresses stay.
pub fn validate(plugin_config: &str) -> (bool, String) {
    let dir = tempfile::Builder::new()
        .prefix("sticky-canary-validate-")
        .tempdir()
        .unwrap();
    let mut bootstrap = Bootstrap::load(LOCAL_BOOTSTRAP);
    bootstrap.set_plugin_config(plugin_config);
    bootstrap.set_module(&wasm_module());
    let config_path = dir.path().join(CONFIG_FILE);
    fs::write(&config_path, bootstrap.render()).unwrap();
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
