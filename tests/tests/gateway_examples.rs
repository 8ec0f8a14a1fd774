//! The Envoy Gateway and Higress examples (examples/envoy-gateway, examples/higress) are valid:
//! against those projects' own CRD schemas (and Gateway API's), the plugin configuration each
//! gateway derives against the filter's own validation, and the manifests against each other:
//! every route on the routing header goes to the Service of the subset it names, every subset the
//! filter writes is reachable, requests without the header reach the stable subset, and the
//! filter covers the routed hosts. The negative tests prove each check rejects a typo.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::{BTreeMap, BTreeSet};
use std::fs;

use serde_json::{json, Value};
use sticky_canary_e2e::gateways::{envoy_gateway_configs, higress_plugin_config};
use sticky_canary_e2e::manifests::{
    json_patch, load_dir, readme_patches, unserved_ports, Manifest,
};
use sticky_canary_e2e::repo_root;
use sticky_canary_e2e::schema::{core_schemas, crd_schemas, validate_manifest, KindSchema};

const ENVOY_GATEWAY: &str = "examples/envoy-gateway";
const HIGRESS: &str = "examples/higress";
/// The Deployments both scenarios route to.
const APP: &str = "examples/servicea/app.yaml";

fn schemas() -> Vec<KindSchema> {
    let read = |f: &str| fs::read_to_string(repo_root().join("tests/schemas").join(f)).unwrap();
    let mut all = crd_schemas(&read("gateway-api-crds.yaml"));
    all.extend(crd_schemas(&read("envoy-gateway-crds.yaml")));
    all.extend(crd_schemas(&read("higress-crds.yaml")));
    all.extend(core_schemas(&read("kubernetes-core.yaml")));
    all
}

fn manifests(dir: &str) -> Vec<Manifest> {
    load_dir(&repo_root(), dir)
}

/// The plugin configurations a manifest hands the filter, each with a label for messages.
fn plugin_configs(manifest: &Value) -> Option<Result<Vec<(String, String)>, String>> {
    match (manifest["apiVersion"].as_str()?, manifest["kind"].as_str()?) {
        ("gateway.envoyproxy.io/v1alpha1", "EnvoyExtensionPolicy") => {
            Some(envoy_gateway_configs(manifest).map(|configs| {
                configs
                    .into_iter()
                    .map(|(name, c)| (format!("wasm {name} config"), c))
                    .collect()
            }))
        }
        ("extensions.higress.io/v1alpha1", "WasmPlugin") => Some(
            higress_plugin_config(manifest)
                .map(|c| c.into_iter().map(|c| ("pluginConfig".into(), c)).collect()),
        ),
        _ => None,
    }
}

