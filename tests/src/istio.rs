//! What Istio makes of a WasmPlugin or TrafficExtension: the ECDS resource (an Envoy
//! `TypedExtensionConfig` holding the Wasm HTTP filter) that reaches the proxy.
//!
//! Mirrors istiod (pilot/pkg/model/extensions.go: the WasmPlugin/TrafficExtension wrappers and
//! the Wasm `PluginConfig` they build) followed by the istio-agent's rewrite (pkg/wasm/convert.go),
//! as read in istio/istio at the tags 1.26.0-1.30.3, 1.31.0-rc.0 and master 86c9f01:
//! - resource name, which is also the HTTP filter's name in the listener, and `config.name`, by
//!   kind and Istio version ([`IstioVersion`]):
//!
//!   | manifest | Istio | resource name | `config.name` |
//!   |---|---|---|---|
//!   | WasmPlugin | 1.26-1.29 | `extensions.istio.io/wasmplugin/<ns>.<name>` | `<ns>.<name>` |
//!   | WasmPlugin | 1.30+ | `extensions.istio.io/trafficextension/<ns>.<name>~istio-translated-wasmplugin` | `<ns>.<name>~istio-translated-wasmplugin` |
//!   | TrafficExtension | 1.30+ | `extensions.istio.io/trafficextension/<ns>.<name>` | `<ns>.<name>` |
//!
//!   From 1.30 istiod translates every WasmPlugin into a TrafficExtension named
//!   `<name>~istio-translated-wasmplugin` (pilot/pkg/config/kube/extensions/translate.go,
//!   `syntheticMarker`; `~` cannot occur in a Kubernetes name) and builds only TrafficExtensions.
//!   Istio up to 1.29 has no TrafficExtension; up to 1.25 the WasmPlugin prefix is spelled
//!   `extenstions.istio.io` and proxies before 1.25 get `fail_open` (not modelled);
//! - `root_id` = `pluginName`, no `vm_id`;
//! - `configuration` = `google.protobuf.StringValue` holding `pluginConfig` as JSON (protojson:
//!   object keys sorted, numbers as doubles, so `50` and `50.0` both print `50`), absent when
//!   `pluginConfig` is empty;
//! - `vm_config.runtime` = `envoy.wasm.runtime.v8`;
//! - `failure_policy` from `failStrategy` (unset means FAIL_CLOSE, Istio's enum default;
//!   FAIL_RELOAD exists from Istio 1.27);
//! - the module: istiod sends a remote source (the `url` plus `sha256`) and the agent replaces it
//!   with the file it downloaded and verified; here `module` stands for that file. When the
//!   download fails the agent pushes [`fetch_failure_config`] instead;
//! - environment variables: `vmConfig.env` (INLINE values, HOST keys); the `ISTIO_META_*` ones
//!   istiod adds for the agent are stripped by it and never reach Envoy.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use serde_json::{json, Map, Number, Value};

pub const WASM_FILTER_TYPE: &str = "type.googleapis.com/envoy.extensions.filters.http.wasm.v3.Wasm";
pub const EXTENSION_CONFIG_TYPE: &str =
    "type.googleapis.com/envoy.config.core.v3.TypedExtensionConfig";
pub const RBAC_FILTER_TYPE: &str = "type.googleapis.com/envoy.extensions.filters.http.rbac.v3.RBAC";
const STRING_VALUE_TYPE: &str = "type.googleapis.com/google.protobuf.StringValue";
const RUNTIME: &str = "envoy.wasm.runtime.v8";

/// The Istio release whose istiod and istio-agent are imitated (`1.<minor>`); only the
/// releases whose source was read are accepted.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct IstioVersion {
    minor: u32,
}

impl IstioVersion {
    /// The oldest release modelled: 1.25 and older spell the WasmPlugin prefix
    /// `extenstions.istio.io` and gave older proxies `fail_open` instead of `failure_policy`.
    pub const OLDEST: IstioVersion = IstioVersion { minor: 26 };
    /// The last release that names WasmPlugins after themselves.
    pub const CLASSIC: IstioVersion = IstioVersion { minor: 29 };
    /// The first release with TrafficExtension, into which it translates every WasmPlugin.
    pub const TRANSLATING: IstioVersion = IstioVersion { minor: 30 };
    /// The newest release read (1.31, whose naming master at 86c9f01 keeps).
    pub const NEWEST: IstioVersion = IstioVersion { minor: 31 };
    /// FAIL_RELOAD joined `failStrategy` in 1.27.
    const FAIL_RELOAD: IstioVersion = IstioVersion { minor: 27 };

