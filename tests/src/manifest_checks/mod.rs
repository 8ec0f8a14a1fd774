//! Checks of Kubernetes manifests, the way the cluster (and the filter) would judge them: each
//! manifest against its kind's schema (`crd_schema`) and, for a manifest that configures the
//! filter, that configuration against the filter's own validation; and the manifests of one
//! scenario against each other (`istio_consistency`, with `waypoint_consistency` for ambient;
//! `gateway_consistency`). The unit tests prove each check rejects what it should, on edited
//! copies of the examples.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

pub mod crd_schema;
pub mod gateway_consistency;
pub mod istio_consistency;
pub mod waypoint_consistency;

use std::collections::BTreeSet;
use std::fs;

use serde_json::Value;

use crate::gateways::{envoy_gateway_configs, higress_plugin_config};
use crate::manifests::{load_dir, Manifest};
use crate::{istio, repo_root};
use crd_schema::{core_schemas, crd_schemas, validate_manifest, KindSchema};

/// The Envoy Gateway and Higress scenarios; the rest of examples/ is Istio's.
pub const ENVOY_GATEWAY: &str = "examples/envoy-gateway";
pub const HIGRESS: &str = "examples/higress";
const OTHER_GATEWAYS: [&str; 2] = [ENVOY_GATEWAY, HIGRESS];

fn schema_file(name: &str) -> String {
    fs::read_to_string(repo_root().join("tests/schemas").join(name)).unwrap()
}

/// Istio's CRDs, Gateway API's (the waypoint and the HTTPRoute of examples/ambient) and the
/// standard Kubernetes kinds.
pub fn istio_schemas() -> Vec<KindSchema> {
    let mut all = crd_schemas(&schema_file("istio-crds.yaml"));
    all.extend(crd_schemas(&schema_file("gateway-api-crds.yaml")));
    all.extend(core_schemas(&schema_file("kubernetes-core.yaml")));
    all
}

/// Gateway API's, Envoy Gateway's and Higress's CRDs and the standard Kubernetes kinds.
pub fn gateway_schemas() -> Vec<KindSchema> {
    let mut all = crd_schemas(&schema_file("gateway-api-crds.yaml"));
    all.extend(crd_schemas(&schema_file("envoy-gateway-crds.yaml")));
    all.extend(crd_schemas(&schema_file("higress-crds.yaml")));
    all.extend(core_schemas(&schema_file("kubernetes-core.yaml")));
    all
}

/// Every manifest of the Istio scenarios.
pub fn istio_manifests() -> Vec<Manifest> {
    load_dir(&repo_root(), "examples")
        .into_iter()
        .filter(|m| !OTHER_GATEWAYS.iter().any(|dir| m.file.starts_with(dir)))
        .collect()
}

/// Every manifest of one gateway's scenario ([`ENVOY_GATEWAY`], [`HIGRESS`]).
pub fn gateway_manifests(dir: &str) -> Vec<Manifest> {
    load_dir(&repo_root(), dir)
}

/// The plugin configurations a manifest hands the filter, each with a label for messages, as
/// Istio, Envoy Gateway or Higress derive them; `None` for a manifest that configures no filter.
pub fn plugin_configs(manifest: &Value) -> Option<Result<Vec<(String, String)>, String>> {
    let group = manifest["apiVersion"].as_str()?.split('/').next()?;
    match (group, manifest["kind"].as_str()?) {
        ("extensions.istio.io", "WasmPlugin" | "TrafficExtension") => {
            Some(istio::plugin_config_json(manifest).map(|c| vec![("pluginConfig".to_string(), c)]))
        }
        ("gateway.envoyproxy.io", "EnvoyExtensionPolicy") => {
            Some(envoy_gateway_configs(manifest).map(|configs| {
                configs
                    .into_iter()
                    .map(|(name, c)| (format!("wasm {name} config"), c))
                    .collect()
            }))
        }
        ("extensions.higress.io", "WasmPlugin") => Some(
            higress_plugin_config(manifest)
                .map(|c| c.into_iter().map(|c| ("pluginConfig".into(), c)).collect()),
        ),
        _ => None,
    }
}

