//! The `envoy/` scenario files as data, pointed at one test's own addresses, files and
//! pluginConfig. Every edit names the path it expects in the parsed document, so a scenario whose
//! structure changed fails with that path instead of leaving a copy silently unchanged.
//!
//! The scenarios keep their fixed demo ports; a test's copy binds nothing known in advance: the
//! admin and the front listener bind port 0 (the harness asks Envoy which port it got), and the
//! stand-in upstream listeners, with the clusters that point at them, become Unix sockets in the
//! test's own directory.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::fs;
use std::path::{Path, PathBuf};

use serde_json::{json, Map, Value};

use crate::artifacts::{repo_root, SCENARIO_WASM_PATH};

pub const LOCAL_BOOTSTRAP: &str = "envoy/local/envoy.yaml";
pub const ECDS_BOOTSTRAP: &str = "envoy/ecds/envoy.yaml";
pub const ECDS_RESOURCE: &str = "envoy/ecds/filters/sticky-canary.yaml";
pub const SHARED_VM_BOOTSTRAP: &str = "envoy/shared-vm/envoy.yaml";
/// A call chain: the edge on the front listener, service-b's sidecar on the `service-b` one.
pub const LANES_BOOTSTRAP: &str = "envoy/lanes/envoy.yaml";
/// A route table mirroring the requests the filter marks.
pub const MIRROR_BOOTSTRAP: &str = "envoy/mirror/envoy.yaml";
/// An ambient waypoint's chain for service-a: the route table of examples/ambient's HTTPRoute.
pub const AMBIENT_BOOTSTRAP: &str = "envoy/ambient/envoy.yaml";
/// The two filters of `envoy/shared-vm/envoy.yaml`, with their ECDS resource files.
pub const SHARED_VM_FILTERS: [(&str, &str); 2] = [
    (
        "extensions.istio.io/wasmplugin/default.service-a",
        "envoy/shared-vm/filters/service-a.yaml",
    ),
    (
        "extensions.istio.io/wasmplugin/default.blue-green",
        "envoy/shared-vm/filters/blue-green.yaml",
    ),
];
/// The filter (and ECDS resource) name in `envoy/ecds/envoy.yaml`.
pub const SCENARIO_ECDS_FILTER: &str = "extensions.istio.io/wasmplugin/default.sticky-canary";
/// The listener clients talk to; every other listener is a stand-in upstream.
pub const FRONT_LISTENER: &str = "front";
/// The front listener's address in the scenarios, kept in the test's copy (only the port changes).
pub const FRONT_ADDRESS: &str = "127.0.0.1";
/// The inline Wasm filter's name in `envoy/local/envoy.yaml`.
const INLINE_FILTER: &str = "sticky_canary";
const HTTP_CONNECTION_MANAGER: &str = "envoy.filters.network.http_connection_manager";
const STRING_VALUE_TYPE: &str = "type.googleapis.com/google.protobuf.StringValue";
/// `sun_path` holds 108 bytes with the terminating NUL.
const MAX_UNIX_SOCKET_PATH: usize = 107;

