//! What Istio makes of a WasmPlugin or TrafficExtension: the ECDS resource (an Envoy
//! `TypedExtensionConfig` holding the Wasm HTTP filter) that reaches the proxy.
//!
//! Mirrors istiod (pilot/pkg/model: the WasmPlugin/TrafficExtension wrappers and
//! `buildWasmPluginConfigCommon`) followed by the istio-agent's rewrite (pkg/wasm `convert`):
//! - resource name `extensions.istio.io/wasmplugin/<ns>.<name>` (TrafficExtension:
//!   `extensions.istio.io/trafficextension/<ns>.<name>`);
//! - `config.name` = `<ns>.<name>`, `root_id` = `pluginName`, no `vm_id`;
//! - `configuration` = `google.protobuf.StringValue` holding `pluginConfig` as JSON (protojson:
//!   object keys sorted, numbers as doubles, so `50` and `50.0` both print `50`);
//! - `vm_config.runtime` = `envoy.wasm.runtime.v8`;
//! - `failure_policy` from `failStrategy` (unset means FAIL_CLOSE, Istio's enum default);
//! - the module: istiod sends a remote source (the `url` plus `sha256`) and the agent replaces it
//!   with the file it downloaded and verified; here `module` stands for that file;
//! - environment variables: `vmConfig.env` (INLINE values, HOST keys); the `ISTIO_META_*` ones
//!   istiod adds for the agent are stripped by it and never reach Envoy.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use serde_json::{json, Map, Number, Value};

pub const WASM_FILTER_TYPE: &str = "type.googleapis.com/envoy.extensions.filters.http.wasm.v3.Wasm";
pub const EXTENSION_CONFIG_TYPE: &str =
    "type.googleapis.com/envoy.config.core.v3.TypedExtensionConfig";
const STRING_VALUE_TYPE: &str = "type.googleapis.com/google.protobuf.StringValue";
const RUNTIME: &str = "envoy.wasm.runtime.v8";

/// The Wasm plugin settings of a WasmPlugin (`spec`) or TrafficExtension (`spec.wasm`), with
/// the resource name prefix Istio uses for its kind.
fn plugin_settings(manifest: &Value) -> Result<(&'static str, &Value), String> {
    match manifest["kind"].as_str() {
        Some("WasmPlugin") => Ok(("extensions.istio.io/wasmplugin/", &manifest["spec"])),
        Some("TrafficExtension") => {
            let wasm = &manifest["spec"]["wasm"];
            if wasm.is_null() {
                return Err("TrafficExtension has no spec.wasm (a Lua extension?)".into());
            }
            Ok(("extensions.istio.io/trafficextension/", wasm))
        }
        other => Err(format!(
            "not a WasmPlugin or TrafficExtension: kind {other:?}"
        )),
    }
}

/// The JSON Istio puts in `configuration`: the pluginConfig as Go's protojson prints a
/// `google.protobuf.Struct` (sorted keys; whole numbers without a fraction).
pub fn plugin_config_json(manifest: &Value) -> Result<String, String> {
    let (_, settings) = plugin_settings(manifest)?;
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

/// The ECDS resource name Istio gives this manifest.
pub fn resource_name(manifest: &Value) -> Result<String, String> {
    let (prefix, _) = plugin_settings(manifest)?;
    Ok(format!("{prefix}{}", qualified_name(manifest)?))
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

/// The `TypedExtensionConfig` Envoy receives for this manifest, with `module` as the local file
/// the istio-agent fetched the plugin into.
pub fn extension_config(manifest: &Value, module: &str) -> Result<Value, String> {
    let (_, settings) = plugin_settings(manifest)?;
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
        "FAIL_RELOAD" => "FAIL_RELOAD",
        other => return Err(format!("failStrategy {other:?} unknown")),
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
    config.insert("name".into(), Value::from(qualified_name(manifest)?));
    if let Some(root_id) = settings["pluginName"].as_str() {
        config.insert("root_id".into(), Value::from(root_id));
    }
    if settings["pluginConfig"]
        .as_object()
        .is_some_and(|c| !c.is_empty())
    {
        config.insert(
            "configuration".into(),
            json!({"@type": STRING_VALUE_TYPE, "value": plugin_config_json(manifest)?}),
        );
    }
    config.insert("vm_config".into(), vm_config);
    config.insert("failure_policy".into(), Value::from(failure_policy));

    Ok(json!({
        "name": resource_name(manifest)?,
        "typed_config": {"@type": WASM_FILTER_TYPE, "config": Value::Object(config)},
    }))
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
