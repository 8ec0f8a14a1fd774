//! Istio's delivery reproduced with the real Envoy: the example WasmPlugins go through the
//! converter (tests/src/istio.rs: the ECDS resource istiod and the istio-agent produce) into the
//! ECDS scenario, named as Istio names them.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::HashMap;
use std::time::Duration;

use serde_json::{json, Value};
use sticky_canary_e2e::manifests::load_file;
use sticky_canary_e2e::ramp::{assert_one_switch, push_while_flowing, ForwardOnly};
use sticky_canary_e2e::traffic::Traffic;
use sticky_canary_e2e::{
    expected_subset, istio, repo_root, subset_of, users_on, wasm_module, Client, Envoy,
    EnvoyOptions,
};

const SERVICEA: &str = "examples/servicea/wasmplugin.yaml";
const SLIDER: &str = "examples/servicea/slider/wasmplugin-10-90.yaml";
const SIDECAR: &str = "examples/sidecar/wasmplugin.yaml";

fn manifest(file: &str) -> Value {
    load_file(&repo_root(), file)
}

fn extension(file: &str) -> Value {
    istio::extension_config(&manifest(file), wasm_module().to_str().unwrap()).unwrap()
}

fn users(prefix: &str, n: usize) -> Vec<String> {
    (0..n).map(|i| format!("{prefix}-{i}")).collect()
}

fn served(client: &mut Client, path: &str, headers: &[(&str, &[u8])]) -> String {
    let response = client.get(path, headers);
    assert_eq!(response.status, 200);
    assert_eq!(
        response.received_subset(),
        Some(response.served_by()),
        "the upstream got the subset it serves"
    );
    response.served_by().to_string()
}

