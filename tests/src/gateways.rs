//! The plugin configuration Envoy Gateway and Higress hand the filter, derived from their
//! resources the way their controllers derive it, so tests can run it through the filter's own
//! validation (the API server cannot: both keep it as free-form JSON).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use serde_json::{Map, Value};

/// Envoy Gateway's `EnvoyExtensionPolicy`: each `spec.wasm[]` extension's name and `config`.
/// Envoy Gateway passes the raw JSON of `config` as the filter's configuration, an empty string
/// when it is absent (envoyproxy/gateway `internal/xds/translator/wasm.go`, v1.9.0).
pub fn envoy_gateway_configs(policy: &Value) -> Result<Vec<(String, String)>, String> {
    if policy["kind"] != "EnvoyExtensionPolicy" {
        return Err(format!(
            "not an EnvoyExtensionPolicy: kind {}",
            policy["kind"]
        ));
    }
    let extensions = policy["spec"]["wasm"]
        .as_array()
        .ok_or("spec.wasm: no Wasm extensions")?;
    Ok(extensions
        .iter()
        .enumerate()
        .map(|(i, wasm)| {
            let name = wasm["name"]
                .as_str()
                .map_or_else(|| format!("wasm[{i}]"), str::to_string);
            let config = match &wasm["config"] {
                Value::Null => String::new(),
                config => serde_json::to_string(config).unwrap(),
            };
            (name, config)
        })
        .collect())
}

/// Higress's `WasmPlugin` (`extensions.higress.io`): the `pluginConfig` of the Istio WasmPlugin
/// Higress generates from it, or `None` when it generates none. `pluginConfig`, when set, is
/// passed as is; otherwise `defaultConfig` (unless `defaultConfigDisable`), with a `_rules_` list
/// added for `matchRules`: each rule's `config` plus `_match_route_` (its ingresses),
/// `_match_service_` and `_match_domain_` (alibaba/higress
/// `pkg/ingress/config/ingress_config.go`, v2.2.1).
pub fn higress_plugin_config(plugin: &Value) -> Result<Option<String>, String> {
    if plugin["apiVersion"] != "extensions.higress.io/v1alpha1" || plugin["kind"] != "WasmPlugin" {
        return Err(format!(
            "not a Higress WasmPlugin: {} {}",
            plugin["apiVersion"], plugin["kind"]
        ));
    }
    let spec = &plugin["spec"];
    if !spec["pluginConfig"].is_null() {
        return Ok(Some(serde_json::to_string(&spec["pluginConfig"]).unwrap()));
    }
    let default_disabled = spec["defaultConfigDisable"] == Value::Bool(true);
    let mut config = match &spec["defaultConfig"] {
        Value::Object(map) if !default_disabled => Some(map.clone()),
        _ => None,
    };
    let mut rules = Vec::new();
    for (i, rule) in spec["matchRules"]
        .as_array()
        .into_iter()
        .flatten()
        .enumerate()
    {
        if rule["configDisable"] == Value::Bool(true) {
            continue;
        }
        let mut entry = rule["config"].as_object().cloned().unwrap_or_default();
        let mut matched = false;
        for (field, key) in [
            ("ingress", "_match_route_"),
            ("service", "_match_service_"),
            ("domain", "_match_domain_"),
        ] {
            if let Some(items) = rule[field].as_array().filter(|items| !items.is_empty()) {
                entry.insert(key.to_string(), Value::Array(items.clone()));
                matched = true;
            }
        }
        if !matched {
            return Err(format!(
                "matchRules[{i}]: no ingress, service or domain to match"
            ));
        }
        rules.push(Value::Object(entry));
    }
    if !rules.is_empty() {
        config
            .get_or_insert_with(Map::new)
            .insert("_rules_".to_string(), Value::Array(rules));
    } else if default_disabled {
        return Ok(None);
    }
    Ok(Some(config.map_or_else(String::new, |c| {
        serde_json::to_string(&Value::Object(c)).unwrap()
    })))
}
