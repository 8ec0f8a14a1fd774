//! Every Istio manifest under examples/ is valid: against Istio's own CRD schema (or the project's
//! schema of the standard kinds), the plugin configuration against the filter's own validation,
//! and the manifests against each other (subsets, hosts, labels, routing headers line up), so a
//! typo anywhere fails here. The negative tests prove each check rejects what it should. The
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
use sticky_canary_e2e::{istio, repo_root};

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
    let gateways = of_kind(all, "Gateway");
    let virtual_services = of_kind(all, "VirtualService");
    let plugins: Vec<&Manifest> = all.iter().filter(|m| is_plugin(m)).collect();

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
    out
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
    assert_eq!(converted["spec"]["targetRefs"], plugin["spec"]["targetRefs"]);
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
    both["spec"]["targetRef"] = json!({"group": "gateway.networking.k8s.io", "kind": "Gateway", "name": "waypoint"});
    let converted = istio::traffic_extension_of(&both).unwrap();
    assert_eq!(converted["spec"]["targetRefs"], plugin["spec"]["targetRefs"]);
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