#[test]
fn the_converter_emits_the_resource_istio_builds_for_the_servicea_wasmplugin() {
    let extension =
        istio::extension_config(&manifest(SERVICEA), "/var/lib/istio/data/x.wasm").unwrap();
    let config_json = istio::plugin_config_json(&manifest(SERVICEA)).unwrap();
    assert_eq!(
        extension,
        json!({
            "name": "extensions.istio.io/wasmplugin/istio-system.sticky-canary",
            "typed_config": {
                "@type": "type.googleapis.com/envoy.extensions.filters.http.wasm.v3.Wasm",
                "config": {
                    "name": "istio-system.sticky-canary",
                    "root_id": "sticky_canary",
                    "configuration": {
                        "@type": "type.googleapis.com/google.protobuf.StringValue",
                        "value": config_json,
                    },
                    "vm_config": {
                        "runtime": "envoy.wasm.runtime.v8",
                        "code": {"local": {"filename": "/var/lib/istio/data/x.wasm"}},
                    },
                    "failure_policy": "FAIL_OPEN",
                }
            }
        })
    );
    // protojson prints a Struct with sorted keys and whole numbers without a fraction.
    assert!(config_json
        .starts_with(r#"{"routes":[{"match":{"hosts":["servicea.com"]},"name":"service-a","#));
    assert!(
        config_json.contains(r#""subsets":[{"name":"v1","weight":50},{"name":"v2","weight":50}]"#)
    );
    assert!(config_json.ends_with(r#""routingHeader":"x-canary-subset"}"#));

    let mut closed = manifest(SERVICEA);
    closed["spec"]
        .as_object_mut()
        .unwrap()
        .remove("failStrategy");
    closed["spec"]["vmConfig"] =
        json!({"env": [{"name": "POD_NAME", "valueFrom": "HOST"}, {"name": "MODE", "value": "x"}]});
    let converted = istio::extension_config(&closed, "m.wasm").unwrap();
    let config = &converted["typed_config"]["config"];
    assert_eq!(
        config["failure_policy"], "FAIL_CLOSED",
        "Istio's default is FAIL_CLOSE"
    );
    assert_eq!(
        config["vm_config"]["environment_variables"],
        json!({"host_env_keys": ["POD_NAME"], "key_values": {"MODE": "x"}})
    );
}

#[test]
fn the_servicea_wasmplugin_splits_users_50_50_and_its_rules_send_to_v2_in_envoy() {
    let extension = extension(SERVICEA);
    let config = istio::plugin_config_json(&manifest(SERVICEA)).unwrap();
    let envoy = Envoy::start_extension(&extension);
    assert_eq!(envoy.ecds_filter(), extension["name"]);
    assert_eq!(envoy.ecds_stat("update_success"), 1);
    assert_eq!(envoy.ecds_stat("update_rejected"), 0);
    let started = format!("sticky-canary {} (git ", env!("CARGO_PKG_VERSION"));
    let line = envoy
        .log()
        .lines()
        .find(|l| l.contains(&started) && l.ends_with(") started"))
        .map(str::to_string)
        .unwrap_or_else(|| panic!("no version line in Envoy's log:\n{}", envoy.log()));
    let revision = line
        .rsplit("(git ")
        .next()
        .unwrap()
        .trim_end_matches(") started");
    assert!(
        revision == "unknown"
            || (revision.len() == 12 && revision.chars().all(|c| c.is_ascii_hexdigit())),
        "revision in {line:?}"
    );
    assert!(envoy.log().contains(
        "sticky-canary: configured routing header x-canary-subset, routes: service-a [v1=50 v2=50]"
    ));

    let mut client = envoy.front();
    let all = users("user", 1000);
    let mut count: HashMap<String, usize> = HashMap::new();
    for id in &all {
        let got = served(&mut client, "/", &[("x-user-id", id.as_bytes())]);
        let expected = expected_subset(&config, "/", &[("x-user-id", id.as_bytes())]).unwrap();
        assert_eq!(got, expected, "user {id}");
        *count.entry(got).or_default() += 1;
    }
    assert!(
        (450..=550).contains(&count["v2"]),
        "50/50 by user: {count:?}"
    );

    for id in users_on(&config, "v1", 20) {
        let key = ("x-user-id", id.as_bytes());
        assert_eq!(served(&mut client, "/", &[key]), "v1", "user {id}");
        assert_eq!(
            served(&mut client, "/?version=v2", &[key]),
            "v2",
            "query rule, {id}"
        );
        assert_eq!(
            served(&mut client, "/", &[key, ("x-canary", b"true")]),
            "v2",
            "header rule, {id}"
        );
        assert_eq!(served(&mut client, "/?version=v3", &[key]), "v1", "{id}");
        assert_eq!(
            served(&mut client, "/", &[key, ("x-canary-subset", b"v2")]),
            "v1",
            "forged, {id}"
        );
    }
    let prefix = "wasmcustom.sticky_canary.requests_total.route.service-a.subset.v2.reason.";
    let rule = format!("{prefix}rule");
    // Counters reach Envoy on the filter's tick (1 s), so they are polled; 40 must not grow.
    envoy.wait_for(
        "the 40 rule decisions to be counted",
        Duration::from_secs(10),
        |e| e.stat(&rule) >= 40,
    );
    assert_eq!(envoy.stat(&rule), 40);
}

#[test]
fn ramping_to_the_10_90_slider_by_ecds_while_traffic_flows_fails_nothing_and_moves_users_only_to_v2(
) {
    let (at_50, at_90) = (extension(SERVICEA), extension(SLIDER));
    assert_eq!(
        at_50["name"], at_90["name"],
        "the slider is the same WasmPlugin"
    );
    let config_50 = istio::plugin_config_json(&manifest(SERVICEA)).unwrap();
    let config_90 = istio::plugin_config_json(&manifest(SLIDER)).unwrap();

    let mut envoy = Envoy::start_extension(&at_50);
    let background = users("bg", 300);
    let traffic = Traffic::start(envoy.front_port(), background.clone());
    let window = push_while_flowing(
        &mut envoy,
        &traffic,
        &background,
        (&config_50, &config_90),
        |e| e.push_extension(&at_90),
    );
    let recorded = traffic.finish();

    // Every request got the subset of the config in force, which changed once.
    assert_one_switch(&recorded, &background, &config_50, &config_90, window);
    let mut forward = ForwardOnly::new(&["v1", "v2"], background.len());
    for (user, subset) in &recorded.served {
        forward.observe(*user, subset).unwrap();
    }
    let moved = background
        .iter()
        .filter(|id| subset_of(&config_50, id) != subset_of(&config_90, id))
        .count();
    assert!(
        moved > 80,
        "only {moved} of 300 users move from 50 % to 90 %"
    );
    let mut client = envoy.front();
    for id in &background {
        assert_eq!(
            served(&mut client, "/", &[("x-user-id", id.as_bytes())]),
            subset_of(&config_90, id),
            "user {id}"
        );
    }
    assert!(envoy.log().contains("routes: service-a [v1=10 v2=90]"));
    assert_eq!(envoy.ecds_stat("update_rejected"), 0);
}

/// JSON text of `value` with the keys of every object in reverse order.
fn with_keys_reversed(value: &Value) -> String {
    match value {
        Value::Object(map) => {
            let members: Vec<String> = map
                .iter()
                .rev()
                .map(|(k, v)| format!("{}:{}", Value::from(k.as_str()), with_keys_reversed(v)))
                .collect();
            format!("{{{}}}", members.join(","))
        }
        Value::Array(items) => {
            let items: Vec<String> = items.iter().map(with_keys_reversed).collect();
            format!("[{}]", items.join(","))
        }
        scalar => scalar.to_string(),
    }
}

/// Two sidecars differ where real ones do: the second proxy runs two workers, starts after the
/// first was restarted, and gets the pluginConfig JSON with its keys in another order (protojson
/// key order is no contract). Every user gets the same subset from the restarted first, from each
/// of the second's workers, and from the oracle.
#[test]
fn two_sidecars_with_the_same_wasmplugin_give_every_user_the_same_subset() {
    let extension = extension(SIDECAR);
    assert_eq!(
        extension["name"],
        "extensions.istio.io/wasmplugin/default.sticky-canary-client"
    );
    let config = istio::plugin_config_json(&manifest(SIDECAR)).unwrap();
    let mut first = Envoy::start_extension(&extension);
    first.restart();
    assert_eq!(
        first.ecds_stat("update_success"),
        1,
        "read again at restart"
    );

    let reordered = with_keys_reversed(&serde_json::from_str(&config).unwrap());
    assert_ne!(reordered, config);
    assert_eq!(
        serde_json::from_str::<Value>(&reordered).unwrap(),
        serde_json::from_str::<Value>(&config).unwrap()
    );
    let mut other = extension.clone();
    other["typed_config"]["config"]["configuration"]["value"] = json!(reordered);
    let second = EnvoyOptions::extension(&other).concurrency(2).start();
    assert_eq!(second.ecds_stat("update_success"), 1);
    assert!(second.log().contains("routes: service-a [v1=90 v2=10]"));

    let mut a = first.front();
    let mut workers = second.one_client_per_worker();
    let accepted = second.front_connections_per_worker();
    let mut on_v2 = 0;
    for (i, id) in users("caller", 600).iter().enumerate() {
        // Callers name the service in several ways; the port is not part of the match.
        let host: &[u8] = match i % 3 {
            0 => b"service-a:7777",
            1 => b"service-a.default.svc.cluster.local",
            _ => b"service-a.default",
        };
        let headers = [("host", host), ("x-user-id", id.as_bytes())];
        let want = expected_subset(&config, "/", &headers).unwrap();
        assert_eq!(
            served(&mut a, "/", &headers),
            want,
            "user {id}, first sidecar"
        );
        for (worker, client) in workers.iter_mut().enumerate() {
            assert_eq!(
                served(client, "/", &headers),
                want,
                "user {id}, second sidecar's worker {worker}"
            );
        }
        on_v2 += usize::from(want == "v2");
    }
    assert!(
        (30..=90).contains(&on_v2),
        "{on_v2} of 600 callers on v2 at 90/10"
    );
    let qa = [("host", &b"service-a"[..]), ("x-user-id", &b"qa-bot"[..])];
    assert_eq!(served(&mut a, "/", &qa), "v2", "qa-bot is always on v2");
    for client in &mut workers {
        assert_eq!(served(client, "/", &qa), "v2", "qa-bot is always on v2");
    }
    // No client reconnected, so each worker answered every user.
    assert_eq!(second.front_connections_per_worker(), accepted);
}
