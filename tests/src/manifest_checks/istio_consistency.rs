//! The Istio scenarios' manifests against each other: Deployments, Services, DestinationRule
//! subsets, Gateways and VirtualServices line up with the routing headers and mirror marks the
//! plugins write, so a typo in one file fails where another file disagrees. The ambient
//! scenario's waypoints, and the plugins attached to them with `targetRefs`, are checked by
//! `waypoint_consistency`, whose findings are part of [`inconsistencies`].
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeSet;

use serde_json::Value;

use super::waypoint_consistency::{self, is_gateway_api, target_refs};
use crate::manifests::{unserved_ports, Manifest};

pub fn of_kind<'a>(all: &'a [Manifest], kind: &str) -> Vec<&'a Manifest> {
    all.iter().filter(|m| m.kind() == kind).collect()
}

pub(super) fn is_plugin(m: &Manifest) -> bool {
    matches!(m.kind(), "WasmPlugin" | "TrafficExtension")
}

/// `service-a` in namespace `default` -> `service-a.default.svc.cluster.local`.
fn fqdn(host: &str, namespace: &str) -> String {
    match host.matches('.').count() {
        0 => format!("{host}.{namespace}.svc.cluster.local"),
        1 => format!("{host}.svc.cluster.local"),
        _ => host.to_string(),
    }
}

fn labels_match(selector: &Value, labels: &Value) -> bool {
    selector
        .as_object()
        .is_some_and(|s| !s.is_empty() && s.iter().all(|(k, v)| labels.get(k) == Some(v)))
}

/// The settings of a WasmPlugin (`spec`) or TrafficExtension (`spec.wasm`).
pub(super) fn settings(m: &Manifest) -> &Value {
    if m.kind() == "TrafficExtension" {
        &m.value["spec"]["wasm"]
    } else {
        &m.value["spec"]
    }
}

/// Whether a DestinationRule for `host` (a FQDN) defines `subset`.
fn subset_defined(rules: &[&Manifest], host: &str, subset: &Value) -> bool {
    rules.iter().any(|r| {
        fqdn(r.value["spec"]["host"].as_str().unwrap(), r.namespace()) == host
            && r.value["spec"]["subsets"]
                .as_array()
                .unwrap()
                .iter()
                .any(|s| &s["name"] == subset)
    })
}

