//! HTTP/2 clients, with prior knowledge (h2c) and over TLS where ALPN picks `h2`, get the same
//! decisions as HTTP/1 ones: the host is `:authority`, a cookie split across several `cookie`
//! fields (RFC 9113 §8.2.3) counts whole, and a forged routing header is overwritten.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::HashMap;

use sticky_canary_e2e::bootstrap::Step::{Index, Key, Named};
use sticky_canary_e2e::h2c::{
    fields_sent, send, send_over, H2Request, H2Response, TestCert, Transport,
};
use sticky_canary_e2e::{
    expected_outcome, service_a_json, users_on, Delivery, Envoy, EnvoyOptions, Expected,
};

/// service-a at 50 %, only for `servicea.com`; keyless requests go to v1, so every expected
/// subset is exact.
fn config() -> String {
    let mut config = service_a_json(50);
    config["routes"][0]["match"] = serde_json::json!({"hosts": ["servicea.com"]});
    config["routes"][0]["stickiness"]["fallback"] = "stable".into();
    config.to_string()
}

/// The subset the core decides for `GET /` with these headers (`host` = the `:authority`).
fn expected(config: &str, headers: &[(&str, &str)]) -> Option<String> {
    let headers: Vec<(&str, &[u8])> = headers.iter().map(|(n, v)| (*n, v.as_bytes())).collect();
    match expected_outcome(config, "/", &headers) {
        Expected::Subset(subset) => Some(subset),
        Expected::Unrouted => None,
        Expected::Random => panic!("no randomness with a stable fallback"),
    }
}

fn assert_served(response: &H2Response, subset: Option<&str>, what: &str) {
    assert_eq!(response.http_version, "2", "{what}: not HTTP/2");
    assert_eq!(response.status, 200, "{what}");
    // No routing header: Envoy's default route, v1.
    assert_eq!(
        response.served_by.as_deref(),
        Some(subset.unwrap_or("v1")),
        "{what}: served by"
    );
    assert_eq!(response.received_subset.as_deref(), subset, "{what}");
}

/// Both subsets and the unrouted host were each expected for at least `at_least` requests, so the
/// run exercised all three.
fn assert_each_outcome_expected(served: &HashMap<Option<String>, usize>, at_least: usize) {
    for outcome in [Some("v1"), Some("v2"), None] {
        let count = served
            .get(&outcome.map(str::to_string))
            .copied()
            .unwrap_or(0);
        assert!(
            count >= at_least,
            "only {count} requests expected {outcome:?}"
        );
    }
}

#[test]
fn users_over_h2c_are_served_by_the_subset_the_filter_chose_for_their_authority() {
    let config = config();
    let envoy = Envoy::start(Delivery::Inline, &config);
    let users: Vec<String> = (0..300).map(|i| format!("h2-user-{i}")).collect();
    let authorities = ["servicea.com", "ServiceA.com:8080", "other.example"];
    let requests: Vec<H2Request> = users
        .iter()
        .enumerate()
        .map(|(i, id)| {
            H2Request::get(&[("x-user-id", id)]).authority(authorities[i % authorities.len()])
        })
        .collect();
    let responses = send(envoy.front_port(), &requests);
    let mut served = HashMap::new();
    for (request, response) in requests.iter().zip(&responses) {
        let host = request.authority.as_str();
        let want = expected(
            &config,
            &[("host", host), ("x-user-id", &request.headers[0].1)],
        );
        if host == "other.example" {
            assert_eq!(want, None, "the oracle routes {host}");
        }
        assert_served(response, want.as_deref(), &format!("{request:?}"));
        *served.entry(want).or_insert(0) += 1;
    }
    assert_each_outcome_expected(&served, 50);
}

