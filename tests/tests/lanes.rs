//! Lanes across a call chain in real Envoy (`envoy/lanes/envoy.yaml`): the edge decides
//! service-a and writes its choice to the lane (trust: false), service-a's v1 and v2 "apps" call
//! service-b passing headers on, and service-b's sidecar follows the lane (trust: true). Each
//! response says which service-a and which service-b subset served it.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use serde_json::{json, Value};
use sticky_canary_e2e::bootstrap::LANES_BOOTSTRAP;
use sticky_canary_e2e::envoy::EnvoyOptions;
use sticky_canary_e2e::upstream::{Behaviour, Upstream};
use sticky_canary_e2e::{expected_subset, subset_of, Envoy, Response};

const USERS: usize = 300;
const COOKIE: &str = "canary-uid";

/// The edge's service-a: v1 90 / v2 10 by x-user-id, `x-canary: true` to v2 by a rule.
fn edge(lane: &Value) -> String {
    json!({"routes": [{
        "name": "service-a",
        "subsets": [{"name": "v1", "weight": 90}, {"name": "v2", "weight": 10}],
        "stickiness": {"keys": [{"header": "x-user-id"}]},
        "rules": [{"subset": "v2", "match": {"headers": [{"name": "x-canary", "exact": "true"}]}}],
        "lane": lane
    }]})
    .to_string()
}

/// service-b's sidecar: v1 50 / v2 50 by its own hash when it has v2, else v1 only; trusting.
fn service_b(lane: &Value, has_v2: bool) -> String {
    let subsets = if has_v2 {
        json!([{"name": "v1", "weight": 50}, {"name": "v2", "weight": 50}])
    } else {
        json!([{"name": "v1", "weight": 100}])
    };
    let mut lane = lane.clone();
    lane["trust"] = json!(true);
    json!({"routes": [{
        "name": "service-b",
        "subsets": subsets,
        "stickiness": {"keys": [{"header": "x-user-id"}]},
        "lane": lane
    }]})
    .to_string()
}

fn chain(lane: &Value, b_has_v2: bool) -> (Envoy, String, String) {
    let (edge, b) = (edge(lane), service_b(lane, b_has_v2));
    let envoy =
        EnvoyOptions::listeners(LANES_BOOTSTRAP, &[("front", &edge), ("service-b", &b)]).start();
    (envoy, edge, b)
}

/// (service-a subset, service-b subset) that served the request.
fn served(response: &Response) -> (String, String) {
    assert_eq!(
        response.status,
        200,
        "{:?}",
        String::from_utf8_lossy(&response.body)
    );
    let a = response.header("x-served-by-a").expect("no x-served-by-a");
    let b = response.header("x-served-by-b").expect("no x-served-by-b");
    let body = if b == "v1" { b"b1\n" } else { b"b2\n" };
    assert_eq!(response.body, body);
    (a.to_string(), b.to_string())
}

fn user(i: usize) -> String {
    format!("user-{i}")
}

#[test]
fn the_edge_header_lane_takes_a_user_to_the_same_subset_down_the_chain() {
    let lane = json!({"header": "x-canary-lane"});
    let (envoy, edge, b) = chain(&lane, true);
    let mut client = envoy.front();
    let mut disagreeing = 0;
    for i in 0..USERS {
        let id = user(i);
        let on = subset_of(&edge, &id);
        let response = client.get("/", &[("x-user-id", id.as_bytes())]);
        assert_eq!(served(&response), (on.clone(), on.clone()), "{id} by hash");
        assert_eq!(response.header("x-received-lane"), Some(on.as_str()));
        // service-b alone would have hashed this user elsewhere: the lane decided.
        let own = expected_subset(&b, "/", &[("x-user-id", id.as_bytes())]).unwrap();
        disagreeing += usize::from(own != on);
        // A forged lane at the edge is replaced by the edge's decision.
        let forged = if on == "v1" { "v2" } else { "v1" };
        let response = client.get(
            "/",
            &[
                ("x-user-id", id.as_bytes()),
                ("x-canary-lane", forged.as_bytes()),
            ],
        );
        assert_eq!(
            served(&response),
            (on.clone(), on.clone()),
            "{id} forged {forged}"
        );
        assert_eq!(response.header("x-received-lane"), Some(on.as_str()));
        // A rule at the edge: v2 all the way down.
        let response = client.get("/", &[("x-user-id", id.as_bytes()), ("x-canary", b"true")]);
        assert_eq!(
            served(&response),
            ("v2".into(), "v2".into()),
            "{id} by rule"
        );
    }
    assert!(
        disagreeing > USERS / 4,
        "only {disagreeing} users where the lane decided"
    );
}

