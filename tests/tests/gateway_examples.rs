//! The Envoy Gateway and Higress examples (examples/envoy-gateway, examples/higress) are valid:
//! against those projects' own CRD schemas (and Gateway API's), the plugin configuration each
//! gateway derives against the filter's own validation, and the manifests against each other:
//! every route on the routing header goes to the Service of the subset it names, every subset the
//! filter writes is reachable, requests without the header reach the stable subset, and the
//! filter covers the routed hosts. The checks, and the unit tests proving each rejects a typo,
//! are in tests/src/manifest_checks.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use serde_json::{json, Value};
use sticky_canary_e2e::manifest_checks::gateway_consistency::inconsistencies;
use sticky_canary_e2e::manifest_checks::{
    gateway_document, gateway_manifests, gateway_schemas, kinds, manifest_errors, ENVOY_GATEWAY,
    HIGRESS,
};
use sticky_canary_e2e::manifests::{json_patch, readme_patches};

#[test]
fn every_gateway_example_is_valid_against_its_projects_schema_and_the_filters_validation() {
    let schemas = gateway_schemas();
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
        let all = gateway_manifests(dir);
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

// ---- the manifests agree with each other ----

#[test]
fn the_gateway_examples_agree_with_each_other() {
    for dir in [ENVOY_GATEWAY, HIGRESS] {
        let problems = inconsistencies(&gateway_manifests(dir));
        assert!(problems.is_empty(), "{dir}:\n{}", problems.join("\n"));
    }
}

#[test]
fn the_readme_ramp_patches_give_a_valid_10_90_split_on_both_gateways() {
    let schemas = gateway_schemas();
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
        let mut patched = gateway_document(dir, kind);
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
