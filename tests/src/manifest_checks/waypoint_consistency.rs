//! The ambient scenario's manifests against each other: each waypoint is one, the namespaces and
//! Services bound to it are in ambient mode, each plugin with `targetRefs` attaches to a waypoint
//! in its own namespace, and the HTTPRoutes behind it send every subset the plugin writes to the
//! Service of that version. On a waypoint, routing is Gateway API's, not Istio's subsets: the
//! sidecar checks in `istio_consistency` leave these manifests to this one.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeSet;

use serde_json::Value;

use super::istio_consistency::{is_plugin, of_kind, settings};
use crate::manifests::Manifest;
use crate::waypoint;

const WAYPOINT_CLASS: &str = "istio-waypoint";
const USE_WAYPOINT: &str = "istio.io/use-waypoint";

/// A Gateway API resource (a waypoint `Gateway`), not one of Istio's `networking.istio.io`.
pub(super) fn is_gateway_api(m: &Manifest) -> bool {
    m.value["apiVersion"]
        .as_str()
        .is_some_and(|v| v.starts_with("gateway.networking.k8s.io/"))
}

/// A plugin's targetRefs, the deprecated singular `targetRef` included (as Istio merges them).
pub(super) fn target_refs(plugin: &Manifest) -> Vec<Value> {
    match (
        plugin.value["spec"]["targetRefs"].as_array(),
        &plugin.value["spec"]["targetRef"],
    ) {
        (Some(refs), _) if !refs.is_empty() => refs.clone(),
        (_, Value::Null) => Vec::new(),
        (_, target) => vec![target.clone()],
    }
}

/// The waypoint a Service uses: `istio.io/use-waypoint` on the Service, else on its Namespace, as
/// Istio reads it (`none` opts out).
fn waypoint_of(service: &Manifest, namespaces: &[&Manifest]) -> Option<String> {
    let on_namespace = namespaces
        .iter()
        .find(|n| n.name() == service.namespace())
        .and_then(|n| n.value["metadata"]["labels"][USE_WAYPOINT].as_str());
    match service.value["metadata"]["labels"][USE_WAYPOINT]
        .as_str()
        .or(on_namespace)
    {
        None | Some("none") => None,
        Some(name) => Some(name.to_string()),
    }
}

/// Every host the routes of a plugin match.
fn plugin_hosts(plugin: &Manifest) -> Vec<String> {
    settings(plugin)["pluginConfig"]["routes"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|r| r["match"]["hosts"].as_array().cloned().unwrap_or_default())
        .filter_map(|h| h.as_str().map(str::to_string))
        .collect()
}

/// The names a client in the mesh may call a Service by (the port is not part of a host match).
fn service_hosts(service: &Manifest) -> [String; 4] {
    let (name, ns) = (service.name(), service.namespace());
    [
        name.to_string(),
        format!("{name}.{ns}"),
        format!("{name}.{ns}.svc"),
        format!("{name}.{ns}.svc.cluster.local"),
    ]
}

