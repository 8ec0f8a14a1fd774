//! `exposeSubset` echoes the choice on the response, and `routingHeader` names the header the
//! filter owns (and only that one).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use serde_json::json;
use sticky_canary_e2e::bootstrap::Step::{Key, Named};
use sticky_canary_e2e::upstream::{Behaviour, Upstream};
use sticky_canary_e2e::{
    service_a_config, service_a_json, subset_of, user_on, Delivery, Envoy, EnvoyOptions, Pending,
};

#[test]
fn the_chosen_subset_is_echoed_on_the_response_only_when_asked() {
    let mut exposed = service_a_json(50);
    exposed["exposeSubset"] = true.into();
    let exposed = exposed.to_string();
    let envoy = Envoy::start(Delivery::Inline, &exposed);
    let mut client = envoy.front();
    for subset in ["v1", "v2"] {
        let id = user_on(&exposed, subset);
        let forged: &[u8] = if subset == "v1" { b"v2" } else { b"v1" };
        let response = client.get(
            "/",
            &[("x-user-id", id.as_bytes()), ("x-canary-subset", forged)],
        );
        assert_eq!(response.served_by(), subset);
        assert_eq!(response.received_subset(), Some(subset), "user {id}");
        assert_eq!(
            response.header("x-canary-subset"),
            Some(subset),
            "user {id}"
        );
    }
    drop(envoy);

    let quiet = service_a_config(50);
    let envoy = Envoy::start(Delivery::Inline, &quiet);
    let response = envoy
        .front()
        .get("/", &[("x-user-id", user_on(&quiet, "v2").as_bytes())]);
    assert_eq!(response.served_by(), "v2");
    assert_eq!(response.received_subset(), Some("v2"));
    assert_eq!(response.header("x-canary-subset"), None);
}

#[test]
fn a_custom_routing_header_is_the_one_written_and_echoed() {
    let mut config = service_a_json(50);
    config["routingHeader"] = "X-Release".into();
    config["exposeSubset"] = true.into();
    let config = config.to_string();
    let envoy = Envoy::start(Delivery::Inline, &config);
    let mut client = envoy.front();
    let id = user_on(&config, "v2");
    // The scenario's route table matches x-canary-subset, which this config leaves alone: the
    // client's value passes through, and the filter's choice travels in x-release.
    let response = client.get(
        "/",
        &[("x-user-id", id.as_bytes()), ("x-canary-subset", b"v1")],
    );
    assert_eq!(response.received_subset(), Some("v1"));
    assert_eq!(response.header("x-release"), Some("v2"));
}

/// More requests in flight than any fixed table of streams would hold: each request's choice is
/// kept until its own response, which the upstream sends only once all of them have arrived.
#[test]
fn every_request_gets_its_subset_echoed_with_1100_in_flight_on_a_slow_upstream() {
    const IN_FLIGHT: usize = 1100;
    const SOCKET: &str = "held.sock";
    let mut config = service_a_json(50);
    config["exposeSubset"] = true.into();
    let config = config.to_string();
    let envoy = EnvoyOptions::scenario(Delivery::Inline, &config)
        .access_log(false)
        .edit_bootstrap(|bootstrap, dir| {
            // Both subsets' clusters lead to the held upstream; Envoy's default circuit breakers
            // (1024 connections and requests per cluster) would refuse the rest.
            for cluster in ["service-a-v1", "service-a-v2"] {
                bootstrap.point_cluster_at_pipe(cluster, &dir.join(SOCKET));
                let cluster = bootstrap.0.mapping(&[
                    Key("static_resources"),
                    Key("clusters"),
                    Named(cluster),
                ]);
                let limit = 4 * IN_FLIGHT;
                cluster.insert(
                    "circuit_breakers".into(),
                    json!({"thresholds": [{"max_connections": limit, "max_pending_requests": limit,
                                           "max_requests": limit}]}),
                );
            }
        })
        .start();
    let upstream = Upstream::start_at(
        &envoy.dir().join(SOCKET),
        "held",
        Behaviour::HoldUntil(IN_FLIGHT),
    );
    let users: Vec<String> = (0..IN_FLIGHT).map(|i| format!("held-{i}")).collect();
    let mut pending = Vec::with_capacity(IN_FLIGHT);
    for (i, user) in users.iter().enumerate() {
        pending.push(Pending::send(
            envoy.front_port(),
            "/",
            &[
                ("x-user-id", user.as_bytes()),
                ("x-canary-subset", b"forged"),
            ],
        ));
        // Paced to the upstream's listen backlog.
        if i % 64 == 63 {
            upstream.wait_until_held(i + 1);
        }
    }
    let responses: Vec<_> = pending.into_iter().map(Pending::response).collect();
    let received = upstream.received();
    assert_eq!(received.len(), IN_FLIGHT);
    for received in &received {
        let user = received.header("x-user-id").unwrap();
        assert_eq!(
            received.header("x-canary-subset"),
            Some(subset_of(&config, user).as_str()),
            "what the upstream received for {user}"
        );
    }
    for (user, response) in users.iter().zip(&responses) {
        let subset = subset_of(&config, user);
        assert_eq!(response.status, 200, "{user}");
        assert_eq!(response.served_by(), "held");
        assert_eq!(response.received_subset(), Some(subset.as_str()), "{user}");
        assert_eq!(
            response.header("x-canary-subset"),
            Some(subset.as_str()),
            "{user}: the subset echoed on the response"
        );
    }
}