/// The edge's service-a with `x-user-id`, then an id cookie it assigns to visitors with neither;
/// and the same route without `assign`: the contract an issued id must follow, so the oracle
/// does not go through the code under test.
fn assigning_edge(lane: &Value) -> (String, String) {
    let mut contract: Value = serde_json::from_str(&edge(lane)).unwrap();
    let stickiness = &mut contract["routes"][0]["stickiness"];
    stickiness["keys"] = json!([{"header": "x-user-id"}, {"cookie": COOKIE}]);
    let mut assigning = contract.clone();
    assigning["routes"][0]["stickiness"]["assign"] = json!({"cookie": COOKIE, "maxAge": 3600});
    (assigning.to_string(), contract.to_string())
}

/// The id of the one `Set-Cookie` of a response, if it has one.
fn issued(response: &Response) -> Option<String> {
    let cookies: Vec<&[u8]> = response
        .headers
        .iter()
        .filter(|(name, _)| name == "set-cookie")
        .map(|(_, value)| value.as_slice())
        .collect();
    match cookies[..] {
        [] => None,
        [cookie] => {
            let cookie = std::str::from_utf8(cookie).unwrap();
            let (pair, attributes) = cookie.split_once(';').unwrap();
            assert_eq!(attributes, " Max-Age=3600; Path=/");
            Some(pair.strip_prefix("canary-uid=").unwrap().to_string())
        }
        _ => panic!("more than one Set-Cookie: {cookies:?}"),
    }
}

#[test]
fn an_id_cookie_the_edge_assigns_takes_a_visitor_to_the_same_subset_down_the_chain() {
    const VISITORS: usize = 500;
    const ON_V2: usize = 5;
    let lane = json!({"header": "x-canary-lane"});
    let (edge, contract) = assigning_edge(&lane);
    for b_has_v2 in [true, false] {
        let b = service_b(&lane, b_has_v2);
        let envoy =
            EnvoyOptions::listeners(LANES_BOOTSTRAP, &[("front", &edge), ("service-b", &b)])
                .start();
        let mut client = envoy.front();
        // Fresh visitors until some landed on the 10 % canary: fewer than 5 of 500 is a chance
        // of 6e-18.
        let (mut on_v1, mut on_v2) = (0, 0);
        for visitor in 0..VISITORS {
            if on_v2 >= ON_V2 && on_v1 > 0 {
                break;
            }
            let first = client.get("/", &[]);
            let id = issued(&first)
                .unwrap_or_else(|| panic!("visitor {visitor}: a visitor without a key got no id"));
            let jar = format!("{COOKIE}={id}");
            let on = expected_subset(&contract, "/", &[("cookie", jar.as_bytes())]).unwrap();
            let b_on = if b_has_v2 { on.clone() } else { "v1".into() };
            assert_eq!(
                served(&first),
                (on.clone(), b_on.clone()),
                "visitor {visitor} ({id}), b has v2: {b_has_v2}"
            );
            assert_eq!(first.header("x-received-lane"), Some(on.as_str()));
            // Sent back, the cookie keeps the visitor there, and is not issued again.
            for request in 0..5 {
                let again = client.get("/", &[("cookie", jar.as_bytes())]);
                assert_eq!(issued(&again), None, "visitor {visitor} request {request}");
                assert_eq!(
                    served(&again),
                    (on.clone(), b_on.clone()),
                    "visitor {visitor} ({id}) request {request}, b has v2: {b_has_v2}"
                );
                assert_eq!(again.header("x-received-lane"), Some(on.as_str()));
            }
            on_v1 += usize::from(on == "v1");
            on_v2 += usize::from(on == "v2");
        }
        assert!(on_v2 >= ON_V2, "only {on_v2} of {VISITORS} visitors on v2");
        assert!(on_v1 > 0, "no visitor on v1");
    }
}