    /// `1.30`, `1.30.3`, `1.31.0-rc.0`, or `master` (= [`IstioVersion::NEWEST`]).
    pub fn parse(text: &str) -> Result<IstioVersion, String> {
        if text == "master" {
            return Ok(IstioVersion::NEWEST);
        }
        let mut parts = text.split('.');
        let minor = match (parts.next(), parts.next().map(str::parse::<u32>)) {
            (Some("1"), Some(Ok(minor))) => minor,
            _ => {
                return Err(format!(
                    "Istio version {text:?}: expected 1.MINOR[.PATCH] or master"
                ))
            }
        };
        let version = IstioVersion { minor };
        if version < IstioVersion::OLDEST || version > IstioVersion::NEWEST {
            return Err(format!(
                "Istio version {text}: only {} to {} (and master) are modelled",
                IstioVersion::OLDEST,
                IstioVersion::NEWEST
            ));
        }
        Ok(version)
    }
}

impl std::fmt::Display for IstioVersion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "1.{}", self.minor)
    }
}

/// What Istio calls the extension: the ECDS resource (and listener filter) and the Wasm plugin.
struct Names {
    resource: String,
    plugin: String,
}

/// The Wasm plugin settings of a WasmPlugin (`spec`) or TrafficExtension (`spec.wasm`), and the
/// names this Istio gives them.
fn plugin_settings(manifest: &Value, istio: IstioVersion) -> Result<(Names, &Value), String> {
    let qualified = qualified_name(manifest)?;
    let names = |prefix: &str, plugin: String| Names {
        resource: format!("{prefix}{plugin}"),
        plugin,
    };
    match manifest["kind"].as_str() {
        Some("WasmPlugin") if istio < IstioVersion::TRANSLATING => Ok((
            names("extensions.istio.io/wasmplugin/", qualified),
            &manifest["spec"],
        )),
        Some("WasmPlugin") => Ok((
            names(
                "extensions.istio.io/trafficextension/",
                format!("{qualified}~istio-translated-wasmplugin"),
            ),
            &manifest["spec"],
        )),
        Some("TrafficExtension") => {
            if istio < IstioVersion::TRANSLATING {
                return Err(format!(
                    "TrafficExtension needs Istio {} or later (asked for {istio})",
                    IstioVersion::TRANSLATING
                ));
            }
            let wasm = &manifest["spec"]["wasm"];
            if wasm.is_null() {
                return Err("TrafficExtension has no spec.wasm (a Lua extension?)".into());
            }
            Ok((
                names("extensions.istio.io/trafficextension/", qualified),
                wasm,
            ))
        }
        other => Err(format!(
            "not a WasmPlugin or TrafficExtension: kind {other:?}"
        )),
    }
}

/// The JSON Istio puts in `configuration`: the pluginConfig as Go's protojson prints a
/// `google.protobuf.Struct` (sorted keys; whole numbers without a fraction).
pub fn plugin_config_json(manifest: &Value) -> Result<String, String> {
    let (_, settings) = plugin_settings(manifest, IstioVersion::NEWEST)?;
    Ok(serde_json::to_string(&as_struct_value(&settings["pluginConfig"])).unwrap())
}

fn as_struct_value(value: &Value) -> Value {
    match value {
        Value::Number(n) => match n.as_f64() {
            Some(f) if f.fract() == 0.0 && f.abs() < 9_007_199_254_740_992.0 => {
                Value::Number(Number::from(f as i64))
            }
            _ => value.clone(),
        },
        Value::Array(items) => Value::Array(items.iter().map(as_struct_value).collect()),
        // serde_json's map is ordered by key (no `preserve_order`), as protojson sorts them.
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| (k.clone(), as_struct_value(v)))
                .collect::<Map<String, Value>>(),
        ),
        other => other.clone(),
    }
}

/// The WasmPlugin fields that become a TrafficExtension's `spec.wasm` (translate.go).
const WASM_FIELDS: [&str; 9] = [
    "url",
    "sha256",
    "imagePullPolicy",
    "imagePullSecret",
    "pluginConfig",
    "pluginName",
    "failStrategy",
    "vmConfig",
    "type",
];
/// The WasmPlugin fields a TrafficExtension keeps at `spec` (`phase` renamed by number below).
const SPEC_FIELDS: [&str; 4] = ["selector", "targetRefs", "priority", "match"];

