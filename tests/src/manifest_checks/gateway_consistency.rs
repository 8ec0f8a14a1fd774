//! The Envoy Gateway and Higress scenarios' manifests against each other: every route on the
//! routing header goes to the Service of the subset it names, every subset the filter writes is
//! reachable, requests without the header reach the stable subset, and the filter covers the
//! routed hosts.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use crate::manifest_checks::plugin_configs;
use crate::manifests::{load_dir, unserved_ports, Manifest};
use crate::repo_root;

/// The Deployments both scenarios route to.
const APP: &str = "examples/servicea/app.yaml";

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
pub fn inconsistencies(all: &[Manifest]) -> Vec<String> {
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

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::manifest_checks::{gateway_manifests, ENVOY_GATEWAY, HIGRESS};

    fn edited(dir: &str, kind: &str, change: &dyn Fn(&mut Value)) -> Vec<String> {
        let mut all = gateway_manifests(dir);
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
                format!(
                    "{ROUTE} rules[0]: x-canary-subset: v2 goes to service-a-v1, which serves v1"
                ),
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
            let mut all = gateway_manifests(HIGRESS);
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
}
