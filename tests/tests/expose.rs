//! `exposeSubset` echoes the choice on the response, and `routingHeader` names the header the
//! filter owns (and only that one).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use sticky_canary_e2e::{service_a_config, service_a_json, user_on, Delivery, Envoy};

#[test]
fn the_chosen_subset_is_echoed_on_the_response_only_when_asked() {
    let mut exposed = service_a_json(50);
    exposed["exposeSubset"] = true.into();
    let exposed = exposed.to_string();
    let envoy = Envoy::start(Delivery::Inline, &exposed);
    let mut client = envoy.front();
    for subset in ["v1", "v2"] {
        let id = user_on(&exposed, subset);
        let response = client.get("/", &[("x-user-id", id.as_bytes())]);
        assert_eq!(response.served_by(), subset);
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