#[test]
fn a_lane_naming_a_subset_service_b_lacks_goes_to_its_stable_subset_and_passes_on() {
    let lane = json!({"header": "x-canary-lane"});
    let (envoy, edge, _) = chain(&lane, false);
    let mut client = envoy.front();
    let mut on_v2 = 0;
    for i in 0..USERS {
        let id = user(i);
        let on = subset_of(&edge, &id);
        on_v2 += usize::from(on == "v2");
        let response = client.get("/", &[("x-user-id", id.as_bytes())]);
        assert_eq!(served(&response), (on.clone(), "v1".into()), "{id}");
        assert_eq!(
            response.header("x-received-lane"),
            Some(on.as_str()),
            "passed on"
        );
    }
    assert!(on_v2 > 10, "only {on_v2} users on v2");
    let response = client.get("/", &[("x-canary", b"true")]);
    assert_eq!(served(&response), ("v2".into(), "v1".into()));
}

#[test]
fn the_baggage_lane_works_the_same_and_keeps_every_other_member() {
    let lane = json!({"baggage": "canary-lane"});
    for b_has_v2 in [true, false] {
        let (envoy, edge, _) = chain(&lane, b_has_v2);
        let mut client = envoy.front();
        for i in 0..USERS / 3 {
            let id = user(i);
            let on = subset_of(&edge, &id);
            let b_on = if b_has_v2 { on.clone() } else { "v1".into() };
            let forged = if on == "v1" { "v2" } else { "v1" };
            let cases = [
                ("".to_string(), format!("canary-lane={on}")),
                (
                    "userId=alice;p=1, sampled=1".to_string(),
                    format!("userId=alice;p=1, sampled=1,canary-lane={on}"),
                ),
                (
                    format!("a=1, canary-lane={forged};prop,b=%20x"),
                    format!("a=1,canary-lane={on},b=%20x"),
                ),
            ];
            for (sent, received) in cases {
                let mut headers = vec![("x-user-id", id.as_bytes())];
                if !sent.is_empty() {
                    headers.push(("baggage", sent.as_bytes()));
                }
                let response = client.get("/", &headers);
                assert_eq!(
                    served(&response),
                    (on.clone(), b_on.clone()),
                    "{id} {sent:?}"
                );
                assert_eq!(
                    response.header("x-received-baggage"),
                    Some(received.as_str())
                );
            }
        }
    }
}

#[test]
fn several_baggage_headers_reach_service_b_as_one_with_every_member() {
    let lane = json!({"baggage": "canary-lane"});
    let (edge, b) = (edge(&lane), service_b(&lane, true));
    // service-b's versions are the test's own upstream here, to see each header as sent.
    let upstream = Upstream::start("b", Behaviour::Answer);
    let socket = upstream.socket().to_path_buf();
    let envoy = EnvoyOptions::listeners(LANES_BOOTSTRAP, &[("front", &edge), ("service-b", &b)])
        .edit_bootstrap(move |bootstrap, _| {
            for cluster in ["service-b-v1", "service-b-v2"] {
                bootstrap.point_cluster_at_pipe(cluster, &socket);
            }
        })
        .start();
    let mut client = envoy.front();
    for i in 0..20 {
        let id = user(i);
        let on = subset_of(&edge, &id);
        let forged = if on == "v1" { "v2" } else { "v1" };
        let second = format!("b=2;p, canary-lane={forged}");
        client.get(
            "/",
            &[
                ("x-user-id", id.as_bytes()),
                ("baggage", b"a=1"),
                ("baggage", second.as_bytes()),
            ],
        );
        let received = upstream.received().pop().unwrap();
        let baggage: Vec<&(String, String)> = received
            .headers
            .iter()
            .filter(|(name, _)| name == "baggage")
            .collect();
        let expected = format!("a=1,b=2;p,canary-lane={on}");
        assert_eq!(baggage, [&("baggage".to_string(), expected)], "{id}");
        assert_eq!(received.header("x-canary-subset"), Some(on.as_str()));
    }
}