/// Errors of one manifest: its schema's, and the filter's own for each plugin configuration.
pub fn manifest_errors(schemas: &[KindSchema], manifest: &Value) -> Vec<String> {
    let mut errors = validate_manifest(schemas, manifest);
    match plugin_configs(manifest) {
        None => {}
        Some(Err(e)) => errors.push(e),
        Some(Ok(configs)) => {
            for (label, json) in configs {
                if let Err(e) = sticky_canary_core::Config::from_json(json.as_bytes()) {
                    errors.push(format!("{label}: {e}"));
                }
            }
        }
    }
    errors
}

/// [`manifest_errors`] of `manifest` after `edit`; the unedited manifest must have none.
pub fn errors_after(
    schemas: &[KindSchema],
    mut manifest: Value,
    edit: impl FnOnce(&mut Value),
) -> Vec<String> {
    assert_eq!(
        manifest_errors(schemas, &manifest),
        Vec::<String>::new(),
        "the unedited manifest must be valid"
    );
    edit(&mut manifest);
    manifest_errors(schemas, &manifest)
}

/// `apiVersion kind` of the manifests, each once, sorted.
pub fn kinds(all: &[Manifest]) -> Vec<String> {
    let set: BTreeSet<String> = all
        .iter()
        .map(|m| {
            format!(
                "{} {}",
                m.value["apiVersion"].as_str().unwrap_or("?"),
                m.kind()
            )
        })
        .collect();
    set.into_iter().collect()
}

/// The first document of this kind in one file of the Istio scenarios.
pub fn istio_document(file: &str, kind: &str) -> Value {
    istio_manifests()
        .into_iter()
        .find(|m| m.file.as_path() == std::path::Path::new(file) && m.kind() == kind)
        .unwrap_or_else(|| panic!("no {kind} in {file}"))
        .value
}