/// One step into a parsed document.
#[derive(Clone, Copy, Debug)]
pub enum Step<'a> {
    /// A mapping key.
    Key(&'a str),
    /// A sequence position.
    Index(usize),
    /// The one sequence entry whose `name` is this.
    Named(&'a str),
}

use Step::{Index, Key, Named};

fn describe(path: &[Step]) -> String {
    path.iter()
        .map(|step| match step {
            Key(key) => format!(".{key}"),
            Index(i) => format!("[{i}]"),
            Named(name) => format!("[name={name}]"),
        })
        .collect()
}

fn joined<'a>(base: &[Step<'a>], more: &[Step<'a>]) -> Vec<Step<'a>> {
    base.iter().chain(more).copied().collect()
}

/// A YAML file of the repository, parsed, with the file's name for error messages.
pub struct Document {
    file: String,
    root: Value,
}

impl Document {
    /// Parses a file of the repository (path relative to its root).
    pub fn load(relative: &str) -> Document {
        let text = fs::read_to_string(repo_root().join(relative))
            .unwrap_or_else(|e| panic!("{relative}: {e}"));
        Document::parse(relative, &text)
    }

    /// Parses YAML text; `file` names it in error messages.
    pub fn parse(file: &str, text: &str) -> Document {
        let root = yaml_serde::from_str(text).unwrap_or_else(|e| panic!("{file}: {e}"));
        Document {
            file: file.to_string(),
            root,
        }
    }

    /// The value at `path`; fails naming the first step that is missing.
    pub fn at(&mut self, path: &[Step]) -> &mut Value {
        let file = &self.file;
        let mut here = &mut self.root;
        for (depth, step) in path.iter().enumerate() {
            let walked = &path[..=depth];
            let missing = || -> ! { panic!("{file}: no `{}`", describe(walked)) };
            here = match *step {
                Key(key) => here.get_mut(key).unwrap_or_else(|| missing()),
                Index(i) => here.get_mut(i).unwrap_or_else(|| missing()),
                Named(name) => {
                    let entries = here.as_array_mut().unwrap_or_else(|| missing());
                    let matching: Vec<usize> = (0..entries.len())
                        .filter(|&i| entries[i]["name"] == name)
                        .collect();
                    match matching[..] {
                        [i] => &mut entries[i],
                        [] => missing(),
                        _ => panic!(
                            "{file}: {} entries match `{}`",
                            matching.len(),
                            describe(walked)
                        ),
                    }
                }
            };
        }
        here
    }

    /// The mapping at `path`.
    pub fn mapping(&mut self, path: &[Step]) -> &mut Map<String, Value> {
        let file = self.file.clone();
        self.at(path)
            .as_object_mut()
            .unwrap_or_else(|| panic!("{file}: `{}` is not a mapping", describe(path)))
    }

    /// The sequence at `path`.
    pub fn sequence(&mut self, path: &[Step]) -> &mut Vec<Value> {
        let file = self.file.clone();
        self.at(path)
            .as_array_mut()
            .unwrap_or_else(|| panic!("{file}: `{}` is not a sequence", describe(path)))
    }

    /// The `name` of each entry of the sequence at `path`.
    pub fn names(&mut self, path: &[Step]) -> Vec<String> {
        self.sequence(path)
            .iter()
            .map(|entry| entry["name"].as_str().unwrap_or_default().to_string())
            .collect()
    }

    /// Replaces the value at `path` (which must exist), checking what it was.
    fn replace(&mut self, path: &[Step], expected: &Value, new: Value) {
        let file = self.file.clone();
        let value = self.at(path);
        assert_eq!(
            value,
            expected,
            "{file}: `{}` is not what the harness expects",
            describe(path)
        );
        *value = new;
    }

    /// The document as YAML.
    pub fn render(&self) -> String {
        yaml_serde::to_string(&self.root).unwrap()
    }
}

/// What the Wasm filter's `config` (an Envoy `PluginConfig`) holds that a test sets.
fn set_plugin_config(doc: &mut Document, config: &[Step], plugin_config: &str) {
    let configuration = joined(config, &[Key("configuration")]);
    let file = doc.file.clone();
    let any = doc.mapping(&configuration);
    assert_eq!(
        any.get("@type"),
        Some(&json!(STRING_VALUE_TYPE)),
        "{file}: `{}` must be a StringValue",
        describe(&configuration)
    );
    any.insert("value".into(), json!(plugin_config));
}

/// WASI environment variables as `vm_config.environment_variables.key_values` (what Istio renders
/// from a WasmPlugin's `vmConfig.env` with `valueFrom: INLINE`); none removes them.
fn set_vm_env(doc: &mut Document, config: &[Step], env: &[(String, String)]) {
    let vm_config = doc.mapping(&joined(config, &[Key("vm_config")]));
    if env.is_empty() {
        vm_config.remove("environment_variables");
    } else {
        let key_values: Map<String, Value> =
            env.iter().map(|(k, v)| (k.clone(), json!(v))).collect();
        vm_config.insert(
            "environment_variables".into(),
            json!({ "key_values": key_values }),
        );
    }
}

fn set_module(doc: &mut Document, config: &[Step], module: &Path) {
    doc.replace(
        &joined(
            config,
            &[Key("vm_config"), Key("code"), Key("local"), Key("filename")],
        ),
        &json!(SCENARIO_WASM_PATH),
        json!(module.to_str().unwrap()),
    );
}

/// An Envoy bootstrap: `envoy/local/envoy.yaml` or `envoy/ecds/envoy.yaml`.
pub struct Bootstrap(pub Document);

/// The HTTP connection manager's config in the listener named `listener`.
pub fn listener_hcm(listener: &str) -> Vec<Step<'_>> {
    vec![
        Key("static_resources"),
        Key("listeners"),
        Named(listener),
        Key("filter_chains"),
        Index(0),
        Key("filters"),
        Named(HTTP_CONNECTION_MANAGER),
        Key("typed_config"),
    ]
}