/// The TrafficExtension Istio 1.30+ translates a WasmPlugin into
/// (pilot/pkg/config/kube/extensions/translate.go, `translateWasmPlugin`, 1.30.0 to master
/// 86c9f01), under the WasmPlugin's name (Istio's own copy is `<name>~istio-translated-wasmplugin`,
/// see [`resource_name`]); like Istio it keeps only the name and namespace of `metadata`.
/// `selector`, `targetRefs`, `priority` and `match` stay at `spec`; the plugin settings move to
/// `spec.wasm`; the deprecated singular `targetRef` becomes `targetRefs: [targetRef]` when
/// `targetRefs` is unset and is dropped otherwise; `phase` keeps its enum number, so
/// `UNSPECIFIED_PHASE` becomes `UNSPECIFIED`. A field Istio drops (`verificationKey`) or one
/// unknown here is an error, so a twin never silently loses a setting.
pub fn traffic_extension_of(wasm_plugin: &Value) -> Result<Value, String> {
    if wasm_plugin["kind"] != "WasmPlugin" {
        return Err(format!("not a WasmPlugin: kind {}", wasm_plugin["kind"]));
    }
    let spec = wasm_plugin["spec"]
        .as_object()
        .ok_or("spec: missing or not a mapping")?;
    let (mut out, mut wasm) = (Map::new(), Map::new());
    for (key, value) in spec {
        if WASM_FIELDS.contains(&key.as_str()) {
            wasm.insert(key.clone(), value.clone());
        } else if SPEC_FIELDS.contains(&key.as_str()) {
            out.insert(key.clone(), value.clone());
        } else {
            match key.as_str() {
                "targetRef" => {}
                "phase" => {
                    let phase = match value.as_str() {
                        Some("UNSPECIFIED_PHASE") => "UNSPECIFIED",
                        Some(phase @ ("AUTHN" | "AUTHZ" | "STATS")) => phase,
                        _ => return Err(format!("spec.phase: {value} is no WasmPlugin phase")),
                    };
                    out.insert("phase".into(), Value::from(phase));
                }
                "verificationKey" => {
                    return Err(format!(
                        "spec.{key}: a TrafficExtension has no such field (Istio 1.30+ drops it when it translates a WasmPlugin)"
                    ))
                }
                _ => return Err(format!("spec.{key}: not a WasmPlugin field")),
            }
        }
    }
    let has_target_refs = out
        .get("targetRefs")
        .and_then(Value::as_array)
        .is_some_and(|refs| !refs.is_empty());
    if let (false, Some(target)) = (has_target_refs, spec.get("targetRef")) {
        out.insert("targetRefs".into(), json!([target]));
    }
    out.insert("wasm".into(), Value::Object(wasm));

    let mut metadata = Map::new();
    for key in ["name", "namespace"] {
        if let Some(value) = wasm_plugin["metadata"].get(key) {
            metadata.insert(key.into(), value.clone());
        }
    }
    Ok(json!({
        "apiVersion": "extensions.istio.io/v1alpha1",
        "kind": "TrafficExtension",
        "metadata": metadata,
        "spec": out,
    }))
}

/// The ECDS resource name this Istio gives the manifest, also the filter's name in the listener.
pub fn resource_name(manifest: &Value, istio: IstioVersion) -> Result<String, String> {
    Ok(plugin_settings(manifest, istio)?.0.resource)
}

fn qualified_name(manifest: &Value) -> Result<String, String> {
    let name = manifest["metadata"]["name"]
        .as_str()
        .ok_or("metadata.name missing")?;
    let namespace = manifest["metadata"]["namespace"]
        .as_str()
        .unwrap_or("default");
    Ok(format!("{namespace}.{name}"))
}

/// [`extension_config_for`] by the first Istio that delivers the manifest's kind itself: a
/// WasmPlugin as 1.29 names it, a TrafficExtension as 1.30 does.
pub fn extension_config(manifest: &Value, module: &str) -> Result<Value, String> {
    let istio = match manifest["kind"].as_str() {
        Some("WasmPlugin") => IstioVersion::CLASSIC,
        _ => IstioVersion::TRANSLATING,
    };
    extension_config_for(manifest, module, istio)
}

