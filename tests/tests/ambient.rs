//! The ambient example (examples/ambient) in a real Envoy set up as its waypoint's chain for
//! service-a (envoy/ambient/envoy.yaml): the scenario's route table is the one Istio builds from
//! the example's HTTPRoute (tests/src/waypoint.rs) and its filter runs the example's pluginConfig,
//! so neither can drift from the manifests; every user is served by the version the hashing
//! contract gives, the same as through the sidecar example's plugin, and whatever the plugin does
//! not route reaches the stable version.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use serde_json::Value;
use sticky_canary_e2e::bootstrap::Step::{Index, Key};
use sticky_canary_e2e::bootstrap::{
    listener_hcm, Bootstrap, Step, AMBIENT_BOOTSTRAP, FRONT_LISTENER,
};
use sticky_canary_e2e::envoy::EnvoyOptions;
use sticky_canary_e2e::manifests::{load_dir, load_file};
use sticky_canary_e2e::{
    expected_outcome, expected_subset, istio, repo_root, waypoint, Envoy, Expected,
};

const USERS: usize = 2000;

/// The names a client in the namespace calls service-a by, with the port as curl sends it.
const HOSTS: [&str; 4] = [
    "service-a:7777",
    "service-a.ambient:7777",
    "service-a.ambient.svc:7777",
    "service-a.ambient.svc.cluster.local:7777",
];

fn routes_path() -> Vec<Step<'static>> {
    let mut path = listener_hcm(FRONT_LISTENER);
    path.extend([
        Key("route_config"),
        Key("virtual_hosts"),
        Index(0),
        Key("routes"),
    ]);
    path
}

fn plugin_config_path() -> Vec<Step<'static>> {
    let mut path = listener_hcm(FRONT_LISTENER);
    path.extend([
        Key("http_filters"),
        Index(0),
        Key("typed_config"),
        Key("config"),
        Key("configuration"),
        Key("value"),
    ]);
    path
}

/// The pluginConfig Istio hands the waypoint's filter for the example's WasmPlugin.
fn plugin_config() -> String {
    istio::plugin_config_json(&load_file(&repo_root(), "examples/ambient/wasmplugin.yaml")).unwrap()
}

/// The Envoy routes Istio's waypoint builds from the example's HTTPRoute.
fn waypoint_routes() -> Value {
    let manifests = load_dir(&repo_root(), "examples/ambient");
    let route = manifests
        .iter()
        .find(|m| m.kind() == "HTTPRoute" && m.name() == "service-a")
        .unwrap();
    let services: Vec<&Value> = manifests
        .iter()
        .filter(|m| m.kind() == "Service")
        .map(|m| &m.value)
        .collect();
    waypoint::envoy_routes(&waypoint::routes(&route.value).unwrap(), &services).unwrap()
}

/// The scenario, with the route table the HTTPRoute gives put in (the file's own is checked to be
/// the same by the test below).
fn start_waypoint(config: &str) -> Envoy {
    let routes = waypoint_routes();
    EnvoyOptions::listeners(AMBIENT_BOOTSTRAP, &[("front", config)])
        .edit_bootstrap(move |bootstrap, _| *bootstrap.0.at(&routes_path()) = routes.clone())
        .start()
}

#[test]
fn the_scenario_routes_as_the_examples_httproute_with_the_examples_plugin_config() {
    let mut bootstrap = Bootstrap::load(AMBIENT_BOOTSTRAP);
    assert_eq!(
        bootstrap.0.at(&routes_path()).clone(),
        waypoint_routes(),
        "{AMBIENT_BOOTSTRAP}'s routes are not what examples/ambient/httproute.yaml gives"
    );
    assert_eq!(
        bootstrap.0.at(&plugin_config_path()).as_str(),
        Some(plugin_config().as_str()),
        "{AMBIENT_BOOTSTRAP}'s pluginConfig is not examples/ambient/wasmplugin.yaml's"
    );
    // The TrafficExtension twin hands the filter the same configuration.
    let twin = load_file(
        &repo_root(),
        "examples/ambient/trafficextension/trafficextension.yaml",
    );
    assert_eq!(istio::plugin_config_json(&twin).unwrap(), plugin_config());
}

#[test]
fn every_user_is_served_by_the_version_the_contract_gives_as_through_a_sidecar() {
    let config = plugin_config();
    // The sidecar example's plugin, for the name service-a (its hosts are in `default`).
    let sidecar =
        istio::plugin_config_json(&load_file(&repo_root(), "examples/sidecar/wasmplugin.yaml"))
            .unwrap();
    let envoy = start_waypoint(&config);
    let mut client = envoy.front();
    let mut on_v2 = 0;
    for i in 0..USERS {
        let id = format!("user-{i}");
        let host = HOSTS[i % HOSTS.len()];
        let headers: [(&str, &[u8]); 2] = [("host", host.as_bytes()), ("x-user-id", id.as_bytes())];
        let expected = expected_subset(&config, "/", &headers).unwrap();
        let through_sidecar = expected_subset(
            &sidecar,
            "/",
            &[("host", b"service-a:7777"), ("x-user-id", id.as_bytes())],
        )
        .unwrap();
        assert_eq!(expected, through_sidecar, "user {id}");
        let response = client.get("/", &headers);
        assert_eq!(response.status, 200, "user {id} on {host}");
        assert_eq!(response.served_by(), expected, "user {id} on {host}");
        assert_eq!(response.received_subset(), Some(expected.as_str()));
        assert_eq!(
            response.body,
            if expected == "v1" { b"A\n" } else { b"B\n" }
        );
        on_v2 += usize::from(expected == "v2");
    }
    let share = on_v2 as f64 * 100.0 / USERS as f64;
    assert!(
        (8.0..=12.0).contains(&share),
        "v2 got {share:.2} % of {USERS} users, want 10 ± 2"
    );
    for host in HOSTS {
        let response = client.get("/", &[("host", host.as_bytes()), ("x-user-id", b"qa-bot")]);
        assert_eq!(response.served_by(), "v2", "qa-bot on {host}");
    }
}

