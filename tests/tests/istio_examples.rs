//! Every Istio manifest under examples/ (the Envoy Gateway and Higress ones: gateway_examples.rs)
//! is valid: against Istio's own CRD schema (or the project's schema of the standard kinds), the
//! plugin configuration against the filter's own validation, and the manifests against each other
//! (subsets, hosts, labels, routing headers line up; for the ambient example the waypoint, the
//! plugin's targetRefs and the HTTPRoute), so a typo anywhere fails here. The checks, and the unit
//! tests proving each rejects what it should, are in tests/src/manifest_checks.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::PathBuf;

use serde_json::{json, Value};
use sticky_canary_e2e::manifest_checks::istio_consistency::{inconsistencies, of_kind};
use sticky_canary_e2e::manifest_checks::{istio_manifests, istio_schemas, kinds, manifest_errors};
use sticky_canary_e2e::manifests::{json_patch, load_file, readme_patches, Manifest};
use sticky_canary_e2e::{istio, repo_root};

fn examples() -> Vec<Manifest> {
    let all = istio_manifests();
    assert!(
        all.len() > 20,
        "examples/ holds only {} manifests",
        all.len()
    );
    all
}

fn servicea(file: &str) -> Value {
    load_file(&repo_root(), &format!("examples/servicea/{file}"))
}

#[test]
fn every_example_manifest_is_valid_against_its_schema_and_the_filters_validation() {
    let schemas = istio_schemas();
    let all = examples();
    let mut failures = Vec::new();
    for manifest in &all {
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
    assert_eq!(kinds(&all), expected);
}

// ---- the manifests agree with each other ----

#[test]
fn the_examples_agree_with_each_other() {
    let problems = inconsistencies(&examples());
    assert!(problems.is_empty(), "{}", problems.join("\n"));
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
        let schemas = istio_schemas();
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
    let schemas = istio_schemas();
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
    let schemas = istio_schemas();
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