#[test]
fn a_cookie_split_across_two_cookie_fields_is_seen_whole() {
    let by_header = config();
    let mut config: serde_json::Value = serde_json::from_str(&by_header).unwrap();
    config["routes"][0]["stickiness"]["keys"] = serde_json::json!([{"cookie": "uid"}]);
    let config = config.to_string();
    let envoy = Envoy::start(Delivery::Inline, &config);
    let split =
        |id: &str| H2Request::get(&[("cookie", "theme=dark"), ("cookie", &format!("uid={id}"))]);

    // The client really sends two fields: the key only in the second.
    let probe = fields_sent(envoy.front_port(), &split("probe"));
    let cookies: Vec<&str> = probe
        .iter()
        .filter(|(n, _)| n == "cookie")
        .map(|(_, v)| v.as_str())
        .collect();
    assert_eq!(
        cookies,
        ["theme=dark", "uid=probe"],
        "fields sent: {probe:?}"
    );

    // Users on v2 (the same id hashes alike from any key source): were the second field not
    // seen, they would have no key and land on v1.
    let mut users = users_on(&by_header, "v2", 150);
    users.extend((0..150).map(|i| format!("h2-cookie-user-{i}")));
    let requests: Vec<H2Request> = users.iter().map(|id| split(id)).collect();
    let responses = send(envoy.front_port(), &requests);
    let mut on_v2 = 0;
    for (id, response) in users.iter().zip(&responses) {
        // Envoy joins the fields with "; " before the filter sees them.
        let cookie = format!("theme=dark; uid={id}");
        let want = expected(&config, &[("cookie", &cookie)]).unwrap();
        assert_served(response, Some(&want), &format!("user {id}"));
        on_v2 += usize::from(want == "v2");
    }
    assert!(on_v2 >= 150, "only {on_v2} users expected on v2");
}

#[test]
fn a_forged_routing_header_over_h2c_is_overwritten_in_both_directions() {
    let config = config();
    let envoy = Envoy::start(Delivery::Inline, &config);
    let mut requests = Vec::new();
    let mut want = Vec::new();
    for (subset, forged) in [("v1", "v2"), ("v2", "v1")] {
        for id in users_on(&config, subset, 20) {
            for forgeries in [
                vec![forged],
                vec![forged, forged],
                vec!["v3"],
                vec![subset, forged],
            ] {
                let mut headers = vec![("x-user-id", id.as_str())];
                headers.extend(forgeries.iter().map(|f| ("x-canary-subset", *f)));
                requests.push(H2Request::get(&headers));
                want.push(subset);
            }
        }
    }
    let responses = send(envoy.front_port(), &requests);
    for ((request, response), subset) in requests.iter().zip(&responses).zip(want) {
        assert_served(response, Some(subset), &format!("{request:?}"));
    }
}

/// The front listener of the local scenario behind TLS with a certificate made for this test,
/// offering `h2` and `http/1.1` by ALPN.
fn start_tls(config: &str) -> (Envoy, Transport) {
    let envoy = EnvoyOptions::scenario(Delivery::Inline, config)
        .edit_bootstrap(|bootstrap, dir| {
            let cert = TestCert::make(dir);
            let chain = bootstrap.0.mapping(&[
                Key("static_resources"),
                Key("listeners"),
                Named("front"),
                Key("filter_chains"),
                Index(0),
            ]);
            chain.insert(
                "transport_socket".into(),
                serde_json::json!({
                    "name": "envoy.transport_sockets.tls",
                    "typed_config": {
                        "@type": "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext",
                        "common_tls_context": {
                            "alpn_protocols": ["h2", "http/1.1"],
                            "tls_certificates": [{
                                "certificate_chain": {"filename": cert.cert.to_str().unwrap()},
                                "private_key": {"filename": cert.key.to_str().unwrap()}
                            }]
                        }
                    }
                }),
            );
        })
        .start();
    let ca = envoy.dir().join("test-cert.pem");
    (envoy, Transport::Tls { ca })
}

#[test]
fn users_over_tls_where_alpn_picks_h2_get_the_same_decisions() {
    let config = config();
    let (envoy, tls) = start_tls(&config);
    let authorities = ["servicea.com", "ServiceA.com:8443", "other.example"];
    let mut requests = Vec::new();
    let mut wanted = Vec::new();
    for i in 0..150 {
        let id = format!("tls-user-{i}");
        let authority = authorities[i % authorities.len()];
        // Every other request forges the routing header, alternately to each subset.
        let forged = ["v1", "v2"][i / 2 % 2];
        let mut headers = vec![("x-user-id", id.as_str())];
        if i % 2 == 0 {
            headers.push(("x-canary-subset", forged));
        }
        wanted.push(expected(
            &config,
            &[("host", authority), ("x-user-id", &id)],
        ));
        requests.push(H2Request::get(&headers).authority(authority));
    }
    let responses = send_over(envoy.front_port(), &tls, &requests);
    let mut served = HashMap::new();
    for ((request, response), want) in requests.iter().zip(&responses).zip(&wanted) {
        if request.headers.len() == 2 && want.is_none() {
            // An unrouted request: the forged header is removed, Envoy's default route (v1).
            assert_eq!(response.received_subset, None, "{request:?}");
        }
        assert_served(response, want.as_deref(), &format!("{request:?}"));
        *served.entry(want.clone()).or_insert(0) += 1;
    }
    assert_each_outcome_expected(&served, 20);
}