/// Cross-checks of the ambient manifests: each waypoint is one, each namespace bound to one is in
/// ambient mode, each plugin with targetRefs attaches to a waypoint (through it or through a
/// Service that uses it) in its own namespace, and for each Service it runs for, its route covers
/// the Service's names and an HTTPRoute on the Service sends every subset it writes to the
/// Service of that version and requests without the header to the stable one.
pub fn inconsistencies(all: &[Manifest]) -> Vec<String> {
    let mut out = Vec::new();
    let namespaces = of_kind(all, "Namespace");
    let services = of_kind(all, "Service");
    let waypoints: Vec<&Manifest> = all
        .iter()
        .filter(|m| m.kind() == "Gateway" && is_gateway_api(m))
        .collect();
    let http_routes = of_kind(all, "HTTPRoute");
    let is_waypoint = |name: &str, ns: &str| {
        waypoints
            .iter()
            .any(|w| w.name() == name && w.namespace() == ns)
    };

    for w in &waypoints {
        if w.value["spec"]["gatewayClassName"] != WAYPOINT_CLASS {
            out.push(format!(
                "{}: gatewayClassName is not {WAYPOINT_CLASS}",
                w.label()
            ));
        }
        let hbone = w.value["spec"]["listeners"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|l| l["protocol"] == "HBONE" && l["port"] == 15008);
        if !hbone {
            out.push(format!("{}: no HBONE listener on port 15008", w.label()));
        }
    }
    for n in &namespaces {
        let labels = &n.value["metadata"]["labels"];
        if let Some(waypoint) = labels[USE_WAYPOINT].as_str() {
            if labels["istio.io/dataplane-mode"] != "ambient" {
                out.push(format!(
                    "{}: uses waypoint {waypoint} but is not in ambient mode (istio.io/dataplane-mode: ambient)",
                    n.label()
                ));
            }
            if !is_waypoint(waypoint, n.name()) {
                out.push(format!(
                    "{}: no waypoint {waypoint} in {}",
                    n.label(),
                    n.name()
                ));
            }
        }
    }

    for p in all.iter().filter(|m| is_plugin(m)) {
        let refs = target_refs(p);
        if refs.is_empty() {
            continue;
        }
        if !p.value["spec"]["selector"].is_null() {
            out.push(format!(
                "{}: only one of targetRefs or selector can be set",
                p.label()
            ));
        }
        let client_only = p.value["spec"]["match"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|m| m["mode"] == "CLIENT");
        if client_only {
            out.push(format!(
                "{}: match mode CLIENT never runs on a waypoint (it runs plugins as SERVER)",
                p.label()
            ));
        }
        let ns = p.namespace();
        let mut covered: Vec<&Manifest> = Vec::new();
        for target in &refs {
            let name = target["name"].as_str().unwrap_or_default();
            // The CRDs' rule (not checked by the schema validator: it is CEL) refuses any
            // namespace here, its own included.
            if target["namespace"].as_str().is_some_and(|t| !t.is_empty()) {
                out.push(format!(
                    "{}: targetRef {name}: namespace {}: cross namespace referencing is not currently supported",
                    p.label(),
                    target["namespace"]
                ));
                continue;
            }
            match (target["group"].as_str().unwrap_or(""), target["kind"].as_str()) {
                ("gateway.networking.k8s.io", Some("Gateway")) => {
                    if !is_waypoint(name, ns) {
                        out.push(format!("{}: no waypoint Gateway {name} in {ns}", p.label()));
                        continue;
                    }
                    // On the whole waypoint the plugin also sees Services it does not split
                    // (it removes a forged header there): only those its routes name are checked.
                    let split: Vec<&Manifest> = services
                        .iter()
                        .copied()
                        .filter(|s| {
                            s.namespace() == ns
                                && waypoint_of(s, &namespaces).as_deref() == Some(name)
                                && plugin_hosts(p)
                                    .iter()
                                    .any(|h| service_hosts(s).contains(h))
                        })
                        .collect();
                    if split.is_empty() {
                        out.push(format!(
                            "{}: splits no Service that waypoint {name} serves",
                            p.label()
                        ));
                    }
                    covered.extend(split);
                }
                ("", Some("Service")) => {
                    let Some(service) = services
                        .iter()
                        .find(|s| s.name() == name && s.namespace() == ns)
                    else {
                        out.push(format!("{}: no Service {name} in {ns}", p.label()));
                        continue;
                    };
                    match waypoint_of(service, &namespaces) {
                        Some(w) if is_waypoint(&w, ns) => covered.push(service),
                        _ => out.push(format!(
                            "{}: Service {name} uses no waypoint of {ns}: the plugin never runs",
                            p.label()
                        )),
                    }
                }
                (group, kind) => out.push(format!(
                    "{}: targetRef {group}/{} {name}: only a waypoint Gateway or a Service is checked",
                    p.label(),
                    kind.unwrap_or("?")
                )),
            }
        }
        for service in covered {
            waypoint_service_inconsistencies(p, service, &services, &http_routes, &mut out);
        }
    }

    for r in &http_routes {
        for parent in r.value["spec"]["parentRefs"]
            .as_array()
            .into_iter()
            .flatten()
        {
            let name = parent["name"].as_str().unwrap_or_default();
            let found = services.iter().any(|s| {
                waypoint::is_service_parent(parent, r.namespace(), s.name(), s.namespace())
                    && s.namespace() == r.namespace()
            });
            if !found {
                out.push(format!(
                    "{}: parent {name} is no Service (group \"\") of {}",
                    r.label(),
                    r.namespace()
                ));
            }
        }
    }
    out
}