/// The inline Wasm filter's config in the listener named `listener` (the front listener, or one
/// of a scenario with filters in several listeners, such as `envoy/lanes/envoy.yaml`).
fn listener_wasm_config(listener: &str) -> Vec<Step<'_>> {
    joined(
        &listener_hcm(listener),
        &[
            Key("http_filters"),
            Named(INLINE_FILTER),
            Key("typed_config"),
            Key("config"),
        ],
    )
}

fn inline_wasm_config() -> Vec<Step<'static>> {
    listener_wasm_config(FRONT_LISTENER)
}

impl Bootstrap {
    pub fn load(relative: &str) -> Bootstrap {
        Bootstrap(Document::load(relative))
    }

    /// The inline pluginConfig (local scenario).
    pub fn set_plugin_config(&mut self, plugin_config: &str) {
        set_plugin_config(&mut self.0, &inline_wasm_config(), plugin_config);
    }

    /// The inline filter's VM environment (local scenario).
    pub fn set_vm_env(&mut self, env: &[(String, String)]) {
        set_vm_env(&mut self.0, &inline_wasm_config(), env);
    }

    /// The inline filter's module file (local scenario).
    pub fn set_module(&mut self, module: &Path) {
        set_module(&mut self.0, &inline_wasm_config(), module);
    }

    /// The pluginConfig, VM environment and module of the inline filter in `listener`.
    pub fn set_listener_filter(
        &mut self,
        listener: &str,
        plugin_config: &str,
        env: &[(String, String)],
        module: &Path,
    ) {
        let config = listener_wasm_config(listener);
        set_plugin_config(&mut self.0, &config, plugin_config);
        set_vm_env(&mut self.0, &config, env);
        set_module(&mut self.0, &config, module);
    }

    /// Points the one endpoint of cluster `cluster` at the Unix socket `socket` (a test's own
    /// upstream), in place of the scenario's stand-in.
    pub fn point_cluster_at_pipe(&mut self, cluster: &str, socket: &Path) {
        *self.0.at(&[
            Key("static_resources"),
            Key("clusters"),
            Named(cluster),
            Key("load_assignment"),
            Key("endpoints"),
            Index(0),
            Key("lb_endpoints"),
            Index(0),
            Key("endpoint"),
            Key("address"),
        ]) = json!({"pipe": {"path": socket.to_str().unwrap()}});
    }

    /// Adds a cluster `cluster` whose one endpoint is the Unix socket `socket`.
    pub fn add_pipe_cluster(&mut self, cluster: &str, socket: &Path) {
        let file = self.0.file.clone();
        let clusters = self.0.sequence(&[Key("static_resources"), Key("clusters")]);
        assert!(
            clusters.iter().all(|c| c["name"] != cluster),
            "{file}: a cluster {cluster} exists already"
        );
        clusters.push(json!({
            "name": cluster,
            "type": "STATIC",
            "connect_timeout": "1s",
            "load_assignment": {
                "cluster_name": cluster,
                "endpoints": [{"lb_endpoints": [{"endpoint": {"address": {
                    "pipe": {"path": socket.to_str().unwrap()}
                }}}]}],
            },
        }));
    }

    /// The routes of the first virtual host of the listener named `listener`.
    pub fn listener_routes(&mut self, listener: &str) -> &mut Vec<Value> {
        self.0.sequence(&joined(
            &listener_hcm(listener),
            &[
                Key("route_config"),
                Key("virtual_hosts"),
                Index(0),
                Key("routes"),
            ],
        ))
    }

    /// Envoy on its own: the front listener keeps only its router (the filter is gone) and routes
    /// by `routes` (a virtual host's `routes`).
    pub fn set_front_routes_without_filters(&mut self, routes: Vec<Value>) {
        self.0
            .sequence(&joined(
                &listener_hcm(FRONT_LISTENER),
                &[Key("http_filters")],
            ))
            .retain(|f| f["name"] == "envoy.filters.http.router");
        *self.listener_routes(FRONT_LISTENER) = routes;
    }

    /// Drops the front listener's access log, for load runs where a line per request would cost
    /// more than the filter.
    pub fn drop_access_log(&mut self) {
        let file = self.0.file.clone();
        self.0
            .mapping(&listener_hcm(FRONT_LISTENER))
            .remove("access_log")
            .unwrap_or_else(|| {
                panic!(
                    "{file}: no `{}.access_log`",
                    describe(&listener_hcm(FRONT_LISTENER))
                )
            });
    }