/// Cross-manifest checks; returns every inconsistency found.
pub fn inconsistencies(all: &[Manifest]) -> Vec<String> {
    let mut out = Vec::new();
    let rules = of_kind(all, "DestinationRule");
    let deployments = of_kind(all, "Deployment");
    let services = of_kind(all, "Service");
    // Istio's own Gateways; Gateway API's (waypoints) are checked by waypoint_consistency.
    let gateways: Vec<&Manifest> = of_kind(all, "Gateway")
        .into_iter()
        .filter(|g| !is_gateway_api(g))
        .collect();
    let virtual_services = of_kind(all, "VirtualService");
    // Plugins on sidecars and Istio gateways; those on waypoints route through HTTPRoutes.
    let plugins: Vec<&Manifest> = all
        .iter()
        .filter(|m| is_plugin(m) && target_refs(m).is_empty())
        .collect();

    for d in &deployments {
        let spec = &d.value["spec"];
        if !labels_match(
            &spec["selector"]["matchLabels"],
            &spec["template"]["metadata"]["labels"],
        ) {
            out.push(format!(
                "{}: selector does not match the pod template labels",
                d.label()
            ));
        }
    }
    let pods_of = |selector: &Value, namespace: &str| -> Vec<&Manifest> {
        deployments
            .iter()
            .copied()
            .filter(|d| d.namespace() == namespace)
            .filter(|d| labels_match(selector, &d.value["spec"]["template"]["metadata"]["labels"]))
            .collect()
    };
    for s in &services {
        let selected = pods_of(&s.value["spec"]["selector"], s.namespace());
        if selected.is_empty() {
            out.push(format!("{}: selects no Deployment", s.label()));
        }
        out.extend(unserved_ports(s, &selected));
    }
    for r in &rules {
        let host = fqdn(r.value["spec"]["host"].as_str().unwrap(), r.namespace());
        let Some(service) = services
            .iter()
            .find(|s| fqdn(s.name(), s.namespace()) == host)
        else {
            out.push(format!("{}: host {host} is no Service", r.label()));
            continue;
        };
        for subset in r.value["spec"]["subsets"].as_array().unwrap() {
            let mut selector = service.value["spec"]["selector"].clone();
            for (k, v) in subset["labels"].as_object().unwrap() {
                selector[k] = v.clone();
            }
            if pods_of(&selector, service.namespace()).is_empty() {
                out.push(format!(
                    "{}: subset {} selects no pods",
                    r.label(),
                    subset["name"]
                ));
            }
        }
    }
    // (routing header, subset) pairs the plugins write, and those the VirtualServices match.
    let mut written = BTreeSet::new();
    // (mirror header, subset) pairs the plugins mark, and those the VirtualServices mirror on.
    let mut marked = BTreeSet::new();
    for p in &plugins {
        let config = &settings(p)["pluginConfig"];
        let header = config["routingHeader"]
            .as_str()
            .unwrap_or("x-canary-subset")
            .to_string();
        for route in config["routes"].as_array().unwrap() {
            for subset in route["subsets"].as_array().unwrap() {
                written.insert((header.clone(), subset["name"].as_str().unwrap().to_string()));
            }
            if let (Some(h), Some(s)) = (
                route["mirror"]["header"].as_str(),
                route["mirror"]["subset"].as_str(),
            ) {
                marked.insert((h.to_string(), s.to_string()));
            }
        }
        let selector = &p.value["spec"]["selector"]["matchLabels"];
        let on_gateway = gateways
            .iter()
            .any(|g| &g.value["spec"]["selector"] == selector);
        if !on_gateway && pods_of(selector, p.namespace()).is_empty() {
            out.push(format!(
                "{}: selector {selector} matches no Gateway and no Deployment",
                p.label()
            ));
        }
    }
    let mut matched = BTreeSet::new();
    let mut mirrored_on = BTreeSet::new();
    for vs in &virtual_services {
        let ns = vs.namespace();
        for gateway in vs.value["spec"]["gateways"]
            .as_array()
            .into_iter()
            .flatten()
        {
            let gateway = gateway.as_str().unwrap();
            match gateways
                .iter()
                .find(|g| g.name() == gateway && g.namespace() == ns)
            {
                Some(g) => {
                    let served: Vec<&Value> = g.value["spec"]["servers"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .flat_map(|s| s["hosts"].as_array().unwrap())
                        .collect();
                    for host in vs.value["spec"]["hosts"].as_array().unwrap() {
                        if !served.contains(&host) {
                            out.push(format!(
                                "{}: host {host} is not served by Gateway {gateway}",
                                vs.label()
                            ));
                        }
                    }
                }
                None => out.push(format!("{}: no Gateway {gateway}", vs.label())),
            }
        }
        for route in vs.value["spec"]["http"].as_array().unwrap() {
            let destinations: Vec<&Value> = route["route"]
                .as_array()
                .unwrap()
                .iter()
                .map(|r| &r["destination"])
                .collect();
            for destination in &destinations {
                let host = fqdn(destination["host"].as_str().unwrap(), ns);
                let subset = &destination["subset"];
                if !subset.is_null() && !subset_defined(&rules, &host, subset) {
                    out.push(format!(
                        "{}: subset {subset} of {host} is in no DestinationRule",
                        vs.label()
                    ));
                }
            }
            if let Some(mirror) = route["mirror"].as_object() {
                let subset = mirror["subset"].as_str().unwrap_or_default();
                let host = fqdn(mirror["host"].as_str().unwrap(), ns);
                if !subset_defined(&rules, &host, &Value::from(subset)) {
                    out.push(format!(
                        "{}: mirror subset \"{subset}\" of {host} is in no DestinationRule",
                        vs.label()
                    ));
                }
                let on: Vec<(String, String)> = route["match"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .flat_map(|c| c["headers"].as_object().into_iter().flatten())
                    .filter_map(|(h, v)| Some((h.clone(), v["exact"].as_str()?.to_string())))
                    .filter(|pair| marked.contains(pair) && pair.1 == subset)
                    .collect();
                if on.is_empty() {
                    out.push(format!(
                        "{}: mirrors to {subset} on no header a plugin marks for it",
                        vs.label()
                    ));
                }
                mirrored_on.extend(on);
                let percentage = route["mirrorPercentage"]["value"].as_f64();
                if percentage != Some(100.0) {
                    out.push(format!(
                        "{}: mirrorPercentage {percentage:?}: the plugin chose the users, so it must be 100",
                        vs.label()
                    ));
                }
            }
            for condition in route["match"].as_array().into_iter().flatten() {
                for (header, value) in condition["headers"].as_object().into_iter().flatten() {
                    let Some(subset) = value["exact"].as_str() else {
                        continue;
                    };
                    let pair = (header.clone(), subset.to_string());
                    if written.iter().any(|(h, _)| h == header) {
                        if !written.contains(&pair) {
                            out.push(format!(
                                "{}: matches {header}: {subset}, which no plugin writes",
                                vs.label()
                            ));
                        }
                        if destinations.iter().any(|d| d["subset"] != subset) {
                            out.push(format!(
                                "{}: {header}: {subset} routes to another subset",
                                vs.label()
                            ));
                        }
                        matched.insert(pair);
                    }
                }
            }
        }
    }
    for (header, subset) in written.difference(&matched) {
        out.push(format!(
            "no VirtualService routes {header}: {subset}, which a plugin writes"
        ));
    }
    for (header, subset) in marked.difference(&mirrored_on) {
        out.push(format!(
            "no VirtualService mirrors on {header}: {subset}, which a plugin marks"
        ));
    }
    out.extend(waypoint_consistency::inconsistencies(all));
    out
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::manifest_checks::istio_manifests;

    #[test]
    fn a_typo_across_manifests_is_caught() {
        let all = istio_manifests();
        let edit = |file: &str, change: &dyn Fn(&mut Value)| {
            let mut copy = istio_manifests();
            let target = copy
                .iter_mut()
                .find(|m| m.file.as_path() == std::path::Path::new(file))
                .unwrap();
            change(&mut target.value);
            inconsistencies(&copy)
        };
        assert!(inconsistencies(&all).is_empty());
        assert_eq!(
            edit("examples/servicea/virtualservice.yaml", &|m| {
                m["spec"]["http"][0]["route"][0]["destination"]["subset"] = json!("v3");
            }),
            [
                r#"examples/servicea/virtualservice.yaml VirtualService/service-a: subset "v3" of service-a.default.svc.cluster.local is in no DestinationRule"#,
                "examples/servicea/virtualservice.yaml VirtualService/service-a: x-canary-subset: v2 routes to another subset",
            ]
        );
        assert_eq!(
            edit("examples/blue-green/wasmplugin.yaml", &|m| {
                m["spec"]["pluginConfig"]["routingHeader"] = json!("x-relase");
            }),
            [
                "no VirtualService routes x-relase: blue, which a plugin writes",
                "no VirtualService routes x-relase: green, which a plugin writes",
            ]
        );
        let mirror = "examples/servicea/mirror/virtualservice-mirror.yaml";
        let label = format!("{mirror} VirtualService/service-a");
        assert_eq!(
            edit(mirror, &|m| {
                m["spec"]["http"][0]["mirror"]["subset"] = json!("v3");
                m["spec"]["http"][0]["mirrorPercentage"]["value"] = json!(50);
            }),
            [
                format!(r#"{label}: mirror subset "v3" of service-a.default.svc.cluster.local is in no DestinationRule"#),
                format!("{label}: mirrors to v3 on no header a plugin marks for it"),
                format!("{label}: mirrorPercentage Some(50.0): the plugin chose the users, so it must be 100"),
                "no VirtualService mirrors on x-canary-mirror: v2, which a plugin marks".to_string(),
            ]
        );
        assert_eq!(
            edit("examples/servicea/destinationrule.yaml", &|m| {
                m["spec"]["subsets"][1]["labels"]["version"] = json!("V2");
            }),
            [
                r#"examples/servicea/destinationrule.yaml DestinationRule/service-a: subset "v2" selects no pods"#
            ]
        );
    }
}