/// Errors of one manifest: schema, and for plugins the filter's own config validation.
fn manifest_errors(schemas: &[KindSchema], manifest: &Value) -> Vec<String> {
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

fn kinds(all: &[Manifest]) -> Vec<String> {
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

#[test]
fn every_gateway_example_is_valid_against_its_projects_schema_and_the_filters_validation() {
    let schemas = schemas();
    for (dir, expected) in [
        (
            ENVOY_GATEWAY,
            &[
                "gateway.envoyproxy.io/v1alpha1 EnvoyExtensionPolicy",
                "gateway.networking.k8s.io/v1 Gateway",
                "gateway.networking.k8s.io/v1 GatewayClass",
                "gateway.networking.k8s.io/v1 HTTPRoute",
                "v1 Service",
            ][..],
        ),
        (
            HIGRESS,
            &[
                "extensions.higress.io/v1alpha1 WasmPlugin",
                "networking.k8s.io/v1 Ingress",
                "v1 Service",
            ][..],
        ),
    ] {
        let all = manifests(dir);
        let failures: Vec<String> = all
            .iter()
            .flat_map(|m| {
                manifest_errors(&schemas, &m.value)
                    .into_iter()
                    .map(move |e| format!("{}: {e}", m.label()))
            })
            .collect();
        assert!(failures.is_empty(), "{}", failures.join("\n"));
        assert_eq!(kinds(&all), expected, "{dir}");
    }
}

// ---- negative tests: the validator rejects what the API server (or the filter) would ----

fn document(dir: &str, kind: &str) -> Value {
    manifests(dir)
        .into_iter()
        .find(|m| m.kind() == kind)
        .unwrap_or_else(|| panic!("no {kind} in {dir}"))
        .value
}

fn errors_after(mut manifest: Value, edit: impl FnOnce(&mut Value)) -> Vec<String> {
    let schemas = schemas();
    assert_eq!(
        manifest_errors(&schemas, &manifest),
        Vec::<String>::new(),
        "the unedited manifest must be valid"
    );
    edit(&mut manifest);
    manifest_errors(&schemas, &manifest)
}

#[test]
fn a_typo_in_an_envoy_gateway_or_gateway_api_manifest_is_rejected_with_its_path() {
    let policy = document(ENVOY_GATEWAY, "EnvoyExtensionPolicy");
    let errors = errors_after(policy.clone(), |m| {
        let root = m["spec"]["wasm"][0].as_object_mut().unwrap();
        let id = root.remove("rootID").unwrap();
        root.insert("rootId".into(), id);
    });
    assert_eq!(errors, [r#"spec.wasm[0].rootId: unknown field "rootId""#]);
    let errors = errors_after(policy.clone(), |m| {
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
    let errors = errors_after(policy, |m| {
        m["spec"]["wasm"][0]["failOpen"] = json!("true");
    });
    assert_eq!(
        errors,
        [r#"spec.wasm[0].failOpen: must be of type boolean, got string "true""#]
    );

    let route = document(ENVOY_GATEWAY, "HTTPRoute");
    let errors = errors_after(route.clone(), |m| {
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
    let errors = errors_after(route, |m| {
        m["spec"]["rules"][0]["matches"][0]["headers"][0]["type"] = json!("Exakt");
    });
    assert_eq!(
        errors,
        [
            r#"spec.rules[0].matches[0].headers[0].type: "Exakt" is not one of ["Exact", "RegularExpression"]"#
        ]
    );
    let errors = errors_after(document(ENVOY_GATEWAY, "Gateway"), |m| {
        m["spec"]["listeners"][0]["port"] = json!(70000);
    });
    assert_eq!(
        errors,
        ["spec.listeners[0].port: 70000 is above the maximum 65535"]
    );
}

#[test]
fn a_typo_in_a_higress_manifest_is_rejected_with_its_path() {
    let plugin = document(HIGRESS, "WasmPlugin");
    let errors = errors_after(plugin.clone(), |m| {
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
    let errors = errors_after(plugin, |m| {
        m["spec"]["phase"] = json!("ROUTING");
    });
    assert_eq!(
        errors,
        [r#"spec.phase: "ROUTING" is not one of ["UNSPECIFIED_PHASE", "AUTHN", "AUTHZ", "STATS"]"#]
    );
    let errors = errors_after(document(HIGRESS, "Ingress"), |m| {
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
    let errors = errors_after(document(ENVOY_GATEWAY, "EnvoyExtensionPolicy"), |m| {
        weights(&mut m["spec"]["wasm"][0]["config"]);
    });
    assert_eq!(errors, [format!("wasm sticky-canary config: {expected}")]);
    let errors = errors_after(document(HIGRESS, "WasmPlugin"), |m| {
        weights(&mut m["spec"]["defaultConfig"]);
    });
    assert_eq!(errors, [format!("pluginConfig: {expected}")]);
}

#[test]
fn higress_match_rules_add_a_key_the_filter_refuses() {
    // Why the example scopes the filter with routes[].match.hosts instead of matchRules.
    let errors = errors_after(document(HIGRESS, "WasmPlugin"), |m| {
        m["spec"]["matchRules"] = json!([{"domain": ["servicea.com"], "config": {}}]);
    });
    assert_eq!(
        errors,
        ["pluginConfig: _rules_: unknown field `_rules_`, expected one of `routingHeader`, `exposeSubset`, `tokenHeader`, `routes`, `reasonHeader` at line 1 column 10"]
    );
    // pluginConfig, when set, wins over defaultConfig and matchRules, as in Higress.
    let mut plugin = document(HIGRESS, "WasmPlugin");
    plugin["spec"]["pluginConfig"] = plugin["spec"]["defaultConfig"].clone();
    plugin["spec"]["matchRules"] = json!([{"domain": ["servicea.com"], "config": {}}]);
    assert_eq!(manifest_errors(&schemas(), &plugin), Vec::<String>::new());
}

// ---- the manifests agree with each other ----

/// One way a request for `host` reaches backends: with `header` set to a value, or by default.
struct Route {
    label: String,
    namespace: String,
    host: String,
    header: Option<(String, String)>,
    /// (Service name, port)
    backends: Vec<(String, u64)>,
}

/// The routes of an HTTPRoute; every HTTPRoute must hang off a Gateway of the directory that
/// serves its hostnames, of a GatewayClass of the directory.
fn gateway_api_routes(all: &[Manifest], out: &mut Vec<String>) -> Vec<Route> {
    let of = |kind: &'static str| all.iter().filter(move |m| m.kind() == kind);
    for gateway in of("Gateway") {
        let class = &gateway.value["spec"]["gatewayClassName"];
        if !of("GatewayClass").any(|c| &c.value["metadata"]["name"] == class) {
            out.push(format!("{}: no GatewayClass {class}", gateway.label()));
        }
    }
    let mut routes = Vec::new();
    for route in of("HTTPRoute") {
        let hostnames: Vec<&str> = route.value["spec"]["hostnames"]
            .as_array()
            .unwrap()
            .iter()
            .map(|h| h.as_str().unwrap())
            .collect();
        for parent in route.value["spec"]["parentRefs"].as_array().unwrap() {
            let namespace = parent["namespace"].as_str().unwrap_or(route.namespace());
            let Some(gateway) = of("Gateway").find(|g| {
                g.value["metadata"]["name"] == parent["name"] && g.namespace() == namespace
            }) else {
                out.push(format!("{}: no Gateway {}", route.label(), parent["name"]));
                continue;
            };
            for host in &hostnames {
                let served = gateway.value["spec"]["listeners"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|l| l["hostname"].is_null() || l["hostname"] == *host);
                if !served {
                    out.push(format!(
                        "{}: host {host} is served by no listener of Gateway {}",
                        route.label(),
                        gateway.name()
                    ));
                }
            }
        }
        for (i, rule) in route.value["spec"]["rules"]
            .as_array()
            .unwrap()
            .iter()
            .enumerate()
        {
            let backends: Vec<(String, u64)> = rule["backendRefs"]
                .as_array()
                .unwrap()
                .iter()
                .map(|b| {
                    (
                        b["name"].as_str().unwrap().to_string(),
                        b["port"].as_u64().unwrap(),
                    )
                })
                .collect();
            for condition in rule["matches"].as_array().unwrap() {
                let headers = condition["headers"].as_array().cloned().unwrap_or_default();
                let header = match headers.as_slice() {
                    [] => None,
                    [h] if h["type"].as_str().unwrap_or("Exact") == "Exact" => Some((
                        h["name"].as_str().unwrap().to_ascii_lowercase(),
                        h["value"].as_str().unwrap().to_string(),
                    )),
                    _ => {
                        out.push(format!(
                            "{} rules[{i}]: not one exact header match",
                            route.label()
                        ));
                        continue;
                    }
                };
                for host in &hostnames {
                    routes.push(Route {
                        label: format!("{} rules[{i}]", route.label()),
                        namespace: route.namespace().to_string(),
                        host: host.to_string(),
                        header: header.clone(),
                        backends: backends.clone(),
                    });
                }
            }
        }
    }
    routes
}

/// The routes of Higress Ingresses: the main Ingress routes by default, a canary Ingress (Higress's
/// `canary-by-header` + `canary-by-header-value` annotations) on the header.
fn higress_routes(all: &[Manifest], out: &mut Vec<String>) -> Vec<Route> {
    let mut routes = Vec::new();
    for ingress in all.iter().filter(|m| m.kind() == "Ingress") {
        if ingress.value["spec"]["ingressClassName"] != "higress" {
            out.push(format!(
                "{}: ingressClassName is not higress",
                ingress.label()
            ));
        }
        let annotation = |name: &str| {
            ingress.value["metadata"]["annotations"][format!("higress.io/{name}")].as_str()
        };
        let header = match annotation("canary") {
            None => None,
            Some("true") => match (
                annotation("canary-by-header"),
                annotation("canary-by-header-value"),
            ) {
                (Some(name), Some(value)) => Some((name.to_ascii_lowercase(), value.to_string())),
                _ => {
                    out.push(format!(
                        "{}: a canary without canary-by-header and canary-by-header-value",
                        ingress.label()
                    ));
                    continue;
                }
            },
            Some(other) => {
                out.push(format!(
                    "{}: higress.io/canary is {other:?}",
                    ingress.label()
                ));
                continue;
            }
        };
        for rule in ingress.value["spec"]["rules"].as_array().unwrap() {
            for path in rule["http"]["paths"].as_array().unwrap() {
                let service = &path["backend"]["service"];
                routes.push(Route {
                    label: ingress.label(),
                    namespace: ingress.namespace().to_string(),
                    host: rule["host"].as_str().unwrap().to_string(),
                    header: header.clone(),
                    backends: vec![(
                        service["name"].as_str().unwrap().to_string(),
                        service["port"]["number"].as_u64().unwrap(),
                    )],
                });
            }
        }
    }
    routes
}

/// What the filter of a plugin manifest writes: routing header, and per host the subsets in
/// order (the first is the stable one).
struct Written {
    header: String,
    subsets: BTreeMap<String, Vec<String>>,
}

fn written(all: &[Manifest]) -> Vec<Written> {
    let mut out = Vec::new();
    for m in all {
        let Some(configs) = plugin_configs(&m.value) else {
            continue;
        };
        for (_, json) in configs.unwrap() {
            let config: Value = serde_json::from_str(&json).unwrap();
            let mut subsets = BTreeMap::new();
            for route in config["routes"].as_array().unwrap() {
                let names: Vec<String> = route["subsets"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|s| s["name"].as_str().unwrap().to_string())
                    .collect();
                for host in route["match"]["hosts"].as_array().unwrap() {
                    subsets.insert(host.as_str().unwrap().to_string(), names.clone());
                }
            }
            out.push(Written {
                header: config["routingHeader"]
                    .as_str()
                    .unwrap_or("x-canary-subset")
                    .to_string(),
                subsets,
            });
        }
    }
    out
}

/// The subset a Service serves: the `version` its selector picks, once it selects a Deployment
/// of servicea/app.yaml whose container has the target port.
fn service_subset(
    service: &Manifest,
    deployments: &[Manifest],
    out: &mut Vec<String>,
) -> Option<String> {
    let selector = service.value["spec"]["selector"].as_object().unwrap();
    let selected: Vec<&Manifest> = deployments
        .iter()
        .filter(|d| d.namespace() == service.namespace())
        .filter(|d| {
            let labels = &d.value["spec"]["template"]["metadata"]["labels"];
            selector.iter().all(|(k, v)| &labels[k] == v)
        })
        .collect();
    if selected.is_empty() {
        out.push(format!(
            "{}: selects no Deployment of {APP}",
            service.label()
        ));
        return None;
    }
    out.extend(unserved_ports(service, &selected));
    match selector.get("version").and_then(Value::as_str) {
        Some(version) => Some(version.to_string()),
        None => {
            out.push(format!("{}: selects no single version", service.label()));
            None
        }
    }
}

/// Cross-manifest checks of one gateway's directory; returns every inconsistency found.
fn inconsistencies(all: &[Manifest]) -> Vec<String> {
    let mut out = Vec::new();
    let deployments: Vec<Manifest> = load_dir(&repo_root(), "examples/servicea")
        .into_iter()
        .filter(|m| m.file.as_path() == std::path::Path::new(APP) && m.kind() == "Deployment")
        .collect();
    let services: Vec<&Manifest> = all.iter().filter(|m| m.kind() == "Service").collect();
    let subset_of: BTreeMap<(String, String), (Option<String>, &Manifest)> = services
        .iter()
        .map(|s| {
            let subset = service_subset(s, &deployments, &mut out);
            (
                (s.namespace().to_string(), s.name().to_string()),
                (subset, *s),
            )
        })
        .collect();

    let mut routes = gateway_api_routes(all, &mut out);
    routes.extend(higress_routes(all, &mut out));
    for policy in all.iter().filter(|m| m.kind() == "EnvoyExtensionPolicy") {
        for target in policy.value["spec"]["targetRefs"].as_array().unwrap() {
            let found = all.iter().any(|m| {
                m.kind() == target["kind"]
                    && m.value["metadata"]["name"] == target["name"]
                    && m.namespace() == policy.namespace()
            });
            if !found {
                out.push(format!(
                    "{}: no {} {} to attach to",
                    policy.label(),
                    target["kind"],
                    target["name"]
                ));
            }
        }
    }

    let plugins = written(all);
    if plugins.is_empty() {
        out.push("no plugin".to_string());
    }
    for plugin in &plugins {
        for (host, subsets) in &plugin.subsets {
            let for_host: Vec<&Route> = routes.iter().filter(|r| &r.host == host).collect();
            if for_host.is_empty() {
                out.push(format!("the filter splits {host}, which no route serves"));
                continue;
            }
            // The subset each route sends to, from the `version` of its backends.
            let mut reached = BTreeSet::new();
            let mut default = None;
            for route in &for_host {
                for (name, port) in &route.backends {
                    let Some((subset, service)) =
                        subset_of.get(&(route.namespace.clone(), name.clone()))
                    else {
                        out.push(format!("{}: backend {name} is no Service", route.label));
                        continue;
                    };
                    if !service.value["spec"]["ports"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .any(|p| p["port"] == *port)
                    {
                        out.push(format!(
                            "{}: backend {name} has no port {port}",
                            route.label
                        ));
                    }
                    let Some(subset) = subset else { continue };
                    match &route.header {
                        Some((header, value)) if *header == plugin.header => {
                            if !subsets.contains(value) {
                                out.push(format!("{}: matches {header}: {value}, which the filter never writes for {host}", route.label));
                            } else if value != subset {
                                out.push(format!(
                                    "{}: {header}: {value} goes to {name}, which serves {subset}",
                                    route.label
                                ));
                            } else {
                                reached.insert(subset.clone());
                            }
                        }
                        Some((header, _)) => out.push(format!(
                            "{}: matches {header}, not the routing header {}",
                            route.label, plugin.header
                        )),
                        None => default = Some(subset.clone()),
                    }
                }
            }
            match &default {
                None => out.push(format!(
                    "no route takes requests for {host} without {}",
                    plugin.header
                )),
                Some(d) if Some(d) != subsets.first() => out.push(format!(
                    "requests for {host} without {} go to {d}, not the stable subset {}",
                    plugin.header,
                    subsets.first().unwrap()
                )),
                Some(d) => {
                    reached.insert(d.clone());
                }
            }
            for subset in subsets {
                if !reached.contains(subset) {
                    out.push(format!(
                        "no route sends {}: {subset} of {host} to {subset}",
                        plugin.header
                    ));
                }
            }
        }
    }
    for route in &routes {
        if !plugins.iter().any(|p| p.subsets.contains_key(&route.host)) {
            out.push(format!(
                "{}: host {} is not split by the filter",
                route.label, route.host
            ));
        }
    }
    out
}

#[test]
fn the_gateway_examples_agree_with_each_other() {
    for dir in [ENVOY_GATEWAY, HIGRESS] {
        let problems = inconsistencies(&manifests(dir));
        assert!(problems.is_empty(), "{dir}:\n{}", problems.join("\n"));
    }
}

fn edited(dir: &str, kind: &str, change: &dyn Fn(&mut Value)) -> Vec<String> {
    let mut all = manifests(dir);
    let target = all.iter_mut().find(|m| m.kind() == kind).unwrap();
    change(&mut target.value);
    inconsistencies(&all)
}

#[test]
fn a_typo_across_the_envoy_gateway_manifests_is_caught() {
    const ROUTE: &str = "examples/envoy-gateway/httproute.yaml HTTPRoute/service-a";
    assert_eq!(
        edited(ENVOY_GATEWAY, "HTTPRoute", &|m| {
            m["spec"]["rules"][0]["matches"][0]["headers"][0]["value"] = json!("V2");
        }),
        [
            format!("{ROUTE} rules[0]: matches x-canary-subset: V2, which the filter never writes for servicea.com"),
            "no route sends x-canary-subset: v2 of servicea.com to v2".to_string(),
        ]
    );
    assert_eq!(
        edited(ENVOY_GATEWAY, "HTTPRoute", &|m| {
            m["spec"]["rules"][0]["backendRefs"][0]["name"] = json!("service-a-v1");
        }),
        [
            format!("{ROUTE} rules[0]: x-canary-subset: v2 goes to service-a-v1, which serves v1"),
            "no route sends x-canary-subset: v2 of servicea.com to v2".to_string(),
        ]
    );
    assert_eq!(
        edited(ENVOY_GATEWAY, "HTTPRoute", &|m| {
            m["spec"]["rules"].as_array_mut().unwrap().pop();
        }),
        ["no route takes requests for servicea.com without x-canary-subset"]
    );
    assert_eq!(
        edited(ENVOY_GATEWAY, "EnvoyExtensionPolicy", &|m| {
            m["spec"]["wasm"][0]["config"]["routingHeader"] = json!("x-canary-subst");
        }),
        [
            format!(
                "{ROUTE} rules[0]: matches x-canary-subset, not the routing header x-canary-subst"
            ),
            format!(
                "{ROUTE} rules[1]: matches x-canary-subset, not the routing header x-canary-subst"
            ),
            "no route sends x-canary-subst: v2 of servicea.com to v2".to_string(),
        ]
    );
    assert_eq!(
        edited(ENVOY_GATEWAY, "EnvoyExtensionPolicy", &|m| {
            m["spec"]["targetRefs"][0]["name"] = json!("servicea");
        }),
        [
            r#"examples/envoy-gateway/envoyextensionpolicy.yaml EnvoyExtensionPolicy/sticky-canary: no "HTTPRoute" "servicea" to attach to"#
        ]
    );
    assert_eq!(
        edited(ENVOY_GATEWAY, "Service", &|m| {
            m["spec"]["selector"]["version"] = json!("V1");
        }),
        [
            "examples/envoy-gateway/services.yaml Service/service-a-v1: selects no Deployment of examples/servicea/app.yaml",
            "no route takes requests for servicea.com without x-canary-subset",
            "no route sends x-canary-subset: v1 of servicea.com to v1",
        ]
    );
}

#[test]
fn a_typo_across_the_higress_manifests_is_caught() {
    let canary = |change: &dyn Fn(&mut Value)| {
        let mut all = manifests(HIGRESS);
        let target = all
            .iter_mut()
            .find(|m| m.name() == "service-a-canary")
            .unwrap();
        change(&mut target.value);
        inconsistencies(&all)
    };
    const CANARY: &str = "examples/higress/ingress.yaml Ingress/service-a-canary";
    assert_eq!(
        canary(&|m| {
            m["metadata"]["annotations"]["higress.io/canary-by-header-value"] = json!("canary");
        }),
        [
            format!("{CANARY}: matches x-canary-subset: canary, which the filter never writes for servicea.com"),
            "no route sends x-canary-subset: v2 of servicea.com to v2".to_string(),
        ]
    );
    assert_eq!(
        canary(&|m| {
            m["metadata"]["annotations"]["higress.io/canary-by-header"] = json!("x-canary");
        }),
        [
            format!("{CANARY}: matches x-canary, not the routing header x-canary-subset"),
            "no route sends x-canary-subset: v2 of servicea.com to v2".to_string(),
        ]
    );
    assert_eq!(
        canary(&|m| {
            m["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"]["port"]["number"] =
                json!(80);
        }),
        [format!("{CANARY}: backend service-a-v2 has no port 80")]
    );
    assert_eq!(
        edited(HIGRESS, "WasmPlugin", &|m| {
            m["spec"]["defaultConfig"]["routes"][0]["match"]["hosts"] = json!(["service-a.com"]);
        }),
        [
            "the filter splits service-a.com, which no route serves",
            "examples/higress/ingress.yaml Ingress/service-a: host servicea.com is not split by the filter",
            "examples/higress/ingress.yaml Ingress/service-a-canary: host servicea.com is not split by the filter",
        ]
    );
}

#[test]
fn the_readme_ramp_patches_give_a_valid_10_90_split_on_both_gateways() {
    let schemas = schemas();
    for (dir, kind, readme_kind, config) in [
        (
            ENVOY_GATEWAY,
            "EnvoyExtensionPolicy",
            "envoyextensionpolicy",
            "/spec/wasm/0/config",
        ),
        (
            HIGRESS,
            "WasmPlugin",
            "wasmplugins.extensions.higress.io",
            "/spec/defaultConfig",
        ),
    ] {
        let patches = readme_patches(readme_kind);
        assert_eq!(
            patches.len(),
            1,
            "one {readme_kind} patch in examples/README.md"
        );
        let mut patched = document(dir, kind);
        json_patch(&mut patched, &patches[0]);
        assert_eq!(manifest_errors(&schemas, &patched), Vec::<String>::new());
        let weights: Vec<&Value> = patched
            .pointer(&format!("{config}/routes/0/subsets"))
            .unwrap()
            .as_array()
            .unwrap()
            .iter()
            .map(|s| &s["weight"])
            .collect();
        assert_eq!(weights, [&json!(10), &json!(90)], "{readme_kind}");
    }
}
