//! Every Istio manifest under examples/ is valid: against Istio's own CRD schema (or the project's
//! schema of the standard kinds), the plugin configuration against the filter's own validation,
//! and the manifests against each other (subsets, hosts, labels, routing headers line up; for the
//! ambient example the waypoint, the plugin's targetRefs and the HTTPRoute), so a typo anywhere
//! fails here. The negative tests prove each check rejects what it should. The
//! Envoy Gateway and Higress examples have their own schemas and checks: gateway_examples.rs.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeSet;
use std::fs;
use std::path::PathBuf;

use serde_json::{json, Value};
use sticky_canary_e2e::manifests::{
    json_patch, load_dir, load_file, readme_patches, unserved_ports, Manifest,
};
use sticky_canary_e2e::schema::{core_schemas, crd_schemas, validate_manifest, KindSchema};
use sticky_canary_e2e::{istio, repo_root, waypoint};

fn schemas() -> Vec<KindSchema> {
    let read = |f: &str| fs::read_to_string(repo_root().join("tests/schemas").join(f)).unwrap();
    let mut all = crd_schemas(&read("istio-crds.yaml"));
    // The waypoint and the HTTPRoute of examples/ambient.
    all.extend(crd_schemas(&read("gateway-api-crds.yaml")));
    all.extend(core_schemas(&read("kubernetes-core.yaml")));
    all
}

/// Directories of examples/ for other gateways than Istio's, checked by gateway_examples.rs.
const OTHER_GATEWAYS: [&str; 2] = ["examples/envoy-gateway", "examples/higress"];

/// Every manifest of the Istio scenarios.
fn istio_examples() -> Vec<Manifest> {
    load_dir(&repo_root(), "examples")
        .into_iter()
        .filter(|m| !OTHER_GATEWAYS.iter().any(|dir| m.file.starts_with(dir)))
        .collect()
}

fn examples() -> Vec<Manifest> {
    let all = istio_examples();
    assert!(
        all.len() > 20,
        "examples/ holds only {} manifests",
        all.len()
    );
    all
}

fn is_plugin(m: &Manifest) -> bool {
    matches!(m.kind(), "WasmPlugin" | "TrafficExtension")
}

/// Errors of one manifest: schema, and for plugins the filter's own config validation.
fn manifest_errors(schemas: &[KindSchema], manifest: &Value) -> Vec<String> {
    let mut errors = validate_manifest(schemas, manifest);
    if matches!(
        manifest["kind"].as_str(),
        Some("WasmPlugin" | "TrafficExtension")
    ) {
        match istio::plugin_config_json(manifest) {
            Ok(json) => {
                if let Err(e) = sticky_canary_core::Config::from_json(json.as_bytes()) {
                    errors.push(format!("pluginConfig: {e}"));
                }
            }
            Err(e) => errors.push(e),
        }
    }
    errors
}