    /// Points the ECDS subscription (ECDS scenario) at `dir`; returns the resource file's name
    /// in it.
    pub fn set_ecds_dir(&mut self, dir: &Path) -> String {
        self.set_ecds_dir_of(SCENARIO_ECDS_FILTER, dir)
    }

    /// Points the ECDS subscription of the front listener's filter `filter` at `dir`; returns the
    /// resource file's name in it.
    pub fn set_ecds_dir_of(&mut self, filter: &str, dir: &Path) -> String {
        let source = joined(
            &listener_hcm(FRONT_LISTENER),
            &[
                Key("http_filters"),
                Named(filter),
                Key("config_discovery"),
                Key("config_source"),
                Key("path_config_source"),
            ],
        );
        let file = self.0.file.clone();
        let watched_path = joined(&source, &[Key("watched_directory"), Key("path")]);
        let watched = self.0.at(&watched_path).as_str().map(PathBuf::from);
        let resource_path = joined(&source, &[Key("path")]);
        let resource = self.0.at(&resource_path).as_str().map(PathBuf::from);
        let (Some(watched), Some(resource)) = (watched, resource) else {
            panic!(
                "{file}: `{}` must name a file and its directory",
                describe(&source)
            );
        };
        assert_eq!(
            resource.parent(),
            Some(watched.as_path()),
            "{file}: the ECDS file must be in the watched directory"
        );
        let name = resource.file_name().unwrap().to_str().unwrap().to_string();
        *self.0.at(&watched_path) = json!(dir.to_str().unwrap());
        *self.0.at(&resource_path) = json!(dir.join(&name).to_str().unwrap());
        name
    }

    /// Renames the ECDS filter (ECDS scenario), as Istio names it after the WasmPlugin.
    pub fn rename_ecds_filter(&mut self, name: &str) {
        let filter = joined(
            &listener_hcm(FRONT_LISTENER),
            &[Key("http_filters"), Named(SCENARIO_ECDS_FILTER)],
        );
        self.0.mapping(&filter).insert("name".into(), json!(name));
    }

    /// The config types the ECDS filter named `name` accepts.
    pub fn set_ecds_filter_types(&mut self, name: &str, type_urls: &[&str]) {
        let types = joined(
            &listener_hcm(FRONT_LISTENER),
            &[
                Key("http_filters"),
                Named(name),
                Key("config_discovery"),
                Key("type_urls"),
            ],
        );
        *self.0.at(&types) = json!(type_urls);
    }

    /// Binds nothing known in advance: admin and front listener on port 0, every other listener
    /// on a Unix socket in `dir`, and each cluster endpoint that named such a listener's address
    /// on its socket. A cluster endpoint naming an address no listener has fails: a test must not
    /// depend on anything outside its Envoy.
    pub fn bind_for_test(&mut self, dir: &Path) {
        let file = self.0.file.clone();
        let loopback_port_0 =
            json!({"socket_address": {"address": FRONT_ADDRESS, "port_value": 0}});
        let admin = [Key("admin"), Key("address"), Key("socket_address")];
        self.0.at(&admin);
        *self.0.at(&admin[..2]) = loopback_port_0.clone();

        let listeners = [Key("static_resources"), Key("listeners")];
        let names = self.0.names(&listeners);
        assert!(
            names.iter().any(|n| n == FRONT_LISTENER),
            "{file}: no listener named {FRONT_LISTENER}"
        );
        let mut upstreams: Vec<(Value, Value)> = Vec::new();
        for name in &names {
            let address_path = joined(&listeners, &[Named(name), Key("address")]);
            if name == FRONT_LISTENER {
                let front = joined(&address_path, &[Key("socket_address"), Key("address")]);
                self.0
                    .replace(&front, &json!(FRONT_ADDRESS), json!(FRONT_ADDRESS));
                *self.0.at(&address_path) = loopback_port_0.clone();
                continue;
            }
            let socket = dir.join(format!("{name}.sock"));
            assert!(
                socket.as_os_str().len() <= MAX_UNIX_SOCKET_PATH,
                "{} is too long for a Unix socket: set TMPDIR to a shorter directory",
                socket.display()
            );
            let pipe = json!({"pipe": {"path": socket.to_str().unwrap()}});
            let original = std::mem::replace(self.0.at(&address_path), pipe.clone());
            upstreams.push((original, pipe));
        }

        let clusters = [Key("static_resources"), Key("clusters")];
        let cluster_names = self.0.names(&clusters);
        for cluster in &cluster_names {
            let endpoints = joined(
                &clusters,
                &[Named(cluster), Key("load_assignment"), Key("endpoints")],
            );
            for locality in self.0.sequence(&endpoints).iter_mut() {
                let lb_endpoints = locality
                    .get_mut("lb_endpoints")
                    .and_then(Value::as_array_mut)
                    .unwrap_or_else(|| {
                        panic!(
                            "{file}: cluster {cluster} has an endpoint group without lb_endpoints"
                        )
                    });
                for endpoint in lb_endpoints {
                    let address = endpoint
                        .pointer_mut("/endpoint/address")
                        .unwrap_or_else(|| {
                            panic!("{file}: cluster {cluster} has an endpoint without an address")
                        });
                    let (_, pipe) = upstreams
                        .iter()
                        .find(|(original, _)| original == address)
                        .unwrap_or_else(|| {
                            panic!("{file}: cluster {cluster} points at {address}, which no listener of the scenario has")
                        });
                    *address = pipe.clone();
                }
            }
        }
    }