/// What a waypoint plugin writes for one Service it runs for, against the HTTPRoutes on it.
fn waypoint_service_inconsistencies(
    plugin: &Manifest,
    service: &Manifest,
    services: &[&Manifest],
    http_routes: &[&Manifest],
    out: &mut Vec<String>,
) {
    let config = &settings(plugin)["pluginConfig"];
    let header = config["routingHeader"]
        .as_str()
        .unwrap_or("x-canary-subset")
        .to_string();
    let hosts = service_hosts(service);
    let route = config["routes"].as_array().into_iter().flatten().find(|r| {
        r["match"]["hosts"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|h| hosts.iter().any(|name| h == name.as_str()))
    });
    let Some(route) = route else {
        out.push(format!(
            "{}: no route matches Service {} by any of its names {hosts:?}",
            plugin.label(),
            service.name()
        ));
        return;
    };
    for host in &hosts {
        if !route["match"]["hosts"]
            .as_array()
            .unwrap()
            .iter()
            .any(|h| h == host.as_str())
        {
            out.push(format!(
                "{}: route {} does not match {host}, a name of Service {}",
                plugin.label(),
                route["name"],
                service.name()
            ));
        }
    }
    let subsets: Vec<&str> = route["subsets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();

    let on_service: Vec<&&Manifest> = http_routes
        .iter()
        .filter(|r| {
            r.value["spec"]["parentRefs"]
                .as_array()
                .into_iter()
                .flatten()
                .any(|p| {
                    waypoint::is_service_parent(
                        p,
                        r.namespace(),
                        service.name(),
                        service.namespace(),
                    )
                })
        })
        .collect();
    if on_service.is_empty() {
        out.push(format!("no HTTPRoute routes Service {}", service.name()));
        return;
    }
    let mut reached = BTreeSet::new();
    let mut default = None;
    for r in on_service {
        let table = match waypoint::routes(&r.value) {
            Ok(table) => table,
            Err(e) => {
                out.push(format!("{}: {e}", r.label()));
                continue;
            }
        };
        for entry in table {
            let label = format!("{} rule {}", r.label(), entry.name);
            let backend = &entry.backend;
            let Some(target) = services
                .iter()
                .find(|s| s.name() == backend.service && s.namespace() == backend.namespace)
            else {
                out.push(format!(
                    "{label}: backend {} is no Service",
                    backend.service
                ));
                continue;
            };
            let has_port = target.value["spec"]["ports"]
                .as_array()
                .unwrap()
                .iter()
                .any(|p| p["port"] == backend.port);
            if !has_port {
                out.push(format!(
                    "{label}: backend {} has no port {}",
                    backend.service, backend.port
                ));
            }
            let serves = target.value["spec"]["selector"]["version"].as_str();
            match entry.headers.as_slice() {
                [] => default = Some((label, serves.map(str::to_string))),
                [(name, value)] if *name == header => {
                    if !subsets.contains(&value.as_str()) {
                        out.push(format!(
                            "{label}: matches {header}: {value}, which the plugin never writes for {}",
                            service.name()
                        ));
                    } else if serves != Some(value.as_str()) {
                        out.push(format!(
                            "{label}: {header}: {value} goes to {}, which serves {}",
                            backend.service,
                            serves.unwrap_or("no single version")
                        ));
                    } else {
                        reached.insert(value.clone());
                    }
                }
                other => out.push(format!(
                    "{label}: matches {other:?}, not the routing header {header} alone"
                )),
            }
        }
    }
    match default {
        None => out.push(format!(
            "no route takes requests for {} without {header}",
            service.name()
        )),
        Some((label, serves)) if serves.as_deref() != subsets.first().copied() => {
            out.push(format!(
                "{label}: requests without {header} go to {}, not the stable subset {}",
                serves.as_deref().unwrap_or("no single version"),
                subsets.first().unwrap_or(&"?")
            ))
        }
        Some((_, serves)) => {
            reached.extend(serves);
        }
    }
    for subset in subsets {
        if !reached.contains(subset) {
            out.push(format!(
                "no route sends {header}: {subset} of {} to {subset}",
                service.name()
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use crate::manifest_checks::istio_consistency::inconsistencies;
    use crate::manifest_checks::istio_manifests;

    use super::*;

    /// The inconsistencies of the Istio examples after `change` to the manifest `name` of `file`.
    fn ambient_edit(file: &str, name: &str, change: &dyn Fn(&mut Value)) -> Vec<String> {
        let mut copy = istio_manifests();
        let target = copy
            .iter_mut()
            .find(|m| m.file.as_path() == std::path::Path::new(file) && m.name() == name)
            .unwrap_or_else(|| panic!("no {name} in {file}"));
        change(&mut target.value);
        inconsistencies(&copy)
    }

    const AMBIENT_ROUTE: &str = "examples/ambient/httproute.yaml HTTPRoute/service-a";
    const AMBIENT_PLUGIN: &str = "examples/ambient/wasmplugin.yaml WasmPlugin/sticky-canary";
    const AMBIENT_TWIN: &str =
        "examples/ambient/trafficextension/trafficextension.yaml TrafficExtension/sticky-canary";

    #[test]
    fn a_typo_in_the_ambient_httproute_is_caught() {
        let route = |change: &dyn Fn(&mut Value)| {
            ambient_edit("examples/ambient/httproute.yaml", "service-a", change)
        };
        // Both plugin forms run for service-a, so each finding shows once per form.
        let twice = |lines: &[String]| -> Vec<String> { [lines, lines].concat() };
        assert_eq!(
            route(&|m| m["spec"]["rules"][0]["matches"][0]["headers"][0]["value"] = json!("V2")),
            twice(&[
                format!("{AMBIENT_ROUTE} rule v2: matches x-canary-subset: V2, which the plugin never writes for service-a"),
                "no route sends x-canary-subset: v2 of service-a to v2".to_string(),
            ])
        );
        assert_eq!(
            route(&|m| m["spec"]["rules"][0]["backendRefs"][0]["name"] = json!("service-a-v1")),
            twice(&[
                format!("{AMBIENT_ROUTE} rule v2: x-canary-subset: v2 goes to service-a-v1, which serves v1"),
                "no route sends x-canary-subset: v2 of service-a to v2".to_string(),
            ])
        );
        assert_eq!(
            route(&|m| {
                m["spec"]["rules"].as_array_mut().unwrap().pop();
            }),
            twice(&["no route takes requests for service-a without x-canary-subset".to_string()])
        );
        assert_eq!(
            route(&|m| m["spec"]["rules"][2]["backendRefs"][0]["name"] = json!("service-a-v2")),
            twice(&[format!(
                "{AMBIENT_ROUTE} rule stable: requests without x-canary-subset go to v2, not the stable subset v1"
            )])
        );
        assert_eq!(
            route(&|m| m["spec"]["rules"][1]["backendRefs"][0]["port"] = json!(80)),
            twice(&[format!(
                "{AMBIENT_ROUTE} rule v1: backend service-a-v1 has no port 80"
            )])
        );
        // Without `group: ""` the parent is a Gateway API Gateway named service-a: the route hangs
        // off no Service, and the plugin's Service has no route.
        assert_eq!(
            route(&|m| {
                m["spec"]["parentRefs"][0]
                    .as_object_mut()
                    .unwrap()
                    .remove("group");
            }),
            [
                "no HTTPRoute routes Service service-a".to_string(),
                "no HTTPRoute routes Service service-a".to_string(),
                format!(r#"{AMBIENT_ROUTE}: parent service-a is no Service (group "") of ambient"#),
            ]
        );
    }

    #[test]
    fn a_typo_in_the_ambient_attachment_is_caught() {
        let plugin = |change: &dyn Fn(&mut Value)| {
            let mut copy = istio_manifests();
            copy.retain(|m| {
                m.kind() != "TrafficExtension" || !m.file.starts_with("examples/ambient")
            });
            let target = copy
                .iter_mut()
                .find(|m| {
                    m.file.as_path() == std::path::Path::new("examples/ambient/wasmplugin.yaml")
                })
                .unwrap();
            change(&mut target.value);
            inconsistencies(&copy)
        };
        assert_eq!(plugin(&|_| {}), Vec::<String>::new());
        assert_eq!(
            plugin(&|m| m["spec"]["targetRefs"][0]["name"] = json!("servicea")),
            [format!("{AMBIENT_PLUGIN}: no Service servicea in ambient")]
        );
        assert_eq!(
            plugin(&|m| m["spec"]["targetRefs"][0]["namespace"] = json!("default")),
            [format!(
                r#"{AMBIENT_PLUGIN}: targetRef service-a: namespace "default": cross namespace referencing is not currently supported"#
            )]
        );
        assert_eq!(
            plugin(&|m| m["spec"]["targetRefs"][0]["namespace"] = json!("ambient")),
            [format!(
                r#"{AMBIENT_PLUGIN}: targetRef service-a: namespace "ambient": cross namespace referencing is not currently supported"#
            )]
        );
        assert_eq!(
            plugin(&|m| m["spec"]["targetRefs"][0]["group"] = json!("core")),
            [format!("{AMBIENT_PLUGIN}: targetRef core/Service service-a: only a waypoint Gateway or a Service is checked")]
        );
        assert_eq!(
            plugin(&|m| m["spec"]["match"] = json!([{"mode": "CLIENT"}])),
            [format!("{AMBIENT_PLUGIN}: match mode CLIENT never runs on a waypoint (it runs plugins as SERVER)")]
        );
        assert_eq!(
            plugin(&|m| m["spec"]["selector"] = json!({"matchLabels": {"app": "frontend"}})),
            [format!(
                "{AMBIENT_PLUGIN}: only one of targetRefs or selector can be set"
            )]
        );
        assert_eq!(
            plugin(
                &|m| m["spec"]["pluginConfig"]["routes"][0]["match"]["hosts"][3] =
                    json!("service-a.default.svc.cluster.local")
            ),
            [format!(
                r#"{AMBIENT_PLUGIN}: route "service-a" does not match service-a.ambient.svc.cluster.local, a name of Service service-a"#
            )]
        );
        assert_eq!(
            plugin(&|m| m["spec"]["pluginConfig"]["routingHeader"] = json!("x-canary-subst")),
            [
                format!(
                    r#"{AMBIENT_ROUTE} rule v2: matches [("x-canary-subset", "v2")], not the routing header x-canary-subst alone"#
                ),
                format!(
                    r#"{AMBIENT_ROUTE} rule v1: matches [("x-canary-subset", "v1")], not the routing header x-canary-subst alone"#
                ),
                "no route sends x-canary-subst: v2 of service-a to v2".to_string(),
            ]
        );

        // The other form: the whole waypoint. The plugin then also runs for the per-version Services
        // (it splits none of them), and service-a is checked as before.
        let to_waypoint =
            json!([{"group": "gateway.networking.k8s.io", "kind": "Gateway", "name": "waypoint"}]);
        assert_eq!(
            plugin(&|m| m["spec"]["targetRefs"] = to_waypoint.clone()),
            Vec::<String>::new()
        );
        assert_eq!(
            plugin(&|m| {
                m["spec"]["targetRefs"] = to_waypoint.clone();
                m["spec"]["pluginConfig"]["routes"][0]["match"]["hosts"] = json!(["service-b"]);
            }),
            [format!(
                "{AMBIENT_PLUGIN}: splits no Service that waypoint waypoint serves"
            )]
        );
        assert_eq!(
            plugin(&|m| {
                m["spec"]["targetRefs"] = to_waypoint.clone();
                m["spec"]["pluginConfig"]["routes"][0]["subsets"][1]["name"] = json!("v3");
                m["spec"]["pluginConfig"]["routes"][0]["rules"][0]["subset"] = json!("v3");
            }),
            [
                format!("{AMBIENT_ROUTE} rule v2: matches x-canary-subset: v2, which the plugin never writes for service-a"),
                "no route sends x-canary-subset: v3 of service-a to v3".to_string(),
            ]
        );
        assert_eq!(
            plugin(
                &|m| m["spec"]["targetRefs"] = json!([{"group": "gateway.networking.k8s.io", "kind": "Gateway", "name": "waypoit"}])
            ),
            [format!(
                "{AMBIENT_PLUGIN}: no waypoint Gateway waypoit in ambient"
            )]
        );
    }

    #[test]
    fn a_typo_in_the_ambient_namespace_or_waypoint_is_caught() {
        assert_eq!(
            ambient_edit("examples/ambient/namespace.yaml", "ambient", &|m| {
                m["metadata"]["labels"]["istio.io/use-waypoint"] = json!("waypoit");
            }),
            [
                "examples/ambient/namespace.yaml Namespace/ambient: no waypoint waypoit in ambient".to_string(),
                format!("{AMBIENT_TWIN}: Service service-a uses no waypoint of ambient: the plugin never runs"),
                format!("{AMBIENT_PLUGIN}: Service service-a uses no waypoint of ambient: the plugin never runs"),
            ]
        );
        assert_eq!(
            ambient_edit("examples/ambient/namespace.yaml", "ambient", &|m| {
                m["metadata"]["labels"]
                    .as_object_mut()
                    .unwrap()
                    .remove("istio.io/dataplane-mode");
            }),
            ["examples/ambient/namespace.yaml Namespace/ambient: uses waypoint waypoint but is not in ambient mode (istio.io/dataplane-mode: ambient)"]
        );
        assert_eq!(
            ambient_edit("examples/ambient/waypoint.yaml", "waypoint", &|m| {
                m["spec"]["listeners"][0]["protocol"] = json!("HTTP");
            }),
            ["examples/ambient/waypoint.yaml Gateway/waypoint: no HBONE listener on port 15008"]
        );
        // A Service opts out of the namespace's waypoint with its own label.
        assert_eq!(
            ambient_edit("examples/ambient/app.yaml", "service-a", &|m| {
                m["metadata"]["labels"]["istio.io/use-waypoint"] = json!("none");
            }),
            [
                format!("{AMBIENT_TWIN}: Service service-a uses no waypoint of ambient: the plugin never runs"),
                format!("{AMBIENT_PLUGIN}: Service service-a uses no waypoint of ambient: the plugin never runs"),
            ]
        );
        assert_eq!(
            ambient_edit("examples/ambient/services.yaml", "service-a-v2", &|m| {
                m["spec"]["selector"]["version"] = json!("V2");
            }),
            [
                "examples/ambient/services.yaml Service/service-a-v2: selects no Deployment".to_string(),
                format!("{AMBIENT_ROUTE} rule v2: x-canary-subset: v2 goes to service-a-v2, which serves V2"),
                "no route sends x-canary-subset: v2 of service-a to v2".to_string(),
                format!("{AMBIENT_ROUTE} rule v2: x-canary-subset: v2 goes to service-a-v2, which serves V2"),
                "no route sends x-canary-subset: v2 of service-a to v2".to_string(),
            ]
        );
    }
}