#[test]
fn a_forged_header_is_overwritten_and_what_the_plugin_does_not_route_goes_to_the_stable_version() {
    let config = plugin_config();
    let envoy = start_waypoint(&config);
    let mut client = envoy.front();
    for i in 0..200 {
        let id = format!("user-{i}");
        let forged = |subset: &str| if subset == "v1" { "v2" } else { "v1" };
        let headers: [(&str, &[u8]); 2] =
            [("host", b"service-a:7777"), ("x-user-id", id.as_bytes())];
        let expected = expected_subset(&config, "/", &headers).unwrap();
        let with_forgery: [(&str, &[u8]); 3] = [
            headers[0],
            headers[1],
            ("x-canary-subset", forged(&expected).as_bytes()),
        ];
        let response = client.get("/", &with_forgery);
        assert_eq!(response.served_by(), expected, "user {id}");
        assert_eq!(response.received_subset(), Some(expected.as_str()));

        // A host the plugin does not split (the waypoint-wide form would run it for other
        // Services): the header is removed, and the HTTPRoute's last rule serves v1.
        let elsewhere: [(&str, &[u8]); 3] = [
            ("host", b"service-a-v2:7777"),
            headers[1],
            ("x-canary-subset", b"v2"),
        ];
        assert_eq!(
            expected_outcome(&config, "/", &elsewhere),
            Expected::Unrouted
        );
        let response = client.get("/", &elsewhere);
        assert_eq!(response.served_by(), "v1", "user {id}");
        assert_eq!(response.received_subset(), None);
    }
    // No key: the random fallback, still routed on the header it wrote.
    let keyless: [(&str, &[u8]); 1] = [("host", b"service-a:7777")];
    assert_eq!(expected_outcome(&config, "/", &keyless), Expected::Random);
    for _ in 0..50 {
        let response = client.get("/", &keyless);
        assert_eq!(response.received_subset(), Some(response.served_by()));
    }
}

/// Baggage as Istio's peer-metadata filter writes it for a workload (istio/proxy release-1.29
/// extensions/common/metadata_object.cc, `WorkloadMetadataObject::baggage`): what a waypoint with
/// AMBIENT_ENABLE_BAGGAGE (Istio 1.29+, alpha) puts on its HBONE CONNECT and on responses, and
/// reads back from a request's `baggage` when it cannot tell the peer from its address.
const ISTIO_BAGGAGE: &str = "k8s.deployment.name=frontend,service.name=frontend,service.version=latest,k8s.namespace.name=ambient,k8s.cluster.name=Kubernetes";

/// The keys Istio's parser takes from baggage (metadata_object.cc, `ALL_BAGGAGE_TOKENS`, release-1.29);
/// it splits on `,` and then `=`, and ignores every other member.
const ISTIO_BAGGAGE_KEYS: [&str; 11] = [
    "k8s.namespace.name",
    "k8s.cluster.name",
    "service.name",
    "service.version",
    "app.name",
    "app.version",
    "k8s.deployment.name",
    "k8s.pod.name",
    "k8s.cronjob.name",
    "k8s.job.name",
    "k8s.instance.name",
];

/// What Istio's parser reads from a baggage value: its members, in order.
fn istio_view(baggage: &str) -> Vec<(&str, &str)> {
    baggage
        .split(',')
        .filter_map(|member| member.split_once('='))
        .filter(|(key, _)| ISTIO_BAGGAGE_KEYS.contains(key))
        .collect()
}

#[test]
fn a_baggage_lane_leaves_the_members_istio_reads_for_ambient_telemetry_as_they_were() {
    let mut config: Value = serde_json::from_str(&plugin_config()).unwrap();
    config["routes"][0]["lane"] = serde_json::json!({"baggage": "canary-lane"});
    let config = config.to_string();
    let envoy = start_waypoint(&config);
    let mut client = envoy.front();
    assert_eq!(istio_view(ISTIO_BAGGAGE).len(), 5);
    // A forged lane member in the middle is replaced in place (trust: false at this hop).
    let forged = ISTIO_BAGGAGE.replacen(",service.version", ",canary-lane=v2,service.version", 1);
    for i in 0..200 {
        let id = format!("user-{i}");
        for (sent, received) in [
            (ISTIO_BAGGAGE.to_string(), None),
            (forged.clone(), Some(forged.clone())),
        ] {
            let headers: [(&str, &[u8]); 3] = [
                ("host", b"service-a:7777"),
                ("x-user-id", id.as_bytes()),
                ("baggage", sent.as_bytes()),
            ];
            let subset = expected_subset(&config, "/", &headers).unwrap();
            let expected = match received {
                None => format!("{sent},canary-lane={subset}"),
                Some(forged) => forged.replace("canary-lane=v2", &format!("canary-lane={subset}")),
            };
            let response = client.get("/", &headers);
            assert_eq!(response.served_by(), subset, "user {id}");
            let baggage = response.header("x-received-baggage").unwrap();
            assert_eq!(baggage, expected, "user {id}");
            assert_eq!(istio_view(baggage), istio_view(ISTIO_BAGGAGE), "user {id}");
        }
    }
}