    pub fn render(&self) -> String {
        self.0.render()
    }
}

/// The ECDS resource file (`envoy/ecds/filters/sticky-canary.yaml`): a `DiscoveryResponse` with
/// one `TypedExtensionConfig`.
pub struct EcdsResource(pub Document);

const RESOURCE_WASM_CONFIG: &[Step] = &[
    Key("resources"),
    Index(0),
    Key("typed_config"),
    Key("config"),
];

impl EcdsResource {
    pub fn load() -> EcdsResource {
        EcdsResource::load_from(ECDS_RESOURCE)
    }

    /// Another scenario's ECDS resource file.
    pub fn load_from(relative: &str) -> EcdsResource {
        let mut doc = Document::load(relative);
        let count = doc.sequence(&[Key("resources")]).len();
        assert_eq!(count, 1, "{relative}: expected one resource");
        EcdsResource(doc)
    }

    pub fn set_version(&mut self, version: u32) {
        let file = self.0.file.clone();
        let info = self.0.at(&[Key("version_info")]);
        assert!(info.is_string(), "{file}: version_info must be a string");
        *info = json!(version.to_string());
    }

    pub fn set_plugin_config(&mut self, plugin_config: &str) {
        set_plugin_config(&mut self.0, RESOURCE_WASM_CONFIG, plugin_config);
    }

    pub fn set_vm_env(&mut self, env: &[(String, String)]) {
        set_vm_env(&mut self.0, RESOURCE_WASM_CONFIG, env);
    }

    pub fn set_module(&mut self, module: &Path) {
        set_module(&mut self.0, RESOURCE_WASM_CONFIG, module);
    }