#[test]
fn every_example_manifest_is_valid_against_its_schema_and_the_filters_validation() {
    let schemas = schemas();
    let mut failures = Vec::new();
    let mut kinds = BTreeSet::new();
    for manifest in examples() {
        kinds.insert(format!(
            "{} {}",
            manifest.value["apiVersion"].as_str().unwrap_or("?"),
            manifest.kind()
        ));
        for error in manifest_errors(&schemas, &manifest.value) {
            failures.push(format!("{}: {error}", manifest.label()));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    let expected = [
        "apps/v1 Deployment",
        "extensions.istio.io/v1alpha1 TrafficExtension",
        "extensions.istio.io/v1alpha1 WasmPlugin",
        "gateway.networking.k8s.io/v1 Gateway",
        "gateway.networking.k8s.io/v1 HTTPRoute",
        "networking.istio.io/v1 DestinationRule",
        "networking.istio.io/v1 Gateway",
        "networking.istio.io/v1 VirtualService",
        "v1 Namespace",
        "v1 Service",
    ];
    assert_eq!(kinds.into_iter().collect::<Vec<_>>(), expected);
}

// ---- negative tests: the validator rejects what the API server (or the filter) would ----

fn servicea(file: &str) -> Value {
    load_file(&repo_root(), &format!("examples/servicea/{file}"))
}

/// The first document of this kind in a multi-document file.
fn document(file: &str, kind: &str) -> Value {
    istio_examples()
        .into_iter()
        .find(|m| m.file.as_path() == std::path::Path::new(file) && m.kind() == kind)
        .unwrap()
        .value
}

fn errors_after(mut manifest: Value, edit: impl FnOnce(&mut Value)) -> Vec<String> {
    let schemas = schemas();
    assert!(
        manifest_errors(&schemas, &manifest).is_empty(),
        "the unedited manifest must be valid"
    );
    edit(&mut manifest);
    manifest_errors(&schemas, &manifest)
}

#[test]
fn an_unknown_field_is_rejected_with_its_path() {
    let errors = errors_after(servicea("wasmplugin.yaml"), |m| {
        let phase = m["spec"].as_object_mut().unwrap().remove("phase").unwrap();
        m["spec"]["phse"] = phase;
    });
    assert_eq!(errors, [r#"spec.phse: unknown field "phse""#]);

    let errors = errors_after(servicea("destinationrule.yaml"), |m| {
        m["spec"]["trafficPolicy"]["outlierDetection"]["consecutive5xxError"] = json!(5);
    });
    assert_eq!(
        errors,
        [
            r#"spec.trafficPolicy.outlierDetection.consecutive5xxError: unknown field "consecutive5xxError""#
        ]
    );

    let errors = errors_after(document("examples/servicea/app.yaml", "Deployment"), |m| {
        m["spec"]["template"]["spec"]["containers"][0]["port"] = json!(7777);
    });
    assert_eq!(
        errors,
        [r#"spec.template.spec.containers[0].port: unknown field "port""#]
    );
}

#[test]
fn a_wrong_type_is_rejected() {
    let errors = errors_after(servicea("wasmplugin.yaml"), |m| {
        m["spec"]["priority"] = json!("high");
    });
    assert_eq!(
        errors,
        [r#"spec.priority: must be of type integer, got string "high""#]
    );
    let errors = errors_after(servicea("virtualservice.yaml"), |m| {
        m["spec"]["hosts"] = json!("servicea.com");
    });
    assert_eq!(
        errors,
        [r#"spec.hosts: must be of type array, got string "servicea.com""#]
    );
}

#[test]
fn a_value_outside_an_enum_is_rejected() {
    let errors = errors_after(servicea("wasmplugin.yaml"), |m| {
        m["spec"]["failStrategy"] = json!("FAIL_SOMETIMES");
    });
    assert_eq!(
        errors,
        [
            r#"spec.failStrategy: "FAIL_SOMETIMES" is not one of ["FAIL_CLOSE", "FAIL_OPEN", "FAIL_RELOAD"]"#
        ]
    );
    let errors = errors_after(servicea("wasmplugin.yaml"), |m| {
        m["spec"]["phase"] = json!("ROUTING");
    });
    assert_eq!(
        errors,
        [r#"spec.phase: "ROUTING" is not one of ["UNSPECIFIED_PHASE", "AUTHN", "AUTHZ", "STATS"]"#]
    );
}

#[test]
fn missing_required_fields_patterns_ranges_and_exclusive_fields_are_rejected() {
    let errors = errors_after(servicea("destinationrule.yaml"), |m| {
        m["spec"]["subsets"][1]
            .as_object_mut()
            .unwrap()
            .remove("name");
    });
    assert_eq!(errors, ["spec.subsets[1].name: required field missing"]);

    let errors = errors_after(servicea("wasmplugin.yaml"), |m| {
        m["spec"]["sha256"] = json!("not-a-digest");
    });
    assert_eq!(
        errors,
        [r#"spec.sha256: "not-a-digest" does not match pattern "(^$|^[a-f0-9]{64}$)""#]
    );

    let errors = errors_after(
        load_file(&repo_root(), "examples/sidecar/wasmplugin.yaml"),
        |m| m["spec"]["match"][0]["ports"] = json!([{"number": 70000}]),
    );
    assert_eq!(
        errors,
        ["spec.match[0].ports[0].number: 70000 is above the maximum 65535"]
    );

    let errors = errors_after(
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

    let errors = errors_after(servicea("wasmplugin.yaml"), |m| {
        m["metadata"]["name"] = json!("Sticky_Canary");
    });
    assert_eq!(
        errors,
        [r#"metadata.name: "Sticky_Canary" is not a DNS-1123 subdomain"#]
    );
}

#[test]
fn a_bad_plugin_config_is_rejected_by_the_filters_own_validation() {
    let errors = errors_after(servicea("wasmplugin.yaml"), |m| {
        m["spec"]["pluginConfig"]["routes"][0]["subsets"][1]["weight"] = json!(60);
    });
    assert_eq!(
        errors,
        ["pluginConfig: routes[0].subsets: weights must sum to 100, got 110 (v1=50, v2=60)"]
    );
    let errors = errors_after(servicea("wasmplugin.yaml"), |m| {
        let keys = m["spec"]["pluginConfig"]["routes"][0]["stickiness"]
            .as_object_mut()
            .unwrap();
        let salt = keys.remove("salt").unwrap();
        keys.insert("slat".into(), salt);
    });
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(
        errors[0].starts_with("pluginConfig: routes[0].stickiness") && errors[0].contains("slat"),
        "{errors:?}"
    );
}

#[test]
fn an_unknown_kind_or_version_is_rejected() {
    let errors = errors_after(servicea("wasmplugin.yaml"), |m| {
        m["apiVersion"] = json!("extensions.istio.io/v1");
    });
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(errors[0]
        .starts_with(r#"apiVersion/kind: no schema for "extensions.istio.io/v1" "WasmPlugin""#));
}

// ---- the manifests agree with each other ----

fn of_kind<'a>(all: &'a [Manifest], kind: &str) -> Vec<&'a Manifest> {
    all.iter().filter(|m| m.kind() == kind).collect()
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
fn settings(m: &Manifest) -> &Value {
    if m.kind() == "TrafficExtension" {
        &m.value["spec"]["wasm"]
    } else {
        &m.value["spec"]
    }
}

/// Cross-manifest checks; returns every inconsistency found.
fn inconsistencies(all: &[Manifest]) -> Vec<String> {
    let mut out = Vec::new();
    let rules = of_kind(all, "DestinationRule");
    let deployments = of_kind(all, "Deployment");
    let services = of_kind(all, "Service");
    // Istio's own Gateways; Gateway API's (waypoints) are checked by waypoint_inconsistencies.
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
                let defined = rules.iter().any(|r| {
                    fqdn(r.value["spec"]["host"].as_str().unwrap(), r.namespace()) == host
                        && r.value["spec"]["subsets"]
                            .as_array()
                            .unwrap()
                            .iter()
                            .any(|s| &s["name"] == subset)
                });
                if !subset.is_null() && !defined {
                    out.push(format!(
                        "{}: subset {subset} of {host} is in no DestinationRule",
                        vs.label()
                    ));
                }
            }
            if let Some(mirror) = route["mirror"].as_object() {
                let subset = mirror["subset"].as_str().unwrap_or_default();
                let host = fqdn(mirror["host"].as_str().unwrap(), ns);
                let defined = rules.iter().any(|r| {
                    fqdn(r.value["spec"]["host"].as_str().unwrap(), r.namespace()) == host
                        && r.value["spec"]["subsets"]
                            .as_array()
                            .unwrap()
                            .iter()
                            .any(|s| s["name"] == subset)
                });
                if !defined {
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
    waypoint_inconsistencies(all, &mut out);
    out
}

// ---- ambient: waypoints, the plugins attached to them, the HTTPRoutes behind them ----

const WAYPOINT_CLASS: &str = "istio-waypoint";
const USE_WAYPOINT: &str = "istio.io/use-waypoint";

fn is_gateway_api(m: &Manifest) -> bool {
    m.value["apiVersion"]
        .as_str()
        .is_some_and(|v| v.starts_with("gateway.networking.k8s.io/"))
}

/// A plugin's targetRefs, the deprecated singular `targetRef` included (as Istio merges them).
fn target_refs(plugin: &Manifest) -> Vec<Value> {
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
fn waypoint_inconsistencies(all: &[Manifest], out: &mut Vec<String>) {
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
            waypoint_service_inconsistencies(p, service, &services, &http_routes, out);
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

#[test]
fn the_examples_agree_with_each_other() {
    let problems = inconsistencies(&examples());
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn a_typo_across_manifests_is_caught() {
    let all = examples();
    let edit = |file: &str, change: &dyn Fn(&mut Value)| {
        let mut copy = istio_examples();
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

// ---- the TrafficExtension twins, and the slider ----

/// `examples/<dir>/<rest>/wasmplugin<suffix>.yaml` has its twin at
/// `examples/<dir>/trafficextension/<rest>/trafficextension<suffix>.yaml`.
fn twin_path(wasmplugin: &std::path::Path) -> PathBuf {
    let parts: Vec<String> = wasmplugin
        .iter()
        .map(|p| p.to_string_lossy().to_string())
        .collect();
    let mut twin: Vec<String> = parts[..2].to_vec();
    twin.push("trafficextension".into());
    twin.extend(parts[2..parts.len() - 1].iter().cloned());
    twin.push(parts[parts.len() - 1].replace("wasmplugin", "trafficextension"));
    twin.iter().collect()
}

#[test]
fn every_wasmplugin_has_a_trafficextension_twin_with_the_same_settings() {
    let all = examples();
    let wasm_plugins = of_kind(&all, "WasmPlugin");
    let extensions = of_kind(&all, "TrafficExtension");
    assert_eq!(wasm_plugins.len(), extensions.len(), "one twin each");
    for wp in wasm_plugins {
        let path = twin_path(&wp.file);
        let twin = extensions
            .iter()
            .find(|t| t.file == path)
            .unwrap_or_else(|| panic!("{} has no twin at {}", wp.label(), path.display()));
        assert_eq!(
            twin.value["metadata"],
            wp.value["metadata"],
            "{}",
            twin.label()
        );
        // The twin is what Istio 1.30+ translates the WasmPlugin into, under the same name.
        assert_eq!(
            twin.value,
            istio::traffic_extension_of(&wp.value).unwrap(),
            "{} vs {}",
            twin.label(),
            wp.label()
        );

        // Istio turns both into the same filter; only the resource name's kind differs.
        let mut from_wp = istio::extension_config(&wp.value, "m.wasm").unwrap();
        let from_twin = istio::extension_config(&twin.value, "m.wasm").unwrap();
        assert_eq!(
            from_twin["name"],
            from_wp["name"]
                .as_str()
                .unwrap()
                .replace("/wasmplugin/", "/trafficextension/")
        );
        from_wp["name"] = from_twin["name"].clone();
        assert_eq!(from_wp, from_twin);
    }
}

#[test]
fn the_one_line_kubectl_patch_moves_the_slider_to_exactly_the_10_90_manifest() {
    for (kind, base, moved) in [
        (
            "wasmplugin",
            "examples/servicea/wasmplugin.yaml",
            "examples/servicea/slider/wasmplugin-10-90.yaml",
        ),
        (
            "trafficextension",
            "examples/servicea/trafficextension/trafficextension.yaml",
            "examples/servicea/trafficextension/slider/trafficextension-10-90.yaml",
        ),
    ] {
        let target = load_file(&repo_root(), moved);
        let schemas = schemas();
        let mut reaching = 0;
        for patch in readme_patches(kind) {
            let mut patched = load_file(&repo_root(), base);
            json_patch(&mut patched, &patch);
            let errors = manifest_errors(&schemas, &patched);
            assert!(errors.is_empty(), "{kind} patch {patch} gives: {errors:?}");
            reaching += usize::from(patched == target);
        }
        assert_eq!(
            reaching, 1,
            "one {kind} patch line in examples/README.md gives {moved}"
        );
    }
}

#[test]
fn servicea_sends_the_version_query_and_the_canary_header_to_v2_at_50_50() {
    let manifest = servicea("wasmplugin.yaml");
    let config = istio::plugin_config_json(&manifest).unwrap();
    let expect = |path: &str, headers: &[(&str, &[u8])]| {
        sticky_canary_e2e::expected_subset(&config, path, headers).unwrap()
    };
    let users: Vec<String> = (0..2000).map(|i| format!("user-{i}")).collect();
    let on_v2 = users
        .iter()
        .filter(|u| expect("/", &[("x-user-id", u.as_bytes())]) == "v2")
        .count();
    assert!(
        (900..1100).contains(&on_v2),
        "{on_v2} of 2000 users on v2 at 50/50"
    );
    let on_v1 = users
        .iter()
        .find(|u| expect("/", &[("x-user-id", u.as_bytes())]) == "v1")
        .unwrap();
    assert_eq!(
        expect("/?version=v2", &[("x-user-id", on_v1.as_bytes())]),
        "v2"
    );
    assert_eq!(
        expect(
            "/",
            &[("x-user-id", on_v1.as_bytes()), ("x-canary", b"true")]
        ),
        "v2"
    );
    assert_eq!(
        expect("/?version=v1", &[("x-user-id", on_v1.as_bytes())]),
        "v1"
    );
}

// ---- the WasmPlugin -> TrafficExtension converter ----

fn ambient_wasmplugin() -> Value {
    load_file(&repo_root(), "examples/ambient/wasmplugin.yaml")
}

#[test]
fn the_converter_keeps_target_refs_and_turns_the_deprecated_target_ref_into_them() {
    let schemas = schemas();
    let plugin = ambient_wasmplugin();
    let converted = istio::traffic_extension_of(&plugin).unwrap();
    assert_eq!(
        converted["spec"]["targetRefs"],
        plugin["spec"]["targetRefs"]
    );
    assert_eq!(manifest_errors(&schemas, &converted), Vec::<String>::new());

    // WasmPlugin's deprecated singular targetRef: Istio merges it into targetRefs.
    let mut singular = plugin.clone();
    let spec = singular["spec"].as_object_mut().unwrap();
    let target = spec.remove("targetRefs").unwrap()[0].clone();
    spec.insert("targetRef".into(), target.clone());
    assert_eq!(manifest_errors(&schemas, &singular), Vec::<String>::new());
    let converted = istio::traffic_extension_of(&singular).unwrap();
    assert_eq!(converted["spec"]["targetRefs"], json!([target]));
    assert_eq!(converted["spec"].get("targetRef"), None);
    assert_eq!(manifest_errors(&schemas, &converted), Vec::<String>::new());

    // Both set: targetRefs wins and targetRef is dropped, as Istio drops it.
    let mut both = plugin.clone();
    both["spec"]["targetRef"] =
        json!({"group": "gateway.networking.k8s.io", "kind": "Gateway", "name": "waypoint"});
    let converted = istio::traffic_extension_of(&both).unwrap();
    assert_eq!(
        converted["spec"]["targetRefs"],
        plugin["spec"]["targetRefs"]
    );
    assert_eq!(converted["spec"].get("targetRef"), None);
}

#[test]
fn the_converter_maps_the_phase_by_number_and_refuses_what_istio_would_drop() {
    let schemas = schemas();
    let mut plugin = ambient_wasmplugin();
    plugin["spec"]["phase"] = json!("UNSPECIFIED_PHASE");
    assert_eq!(manifest_errors(&schemas, &plugin), Vec::<String>::new());
    let converted = istio::traffic_extension_of(&plugin).unwrap();
    assert_eq!(converted["spec"]["phase"], "UNSPECIFIED");
    assert_eq!(manifest_errors(&schemas, &converted), Vec::<String>::new());

    let mut plugin = ambient_wasmplugin();
    plugin["spec"]["verificationKey"] = json!("key");
    assert_eq!(
        istio::traffic_extension_of(&plugin),
        Err("spec.verificationKey: a TrafficExtension has no such field (Istio 1.30+ drops it when it translates a WasmPlugin)".to_string())
    );
    let mut plugin = ambient_wasmplugin();
    plugin["spec"]["priorty"] = json!(10);
    assert_eq!(
        istio::traffic_extension_of(&plugin),
        Err("spec.priorty: not a WasmPlugin field".to_string())
    );
}

// ---- ambient: the checks catch what would break routing on a waypoint ----

/// The inconsistencies of the examples after `change` to the manifest `name` of `file`.
fn ambient_edit(file: &str, name: &str, change: &dyn Fn(&mut Value)) -> Vec<String> {
    let mut copy = istio_examples();
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
        let mut copy = istio_examples();
        copy.retain(|m| m.kind() != "TrafficExtension" || !m.file.starts_with("examples/ambient"));
        let target = copy
            .iter_mut()
            .find(|m| m.file.as_path() == std::path::Path::new("examples/ambient/wasmplugin.yaml"))
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

#[test]
fn a_typo_in_an_ambient_manifest_is_rejected_by_the_gateway_api_schema() {
    let route = || load_file(&repo_root(), "examples/ambient/httproute.yaml");
    let errors = errors_after(route(), |m| {
        let rule = m["spec"]["rules"][0].as_object_mut().unwrap();
        let refs = rule.remove("backendRefs").unwrap();
        rule.insert("backendRef".into(), refs);
    });
    assert_eq!(
        errors,
        [r#"spec.rules[0].backendRef: unknown field "backendRef""#]
    );
    let errors = errors_after(route(), |m| {
        m["spec"]["parentRefs"][0]["kind"] = json!("Service/v1");
    });
    assert_eq!(
        errors,
        [
            r#"spec.parentRefs[0].kind: "Service/v1" does not match pattern "^[a-zA-Z]([-a-zA-Z0-9]*[a-zA-Z0-9])?$""#
        ]
    );
    let errors = errors_after(
        load_file(&repo_root(), "examples/ambient/waypoint.yaml"),
        |m| m["spec"]["listeners"][0]["port"] = json!(0),
    );
    assert_eq!(errors, ["spec.listeners[0].port: 0 is below the minimum 1"]);
}
