//! Which ECDS pushes reuse the running Wasm VM and which start a new one, as the README says:
//! a new pluginConfig is checked in a throw-away canary VM and then configured in the VMs already
//! serving; a new `STICKY_CANARY_TOKEN` (a VM environment variable) changes the VM key, so Envoy
//! (1.39 and later) starts new VMs that read the new secret. On an older Envoy the second test
//! fails: the reused VM keeps the old secret.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Duration;

use serde_json::{json, Value};
use sticky_canary_e2e::{expected_subset_with_token, wasm_module, Envoy};

const FILTER: &str = "extensions.istio.io/wasmplugin/default.sticky-canary";
const CREATED: &str = "wasm.envoy.wasm.runtime.v8.created";
const ACTIVE: &str = "wasm.envoy.wasm.runtime.v8.active";
const PUSH_TIMEOUT: Duration = Duration::from_secs(30);

/// service-a at `v2_weight` % with one override rule: `x-qa` plus the token sends a user to v2.
fn plugin_config(v2_weight: u32) -> String {
    json!({"routes": [{
        "name": "service-a",
        "subsets": [{"name": "v1", "weight": 100 - v2_weight}, {"name": "v2", "weight": v2_weight}],
        "stickiness": {"keys": [{"header": "x-user-id"}]},
        "rules": [{"subset": "v2", "requireToken": true, "match": {"headers": [{"name": "x-qa", "present": true}]}}]
    }]})
    .to_string()
}

/// The extension config Istio would push for the plugin with this secret in `vmConfig.env`.
fn extension(secret: &str, v2_weight: u32) -> Value {
    json!({
        "name": FILTER,
        "typed_config": {
            "@type": "type.googleapis.com/envoy.extensions.filters.http.wasm.v3.Wasm",
            "config": {
                "name": "sticky_canary",
                "root_id": "sticky_canary",
                "vm_config": {
                    "vm_id": "sticky_canary",
                    "runtime": "envoy.wasm.runtime.v8",
                    "environment_variables": {"key_values": {"STICKY_CANARY_TOKEN": secret}},
                    "code": {"local": {"filename": wasm_module().to_str().unwrap()}}
                },
                "configuration": {
                    "@type": "type.googleapis.com/google.protobuf.StringValue",
                    "value": plugin_config(v2_weight)
                }
            }
        }
    })
}

/// alice with `x-qa` and this token: the subset that served her.
fn served_with_token(envoy: &Envoy, token: &str) -> String {
    let headers: [(&str, &[u8]); 3] = [
        ("x-user-id", b"alice"),
        ("x-qa", b"1"),
        ("x-canary-token", token.as_bytes()),
    ];
    envoy.front().get("/", &headers).served_by().to_string()
}

/// What the core decides for that request in a VM holding `secret`.
fn expected_with_token(v2_weight: u32, secret: &str, token: &str) -> String {
    let headers: [(&str, &[u8]); 3] = [
        ("x-user-id", b"alice"),
        ("x-qa", b"1"),
        ("x-canary-token", token.as_bytes()),
    ];
    expected_subset_with_token(&plugin_config(v2_weight), Some(secret), "/", &headers).unwrap()
}

#[test]
fn a_new_plugin_config_reuses_the_vm_after_one_canary_vm() {
    let mut envoy = Envoy::start_extension(&extension("first-secret", 10));
    assert_eq!(served_with_token(&envoy, "first-secret"), "v2");
    let (created, active) = (envoy.stat(CREATED), envoy.stat(ACTIVE));

    envoy.push_extension(&extension("first-secret", 20));
    envoy.wait_for("the push to be accepted", PUSH_TIMEOUT, |e| {
        e.ecds_stat("update_success") == 2
    });
    assert_eq!(
        envoy.stat(CREATED),
        created + 1,
        "only the canary VM is created"
    );
    envoy.wait_for("the canary VM to be released", PUSH_TIMEOUT, |e| {
        e.stat(ACTIVE) == active
    });
    assert_eq!(served_with_token(&envoy, "first-secret"), "v2");
}

#[test]
fn a_new_secret_starts_new_vms_that_read_it() {
    let mut envoy = Envoy::start_extension(&extension("first-secret", 10));
    assert_eq!(served_with_token(&envoy, "first-secret"), "v2");
    let without_override = expected_with_token(20, "second-secret", "first-secret");
    assert_ne!(
        without_override, "v2",
        "alice must hash to v1 for this test"
    );
    let (created, active) = (envoy.stat(CREATED), envoy.stat(ACTIVE));

    envoy.push_extension(&extension("second-secret", 20));
    envoy.wait_for("the push to be accepted", PUSH_TIMEOUT, |e| {
        e.ecds_stat("update_success") == 2
    });
    envoy.wait_for("the new secret to open the rule", PUSH_TIMEOUT, |e| {
        served_with_token(e, "second-secret") == "v2"
    });
    assert_eq!(served_with_token(&envoy, "first-secret"), without_override);
    assert!(
        envoy.stat(CREATED) > created + 1,
        "no VM was created besides the canary: {} -> {}",
        created,
        envoy.stat(CREATED)
    );
    envoy.wait_for("the old VMs to be released", PUSH_TIMEOUT, |e| {
        e.stat(ACTIVE) == active
    });
}
