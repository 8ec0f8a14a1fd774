//! Istio's delivery reproduced with the real Envoy: the example WasmPlugins and TrafficExtensions
//! go through the converter into the ECDS scenario, named as each Istio version names them.
//!
//! The converter (tests/src/istio.rs) is this project's model of istiod and the istio-agent; no
//! istiod runs here. So the expected values below are not the model's own output written down:
//! each is a fact read in istio/istio's source, cited by file, line and commit:
//! - tag 1.29.6 = 7019d6d3608e4995e9a36d2977cfec3a341431cd (the last release naming WasmPlugins
//!   after themselves);
//! - master 86c9f01fd735fb01d8192f5bcaf0d424afb7f14c (TrafficExtension, 1.30 onwards).
//!
//! When Istio changes one of these, the test keeps passing against the stale model: re-read the
//! cited lines at the new release and update both.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::HashMap;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use sticky_canary_e2e::istio::IstioVersion;
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
const SERVICEA_TE: &str = "examples/servicea/trafficextension/trafficextension.yaml";
const SLIDER_TE: &str = "examples/servicea/trafficextension/slider/trafficextension-10-90.yaml";

/// The names istiod gives the servicea plugin (resource and listener filter, Wasm `config.name`),
/// from pilot/pkg/model/extensions.go:
/// - at 7019d6d (1.29.6) line 53 `WasmPluginResourceNamePrefix = "extensions.istio.io/wasmplugin/"`
///   and line 271 `ResourceName: WasmPluginResourceNamePrefix + plugin.Namespace + "." + plugin.Name`;
/// - at 86c9f01 (master; the same at tags 1.30.0, 1.30.3, 1.31.0-rc.0) line 53
///   `TrafficExtensionResourceNamePrefix = "extensions.istio.io/trafficextension/"` and line 352
///   likewise; from 1.30 a WasmPlugin becomes a TrafficExtension named
///   `<name>~istio-translated-wasmplugin`: pilot/pkg/config/kube/extensions/translate.go line 27
///   `const syntheticMarker = "~istio-translated-wasmplugin"`, line 70 `cfg.Name + syntheticMarker`;
/// - `config.name` = namespace + "." + name (extensions.go at 7019d6d lines 161 and 164).
const NAMINGS: [(&str, IstioVersion, &str, &str); 3] = [
    (
        SERVICEA,
        IstioVersion::CLASSIC,
        "extensions.istio.io/wasmplugin/istio-system.sticky-canary",
        "istio-system.sticky-canary",
    ),
    (
        SERVICEA,
        IstioVersion::TRANSLATING,
        "extensions.istio.io/trafficextension/istio-system.sticky-canary~istio-translated-wasmplugin",
        "istio-system.sticky-canary~istio-translated-wasmplugin",
    ),
    (
        SERVICEA_TE,
        IstioVersion::TRANSLATING,
        "extensions.istio.io/trafficextension/istio-system.sticky-canary",
        "istio-system.sticky-canary",
    ),
];

fn manifest(file: &str) -> Value {
    load_file(&repo_root(), file)
}

fn wasm_path() -> String {
    wasm_module().to_str().unwrap().to_string()
}