    pub fn render(&self) -> String {
        self.0.render()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every address in a rendered document: (JSON pointer, address).
    fn addresses(value: &Value, at: String, out: &mut Vec<(String, Value)>) {
        match value {
            Value::Object(map) => {
                for (key, v) in map {
                    let here = format!("{at}/{key}");
                    if key == "address" && v.is_object() {
                        out.push((here.clone(), v.clone()));
                    }
                    addresses(v, here, out);
                }
            }
            Value::Array(items) => {
                for (i, v) in items.iter().enumerate() {
                    addresses(v, format!("{at}/{i}"), out);
                }
            }
            _ => {}
        }
    }

    /// Every address of `rendered` (from `file`): TCP port 0 or a socket in `dir`; returns them.
    fn assert_only_port_0_and_sockets_in(
        dir: &Path,
        file: &str,
        rendered: &Value,
    ) -> Vec<(String, Value)> {
        let mut found = Vec::new();
        addresses(rendered, String::new(), &mut found);
        for (at, address) in &found {
            let tcp_port_0 = address["socket_address"]["port_value"] == 0;
            let socket_here = address["pipe"]["path"]
                .as_str()
                .is_some_and(|p| Path::new(p).parent() == Some(dir));
            assert!(tcp_port_0 || socket_here, "{file}: {at} = {address}");
        }
        found
    }

    #[test]
    fn a_test_copy_binds_only_port_0_and_sockets_in_its_directory() {
        let dir = Path::new("/tmp/t");
        for file in [LOCAL_BOOTSTRAP, ECDS_BOOTSTRAP] {
            let mut bootstrap = Bootstrap::load(file);
            bootstrap.bind_for_test(dir);
            let rendered: Value = yaml_serde::from_str(&bootstrap.render()).unwrap();
            let found = assert_only_port_0_and_sockets_in(dir, file, &rendered);
            // admin, front, two stand-in listeners, two cluster endpoints
            assert_eq!(found.len(), 6, "{file}: {found:?}");
            let v1 = |at: &str| rendered.pointer(at).cloned().unwrap();
            assert_eq!(
                v1("/static_resources/listeners/1/address"),
                v1("/static_resources/clusters/0/load_assignment/endpoints/0/lb_endpoints/0/endpoint/address"),
                "{file}: the v1 cluster points at the v1 listener"
            );
        }
    }

    #[test]
    fn the_chain_and_mirror_scenarios_bind_only_port_0_and_get_each_filter_its_config() {
        let dir = Path::new("/tmp/t");
        for (file, listeners) in [
            (LANES_BOOTSTRAP, &["front", "service-b"][..]),
            (MIRROR_BOOTSTRAP, &["front"][..]),
            (AMBIENT_BOOTSTRAP, &["front"][..]),
        ] {
            let mut bootstrap = Bootstrap::load(file);
            for listener in listeners {
                bootstrap.set_listener_filter(
                    listener,
                    &format!("{{\"for\":\"{listener}\"}}"),
                    &[],
                    Path::new("/m.wasm"),
                );
            }
            bootstrap.bind_for_test(dir);
            let rendered: Value = yaml_serde::from_str(&bootstrap.render()).unwrap();
            assert_only_port_0_and_sockets_in(dir, file, &rendered);
            for listener in listeners {
                let mut doc = Document::parse(file, &bootstrap.render());
                let config = doc.at(&listener_wasm_config(listener)).clone();
                assert_eq!(
                    config["configuration"]["value"],
                    format!("{{\"for\":\"{listener}\"}}")
                );
                assert_eq!(config["vm_config"]["code"]["local"]["filename"], "/m.wasm");
            }
        }
    }

    #[test]
    fn a_missing_structure_is_named() {
        let text = "static_resources:\n  listeners:\n  - name: front\n    filter_chains: []\n";
        let mut bootstrap = Bootstrap(Document::parse("x.yaml", text));
        let failure = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            bootstrap.set_plugin_config("{}")
        }))
        .unwrap_err();
        assert_eq!(
            failure.downcast_ref::<String>().unwrap(),
            "x.yaml: no `.static_resources.listeners[name=front].filter_chains[0]`"
        );
    }

    #[test]
    fn a_cluster_pointing_outside_the_scenario_is_refused() {
        let text = r#"
admin: {address: {socket_address: {address: 127.0.0.1, port_value: 9901}}}
static_resources:
  listeners:
  - name: front
    address: {socket_address: {address: 127.0.0.1, port_value: 10000}}
  clusters:
  - name: elsewhere
    load_assignment:
      endpoints:
      - lb_endpoints:
        - endpoint: {address: {socket_address: {address: 10.0.0.1, port_value: 80}}}
"#;
        let mut bootstrap = Bootstrap(Document::parse("x.yaml", text));
        let failure = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            bootstrap.bind_for_test(Path::new("/tmp/t"))
        }))
        .unwrap_err();
        let message = failure.downcast_ref::<String>().unwrap();
        assert!(
            message.starts_with("x.yaml: cluster elsewhere points at"),
            "{message}"
        );
    }

    #[test]
    fn plugin_config_env_and_module_land_in_the_resource() {
        let mut resource = EcdsResource::load();
        resource.set_version(7);
        resource.set_plugin_config(r#"{"routes":[]}"#);
        resource.set_vm_env(&[("K".into(), "v'1".into())]);
        resource.set_module(Path::new("/m.wasm"));
        let rendered: Value = yaml_serde::from_str(&resource.render()).unwrap();
        let config = &rendered["resources"][0]["typed_config"]["config"];
        assert_eq!(rendered["version_info"], "7");
        assert_eq!(config["configuration"]["value"], r#"{"routes":[]}"#);
        assert_eq!(
            config["vm_config"]["environment_variables"],
            json!({"key_values": {"K": "v'1"}})
        );
        assert_eq!(config["vm_config"]["code"]["local"]["filename"], "/m.wasm");
    }
}