/// The first document of this kind in one gateway's scenario.
pub fn gateway_document(dir: &str, kind: &str) -> Value {
    gateway_manifests(dir)
        .into_iter()
        .find(|m| m.kind() == kind)
        .unwrap_or_else(|| panic!("no {kind} in {dir}"))
        .value
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::manifests::load_file;

    fn servicea(file: &str) -> Value {
        load_file(&repo_root(), &format!("examples/servicea/{file}"))
    }

    fn istio_errors_after(manifest: Value, edit: impl FnOnce(&mut Value)) -> Vec<String> {
        errors_after(&istio_schemas(), manifest, edit)
    }

    fn gateway_errors_after(manifest: Value, edit: impl FnOnce(&mut Value)) -> Vec<String> {
        errors_after(&gateway_schemas(), manifest, edit)
    }

    #[test]
    fn an_unknown_field_is_rejected_with_its_path() {
        let errors = istio_errors_after(servicea("wasmplugin.yaml"), |m| {
            let phase = m["spec"].as_object_mut().unwrap().remove("phase").unwrap();
            m["spec"]["phse"] = phase;
        });
        assert_eq!(errors, [r#"spec.phse: unknown field "phse""#]);

        let errors = istio_errors_after(servicea("destinationrule.yaml"), |m| {
            m["spec"]["trafficPolicy"]["outlierDetection"]["consecutive5xxError"] = json!(5);
        });
        assert_eq!(
            errors,
            [
                r#"spec.trafficPolicy.outlierDetection.consecutive5xxError: unknown field "consecutive5xxError""#
            ]
        );

        let errors = istio_errors_after(
            istio_document("examples/servicea/app.yaml", "Deployment"),
            |m| {
                m["spec"]["template"]["spec"]["containers"][0]["port"] = json!(7777);
            },
        );
        assert_eq!(
            errors,
            [r#"spec.template.spec.containers[0].port: unknown field "port""#]
        );
    }

    #[test]
    fn a_wrong_type_is_rejected() {
        let errors = istio_errors_after(servicea("wasmplugin.yaml"), |m| {
            m["spec"]["priority"] = json!("high");
        });
        assert_eq!(
            errors,
            [r#"spec.priority: must be of type integer, got string "high""#]
        );
        let errors = istio_errors_after(servicea("virtualservice.yaml"), |m| {
            m["spec"]["hosts"] = json!("servicea.com");
        });
        assert_eq!(
            errors,
            [r#"spec.hosts: must be of type array, got string "servicea.com""#]
        );
    }

    #[test]
    fn a_value_outside_an_enum_is_rejected() {
        let errors = istio_errors_after(servicea("wasmplugin.yaml"), |m| {
            m["spec"]["failStrategy"] = json!("FAIL_SOMETIMES");
        });
        assert_eq!(
            errors,
            [
                r#"spec.failStrategy: "FAIL_SOMETIMES" is not one of ["FAIL_CLOSE", "FAIL_OPEN", "FAIL_RELOAD"]"#
            ]
        );
        let errors = istio_errors_after(servicea("wasmplugin.yaml"), |m| {
            m["spec"]["phase"] = json!("ROUTING");
        });
        assert_eq!(
            errors,
            [
                r#"spec.phase: "ROUTING" is not one of ["UNSPECIFIED_PHASE", "AUTHN", "AUTHZ", "STATS"]"#
            ]
        );
    }

    #[test]
    fn missing_required_fields_patterns_ranges_and_exclusive_fields_are_rejected() {
        let errors = istio_errors_after(servicea("destinationrule.yaml"), |m| {
            m["spec"]["subsets"][1]
                .as_object_mut()
                .unwrap()
                .remove("name");
        });
        assert_eq!(errors, ["spec.subsets[1].name: required field missing"]);

        let errors = istio_errors_after(servicea("wasmplugin.yaml"), |m| {
            m["spec"]["sha256"] = json!("not-a-digest");
        });
        assert_eq!(
            errors,
            [r#"spec.sha256: "not-a-digest" does not match pattern "(^$|^[a-f0-9]{64}$)""#]
        );

        let errors = istio_errors_after(
            load_file(&repo_root(), "examples/sidecar/wasmplugin.yaml"),
            |m| m["spec"]["match"][0]["ports"] = json!([{"number": 70000}]),
        );
        assert_eq!(
            errors,
            ["spec.match[0].ports[0].number: 70000 is above the maximum 65535"]
        );

        let errors = istio_errors_after(
            load_file(
                &repo_root(),
                "examples/servicea/trafficextension/trafficextension.yaml",
            ),
            |m| m["spec"]["lua"] = json!({"inlineCode": "function envoy_on_request(h) end"}),
        );
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert!(
            errors[0].starts_with("spec: must match exactly one of 3 alternatives"),
            "{errors:?}"
        );

        let errors = istio_errors_after(servicea("wasmplugin.yaml"), |m| {
            m["metadata"]["name"] = json!("Sticky_Canary");
        });
        assert_eq!(
            errors,
            [r#"metadata.name: "Sticky_Canary" is not a DNS-1123 subdomain"#]
        );
    }

    #[test]
    fn a_bad_plugin_config_is_rejected_by_the_filters_own_validation() {
        let errors = istio_errors_after(servicea("wasmplugin.yaml"), |m| {
            m["spec"]["pluginConfig"]["routes"][0]["subsets"][1]["weight"] = json!(60);
        });
        assert_eq!(
            errors,
            ["pluginConfig: routes[0].subsets: weights must sum to 100, got 110 (v1=50, v2=60)"]
        );
        let errors = istio_errors_after(servicea("wasmplugin.yaml"), |m| {
            let keys = m["spec"]["pluginConfig"]["routes"][0]["stickiness"]
                .as_object_mut()
                .unwrap();
            let salt = keys.remove("salt").unwrap();
            keys.insert("slat".into(), salt);
        });
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert!(
            errors[0].starts_with("pluginConfig: routes[0].stickiness")
                && errors[0].contains("slat"),
            "{errors:?}"
        );
    }

    #[test]
    fn an_unknown_kind_or_version_is_rejected() {
        let errors = istio_errors_after(servicea("wasmplugin.yaml"), |m| {
            m["apiVersion"] = json!("extensions.istio.io/v1");
        });
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert!(errors[0].starts_with(
            r#"apiVersion/kind: no schema for "extensions.istio.io/v1" "WasmPlugin""#
        ));
    }

    #[test]
    fn a_typo_in_an_ambient_manifest_is_rejected_by_the_gateway_api_schema() {
        let route = || load_file(&repo_root(), "examples/ambient/httproute.yaml");
        let errors = istio_errors_after(route(), |m| {
            let rule = m["spec"]["rules"][0].as_object_mut().unwrap();
            let refs = rule.remove("backendRefs").unwrap();
            rule.insert("backendRef".into(), refs);
        });
        assert_eq!(
            errors,
            [r#"spec.rules[0].backendRef: unknown field "backendRef""#]
        );
        let errors = istio_errors_after(route(), |m| {
            m["spec"]["parentRefs"][0]["kind"] = json!("Service/v1");
        });
        assert_eq!(
            errors,
            [
                r#"spec.parentRefs[0].kind: "Service/v1" does not match pattern "^[a-zA-Z]([-a-zA-Z0-9]*[a-zA-Z0-9])?$""#
            ]
        );
        let errors = istio_errors_after(
            load_file(&repo_root(), "examples/ambient/waypoint.yaml"),
            |m| m["spec"]["listeners"][0]["port"] = json!(0),
        );
        assert_eq!(errors, ["spec.listeners[0].port: 0 is below the minimum 1"]);
    }

    #[test]
    fn a_typo_in_an_envoy_gateway_or_gateway_api_manifest_is_rejected_with_its_path() {
        let policy = gateway_document(ENVOY_GATEWAY, "EnvoyExtensionPolicy");
        let errors = gateway_errors_after(policy.clone(), |m| {
            let root = m["spec"]["wasm"][0].as_object_mut().unwrap();
            let id = root.remove("rootID").unwrap();
            root.insert("rootId".into(), id);
        });
        assert_eq!(errors, [r#"spec.wasm[0].rootId: unknown field "rootId""#]);
        let errors = gateway_errors_after(policy.clone(), |m| {
            m["spec"]["wasm"][0]["code"]["type"] = json!("OCI");
        });
        // Both halves of the CRD's allOf reject it.
        assert_eq!(
            errors,
            [
                r#"spec.wasm[0].code.type: "OCI" is not one of ["HTTP", "Image"]"#,
                r#"spec.wasm[0].code.type: "OCI" is not one of ["HTTP", "Image", "ConfigMap"]"#,
            ]
        );
        let errors = gateway_errors_after(policy, |m| {
            m["spec"]["wasm"][0]["failOpen"] = json!("true");
        });
        assert_eq!(
            errors,
            [r#"spec.wasm[0].failOpen: must be of type boolean, got string "true""#]
        );

        let route = gateway_document(ENVOY_GATEWAY, "HTTPRoute");
        let errors = gateway_errors_after(route.clone(), |m| {
            m["spec"]["rules"][0]["matches"][0]["header"] =
                m["spec"]["rules"][0]["matches"][0]["headers"].take();
            m["spec"]["rules"][0]["matches"][0]
                .as_object_mut()
                .unwrap()
                .remove("headers");
        });
        assert_eq!(
            errors,
            [r#"spec.rules[0].matches[0].header: unknown field "header""#]
        );
        let errors = gateway_errors_after(route, |m| {
            m["spec"]["rules"][0]["matches"][0]["headers"][0]["type"] = json!("Exakt");
        });
        assert_eq!(
            errors,
            [
                r#"spec.rules[0].matches[0].headers[0].type: "Exakt" is not one of ["Exact", "RegularExpression"]"#
            ]
        );
        let errors = gateway_errors_after(gateway_document(ENVOY_GATEWAY, "Gateway"), |m| {
            m["spec"]["listeners"][0]["port"] = json!(70000);
        });
        assert_eq!(
            errors,
            ["spec.listeners[0].port: 70000 is above the maximum 65535"]
        );
    }

    #[test]
    fn a_typo_in_a_higress_manifest_is_rejected_with_its_path() {
        let plugin = gateway_document(HIGRESS, "WasmPlugin");
        let errors = gateway_errors_after(plugin.clone(), |m| {
            let spec = m["spec"].as_object_mut().unwrap();
            let config = spec.remove("defaultConfig").unwrap();
            spec.insert("defaultConfigs".into(), config);
        });
        // Without defaultConfig Higress hands the filter an empty configuration, which it refuses.
        assert_eq!(
            errors,
            [
                r#"spec.defaultConfigs: unknown field "defaultConfigs""#,
                "pluginConfig: pluginConfig is empty: at least `routes` is required",
            ]
        );
        let errors = gateway_errors_after(plugin, |m| {
            m["spec"]["phase"] = json!("ROUTING");
        });
        assert_eq!(
            errors,
            [
                r#"spec.phase: "ROUTING" is not one of ["UNSPECIFIED_PHASE", "AUTHN", "AUTHZ", "STATS"]"#
            ]
        );
        let errors = gateway_errors_after(gateway_document(HIGRESS, "Ingress"), |m| {
            m["spec"]["rules"][0]["http"]["paths"][0]["pathType"] = json!("PathPrefix");
        });
        assert_eq!(
            errors,
            [
                r#"spec.rules[0].http.paths[0].pathType: "PathPrefix" is not one of ["Exact", "Prefix", "ImplementationSpecific"]"#
            ]
        );
    }

    #[test]
    fn a_bad_plugin_config_is_rejected_by_the_filters_own_validation_on_both_gateways() {
        let weights = |config: &mut Value| {
            config["routes"][0]["subsets"][1]["weight"] = json!(60);
        };
        let expected = "routes[0].subsets: weights must sum to 100, got 110 (v1=50, v2=60)";
        let errors = gateway_errors_after(
            gateway_document(ENVOY_GATEWAY, "EnvoyExtensionPolicy"),
            |m| {
                weights(&mut m["spec"]["wasm"][0]["config"]);
            },
        );
        assert_eq!(errors, [format!("wasm sticky-canary config: {expected}")]);
        let errors = gateway_errors_after(gateway_document(HIGRESS, "WasmPlugin"), |m| {
            weights(&mut m["spec"]["defaultConfig"]);
        });
        assert_eq!(errors, [format!("pluginConfig: {expected}")]);
    }

    #[test]
    fn higress_match_rules_add_a_key_the_filter_refuses() {
        // Why the example scopes the filter with routes[].match.hosts instead of matchRules.
        let errors = gateway_errors_after(gateway_document(HIGRESS, "WasmPlugin"), |m| {
            m["spec"]["matchRules"] = json!([{"domain": ["servicea.com"], "config": {}}]);
        });
        assert_eq!(
            errors,
            ["pluginConfig: _rules_: unknown field `_rules_`, expected one of `routingHeader`, `exposeSubset`, `tokenHeader`, `routes`, `reasonHeader` at line 1 column 10"]
        );
        // pluginConfig, when set, wins over defaultConfig and matchRules, as in Higress.
        let mut plugin = gateway_document(HIGRESS, "WasmPlugin");
        plugin["spec"]["pluginConfig"] = plugin["spec"]["defaultConfig"].clone();
        plugin["spec"]["matchRules"] = json!([{"domain": ["servicea.com"], "config": {}}]);
        assert_eq!(
            manifest_errors(&gateway_schemas(), &plugin),
            Vec::<String>::new()
        );
    }
}