fn extension(file: &str) -> Value {
    istio::extension_config(&manifest(file), &wasm_path()).unwrap()
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

/// The model against istiod 1.29.6 (pilot/pkg/model/extensions.go at 7019d6d, line numbers in
/// the comments) followed by the agent (pkg/wasm/convert.go at 7019d6d).
#[test]
fn the_istiod_model_builds_what_istio_1_29_source_builds_for_the_servicea_wasmplugin() {
    let extension =
        istio::extension_config(&manifest(SERVICEA), "/var/lib/istio/data/x.wasm").unwrap();
    let config_json = istio::plugin_config_json(&manifest(SERVICEA)).unwrap();
    assert_eq!(
        extension,
        json!({
            // Lines 53 and 271 (see `NAMINGS`).
            "name": "extensions.istio.io/wasmplugin/istio-system.sticky-canary",
            "typed_config": {
                "@type": "type.googleapis.com/envoy.extensions.filters.http.wasm.v3.Wasm",
                "config": {
                    // Lines 161 and 164: `Name: resourceName`, namespace + "." + name.
                    "name": "istio-system.sticky-canary",
                    // Line 165: `RootId: plugin.PluginName`.
                    "root_id": "sticky_canary",
                    // Lines 140-147: `wrapperspb.StringValue{Value: protomarshal.ToJSON(...)}`.
                    "configuration": {
                        "@type": "type.googleapis.com/google.protobuf.StringValue",
                        "value": config_json,
                    },
                    // Lines 43 and 336: `Runtime: defaultRuntime`, "envoy.wasm.runtime.v8". The
                    // agent swaps the remote source for the file it fetched and strips the
                    // ISTIO_META_* variables istiod adds (convert.go lines 366-371), which leaves
                    // no environment here.
                    "vm_config": {
                        "runtime": "envoy.wasm.runtime.v8",
                        "code": {"local": {"filename": "/var/lib/istio/data/x.wasm"}},
                    },
                    // Lines 170-177: FAIL_OPEN -> FAIL_OPEN.
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
    // FAIL_CLOSE is FailStrategy's zero value, so an unset failStrategy is FAIL_CLOSE (istio/api
    // extensions/v1alpha1/wasm.proto, at the 1092f7f89789 istio.io/api that 1.29.6's go.mod
    // pins), and lines 173-174 turn FAIL_CLOSE into FAIL_CLOSED.
    assert_eq!(
        config["failure_policy"], "FAIL_CLOSED",
        "Istio's default is FAIL_CLOSE"
    );
    // buildVMConfig, lines 354-365: INLINE values go to key_values, HOST names to host_env_keys.
    assert_eq!(
        config["vm_config"]["environment_variables"],
        json!({"host_env_keys": ["POD_NAME"], "key_values": {"MODE": "x"}})
    );
}

/// Every Istio modelled builds the same filter; only the names differ (see `NAMINGS`).
#[test]
fn the_istiod_model_names_the_plugin_as_each_istio_version_source_does() {
    let classic = extension(SERVICEA);
    for (file, istio_version, resource, plugin) in NAMINGS {
        for version in [istio_version, IstioVersion::NEWEST] {
            if (version >= IstioVersion::TRANSLATING)
                != (istio_version >= IstioVersion::TRANSLATING)
            {
                continue;
            }
            let got = istio::extension_config_for(&manifest(file), &wasm_path(), version).unwrap();
            assert_eq!(got["name"], resource, "{file} on Istio {version}");
            assert_eq!(
                istio::resource_name(&manifest(file), version).unwrap(),
                resource
            );
            let mut expected = classic.clone();
            expected["name"] = json!(resource);
            expected["typed_config"]["config"]["name"] = json!(plugin);
            assert_eq!(got, expected, "{file} on Istio {version}");
        }
    }
    for version in ["1.26", "1.29.6"] {
        let version = IstioVersion::parse(version).unwrap();
        assert!(version < IstioVersion::TRANSLATING);
        assert_eq!(
            istio::extension_config_for(&manifest(SERVICEA_TE), "m.wasm", version).unwrap_err(),
            format!("TrafficExtension needs Istio 1.30 or later (asked for {version})")
        );
    }
    assert_eq!(IstioVersion::parse("master"), Ok(IstioVersion::NEWEST));
    assert_eq!(IstioVersion::parse("1.31.0-rc.0"), Ok(IstioVersion::NEWEST));
    assert_eq!(IstioVersion::parse("1.30.3"), Ok(IstioVersion::TRANSLATING));
    assert_eq!(
        IstioVersion::parse("1.25").unwrap_err(),
        "Istio version 1.25: only 1.26 to 1.31 (and master) are modelled"
    );
    assert_eq!(
        IstioVersion::parse("2.0").unwrap_err(),
        r#"Istio version "2.0": expected 1.MINOR[.PATCH] or master"#
    );

    // FAIL_RELOAD joined Istio's FailStrategy in 1.27 (its CRD lists it from tag 1.27.0).
    let mut reload = manifest(SERVICEA);
    reload["spec"]["failStrategy"] = json!("FAIL_RELOAD");
    let on =
        |v: &str| istio::extension_config_for(&reload, "m.wasm", IstioVersion::parse(v).unwrap());
    assert_eq!(
        on("1.27").unwrap()["typed_config"]["config"]["failure_policy"],
        "FAIL_RELOAD"
    );
    assert_eq!(
        on("1.26").unwrap_err(),
        r#"failStrategy "FAIL_RELOAD" unknown to Istio 1.26"#
    );
}

/// istio/istio pkg/wasm/convert.go at 7019d6d (1.29.6; identical at 1.30.0 and 86c9f01):
/// `createHTTPDefaultFilter` (lines 70-82) keeps the resource name; `allowHTTPTypedConfig` (line
/// 48) has no rules and prefix "wasm-default-allow" (line 42), `denyHTTPTypedConfig` (line 53)
/// an empty rule set and "wasm-default-deny" (line 44).
#[test]
fn the_agent_model_pushes_the_rbac_filter_istio_source_builds_when_the_module_cannot_be_fetched() {
    let open =
        istio::extension_config_for(&manifest(SERVICEA), "m.wasm", IstioVersion::NEWEST).unwrap();
    assert_eq!(
        istio::fetch_failure_config(&open),
        json!({
            "name": "extensions.istio.io/trafficextension/istio-system.sticky-canary~istio-translated-wasmplugin",
            "typed_config": {
                "@type": "type.googleapis.com/envoy.extensions.filters.http.rbac.v3.RBAC",
                "rules_stat_prefix": "wasm-default-allow",
            }
        })
    );
    for strategy in ["FAIL_CLOSE", "FAIL_RELOAD"] {
        let mut closed = manifest(SERVICEA_TE);
        closed["spec"]["wasm"]["failStrategy"] = json!(strategy);
        let extension =
            istio::extension_config_for(&closed, "m.wasm", IstioVersion::NEWEST).unwrap();
        assert_eq!(
            istio::fetch_failure_config(&extension),
            json!({
                "name": "extensions.istio.io/trafficextension/istio-system.sticky-canary",
                "typed_config": {
                    "@type": "type.googleapis.com/envoy.extensions.filters.http.rbac.v3.RBAC",
                    "rules": {},
                    "rules_stat_prefix": "wasm-default-deny",
                }
            }),
            "{strategy}"
        );
    }
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

/// Polls until `probe` answers `want` (a push reaches the workers a little after Envoy counts it).
fn wait_served(client: &mut Client, probe: &[(&str, &[u8])], want: &str, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let response = client.get("/", probe);
        if response.status == 200 && response.header("x-served-by") == Some(want) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{what}: still status {} from {:?}",
            response.status,
            response.header("x-served-by")
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn push_accepted(envoy: &mut Envoy, extension: &Value, pushes: u64) {
    envoy.push_extension(extension);
    envoy.wait_for("the push to be accepted", Duration::from_secs(30), |e| {
        e.ecds_stat("update_success") + e.ecds_stat("update_rejected") >= pushes
    });
    assert_eq!(envoy.ecds_stat("update_success"), pushes);
    assert_eq!(envoy.ecds_stat("update_rejected"), 0);
}

/// Each naming Istio uses (see `NAMINGS`), through Envoy: the filter named as Istio names it
/// routes every user as the oracle says and applies the rules, takes the 10/90 slider under the
/// same name, and then the agent's stand-ins for an unfetchable module: allow-all under
/// FAIL_OPEN (the filter gone, so a forged routing header gets through) and deny-all otherwise.
#[test]
fn every_istio_naming_of_the_servicea_plugin_routes_ramps_and_falls_back_in_envoy() {
    for (file, version, resource, _) in NAMINGS {
        let slider = if file == SERVICEA { SLIDER } else { SLIDER_TE };
        let convert =
            |f: &str| istio::extension_config_for(&manifest(f), &wasm_path(), version).unwrap();
        let (at_50, at_90) = (convert(file), convert(slider));
        assert_eq!(at_90["name"], resource, "{slider} on Istio {version}");
        let config_50 = istio::plugin_config_json(&manifest(file)).unwrap();
        let config_90 = istio::plugin_config_json(&manifest(slider)).unwrap();

        let mut envoy = Envoy::start_extension(&at_50);
        assert_eq!(envoy.ecds_filter(), resource);
        assert_eq!(envoy.ecds_stat("update_success"), 1, "{resource}");
        assert!(envoy.log().contains("routes: service-a [v1=50 v2=50]"));
        let mut client = envoy.front();
        let checked = users(&format!("istio-{version}"), 200);
        for id in &checked {
            let headers = [("x-user-id", id.as_bytes())];
            let want = expected_subset(&config_50, "/", &headers).unwrap();
            assert_eq!(served(&mut client, "/", &headers), want, "{resource}, {id}");
        }
        for id in users_on(&config_50, "v1", 5) {
            let key = ("x-user-id", id.as_bytes());
            assert_eq!(
                served(&mut client, "/?version=v2", &[key]),
                "v2",
                "{resource}"
            );
            assert_eq!(
                served(&mut client, "/", &[key, ("x-canary", b"true")]),
                "v2",
                "{resource}"
            );
        }

        push_accepted(&mut envoy, &at_90, 2);
        let mover = checked
            .iter()
            .find(|id| subset_of(&config_50, id) == "v1" && subset_of(&config_90, id) == "v2")
            .unwrap();
        wait_served(
            &mut client,
            &[("x-user-id", mover.as_bytes())],
            "v2",
            "the 10/90 push",
        );
        for id in &checked {
            let headers = [("x-user-id", id.as_bytes())];
            assert_eq!(
                served(&mut client, "/", &headers),
                subset_of(&config_90, id),
                "{resource}, {id} at 10/90"
            );
        }

        let on_v1 = users_on(&config_90, "v1", 1).remove(0);
        let forged = [
            ("x-user-id", on_v1.as_bytes()),
            ("x-canary-subset", &b"v2"[..]),
        ];
        assert_eq!(served(&mut client, "/", &forged), "v1", "{resource}");
        push_accepted(&mut envoy, &istio::fetch_failure_config(&at_90), 3);
        wait_served(&mut client, &forged, "v2", "the allow-all stand-in");

        let mut closed = at_90.clone();
        closed["typed_config"]["config"]["failure_policy"] = json!("FAIL_CLOSED");
        push_accepted(&mut envoy, &istio::fetch_failure_config(&closed), 4);
        envoy.wait_for("the deny-all stand-in", Duration::from_secs(30), |e| {
            e.front().get("/", &forged).status == 403
        });
        for id in checked.iter().take(20) {
            let response = client.get("/", &[("x-user-id", id.as_bytes())]);
            assert_eq!(response.status, 403, "{resource}, {id}: denied");
        }
    }
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
    let traffic = Traffic::start(&envoy, &background);
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
    for (user, subset) in recorded.served() {
        forward.observe(user, subset).unwrap();
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