/// The `TypedExtensionConfig` Envoy receives from this Istio for the manifest, with `module` as
/// the local file the istio-agent fetched the plugin into.
pub fn extension_config_for(
    manifest: &Value,
    module: &str,
    istio: IstioVersion,
) -> Result<Value, String> {
    let (names, settings) = plugin_settings(manifest, istio)?;
    if let Some(kind) = settings["type"].as_str() {
        if kind != "HTTP" && kind != "UNSPECIFIED_PLUGIN_TYPE" {
            return Err(format!(
                "type {kind}: only HTTP plugins become an HTTP filter"
            ));
        }
    }
    let failure_policy = match settings["failStrategy"].as_str().unwrap_or("FAIL_CLOSE") {
        "FAIL_CLOSE" => "FAIL_CLOSED",
        "FAIL_OPEN" => "FAIL_OPEN",
        "FAIL_RELOAD" if istio >= IstioVersion::FAIL_RELOAD => "FAIL_RELOAD",
        other => return Err(format!("failStrategy {other:?} unknown to Istio {istio}")),
    };

    let mut vm_config = json!({
        "runtime": RUNTIME,
        "code": {"local": {"filename": module}},
    });
    let (mut key_values, mut host_env_keys) = (Map::new(), Vec::new());
    for env in settings["vmConfig"]["env"].as_array().into_iter().flatten() {
        let name = env["name"].as_str().ok_or("vmConfig.env[].name missing")?;
        match env["valueFrom"].as_str().unwrap_or("INLINE") {
            "INLINE" => {
                key_values.insert(name.into(), env["value"].clone());
            }
            "HOST" => host_env_keys.push(Value::from(name)),
            other => return Err(format!("vmConfig.env valueFrom {other:?} unknown")),
        }
    }
    if !key_values.is_empty() || !host_env_keys.is_empty() {
        let mut env = Map::new();
        if !host_env_keys.is_empty() {
            env.insert("host_env_keys".into(), Value::Array(host_env_keys));
        }
        if !key_values.is_empty() {
            env.insert("key_values".into(), Value::Object(key_values));
        }
        vm_config["environment_variables"] = Value::Object(env);
    }

    let mut config = Map::new();
    config.insert("name".into(), Value::from(names.plugin));
    if let Some(root_id) = settings["pluginName"].as_str() {
        config.insert("root_id".into(), Value::from(root_id));
    }
    if settings["pluginConfig"]
        .as_object()
        .is_some_and(|c| !c.is_empty())
    {
        config.insert(
            "configuration".into(),
            json!({"@type": STRING_VALUE_TYPE, "value": serde_json::to_string(&as_struct_value(&settings["pluginConfig"])).unwrap()}),
        );
    }
    config.insert("vm_config".into(), vm_config);
    config.insert("failure_policy".into(), Value::from(failure_policy));

    Ok(json!({
        "name": names.resource,
        "typed_config": {"@type": WASM_FILTER_TYPE, "config": Value::Object(config)},
    }))
}

/// What the istio-agent pushes in place of `extension` (from [`extension_config_for`]) when it
/// cannot fetch the module (pkg/wasm/convert.go, `createHTTPDefaultFilter`; the same in every
/// release modelled): an RBAC filter under the same name, allowing everything under FAIL_OPEN and
/// denying everything (an empty rule set) otherwise, FAIL_RELOAD included.
pub fn fetch_failure_config(extension: &Value) -> Value {
    let rbac = if extension["typed_config"]["config"]["failure_policy"] == "FAIL_OPEN" {
        json!({"@type": RBAC_FILTER_TYPE, "rules_stat_prefix": "wasm-default-allow"})
    } else {
        json!({"@type": RBAC_FILTER_TYPE, "rules": {}, "rules_stat_prefix": "wasm-default-deny"})
    };
    json!({"name": extension["name"], "typed_config": rbac})
}

/// A file-based ECDS update (a `DiscoveryResponse`) carrying one extension config.
pub fn discovery_response(extension: &Value, version: u32) -> Value {
    let mut resource = Map::new();
    resource.insert("@type".into(), Value::from(EXTENSION_CONFIG_TYPE));
    for (k, v) in extension.as_object().unwrap() {
        resource.insert(k.clone(), v.clone());
    }
    json!({"version_info": version.to_string(), "resources": [Value::Object(resource)]})
}
