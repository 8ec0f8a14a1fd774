//! A client's own lane at the edge, in real Envoy (`envoy/lanes/envoy.yaml`): the edge writes
//! the lane on one route (trust: false) and service-b's sidecar behind it follows any lane it
//! receives (trust: true), weight-0 subsets included. A forged lane must not reach service-b,
//! whether the request goes to the lane's route, to another route of the edge, or to none; nor
//! a baggage member that names our key percent-encoded. service-b's stand-ins echo the lane and
//! the baggage they received (`x-received-lane`, `x-received-baggage`).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use serde_json::{json, Value};
use sticky_canary_e2e::envoy::EnvoyOptions;
use sticky_canary_e2e::scenario::LANES_BOOTSTRAP;
use sticky_canary_e2e::{expected_subset, Envoy, Response};

/// The edge: service-a on `/a` writes the lane; `other` on `/other` has no lane; `/none` matches
/// no route.
fn edge(lane: &Value) -> String {
    json!({"routes": [
        {
            "name": "service-a",
            "match": {"pathPrefix": "/a"},
            "subsets": [{"name": "v1", "weight": 90}, {"name": "v2", "weight": 10}],
            "stickiness": {"keys": [{"header": "x-user-id"}]},
            "lane": lane
        },
        {
            "name": "other",
            "match": {"pathPrefix": "/other"},
            "subsets": [{"name": "v1", "weight": 100}],
            "stickiness": {"keys": [{"header": "x-user-id"}]}
        }
    ]})
    .to_string()
}

/// service-b: only v1 takes traffic by weight; v2 is reachable by a lane alone.
fn service_b(lane: &Value) -> String {
    let mut lane = lane.clone();
    lane["trust"] = json!(true);
    json!({"routes": [{
        "name": "service-b",
        "subsets": [{"name": "v1", "weight": 100}, {"name": "v2", "weight": 0}],
        "stickiness": {"keys": [{"header": "x-user-id"}]},
        "lane": lane
    }]})
    .to_string()
}

fn start(lane: &Value) -> (Envoy, String) {
    let (edge, b) = (edge(lane), service_b(lane));
    let envoy =
        EnvoyOptions::listeners(LANES_BOOTSTRAP, &[("front", &edge), ("service-b", &b)]).start();
    (envoy, edge)
}

/// (service-b subset that served it, lane header received, baggage received).
fn at_service_b(response: &Response) -> (String, Option<String>, Option<String>) {
    assert_eq!(
        response.status,
        200,
        "{:?}",
        String::from_utf8_lossy(&response.body)
    );
    (
        response
            .header("x-served-by-b")
            .expect("no x-served-by-b")
            .to_string(),
        response.header("x-received-lane").map(str::to_string),
        response.header("x-received-baggage").map(str::to_string),
    )
}

/// Users hashed to v1 at the edge: a lane of v2 reaching service-b can only be forged.
fn v1_users(edge: &str, count: usize) -> Vec<String> {
    (0..)
        .map(|i| format!("user-{i}"))
        .filter(|u| {
            expected_subset(edge, "/a", &[("x-user-id", u.as_bytes())]).as_deref() == Some("v1")
        })
        .take(count)
        .collect()
}

#[test]
fn a_forged_header_lane_never_passes_the_edge_on_any_route() {
    let lane = json!({"header": "x-canary-lane"});
    let (envoy, edge) = start(&lane);
    let mut client = envoy.front();
    for user in v1_users(&edge, 5) {
        for forged in [&b"v2"[..], b"V2", b"v2, v2"] {
            for name in ["x-canary-lane", "X-Canary-Lane"] {
                let headers: &[(&str, &[u8])] = &[
                    ("x-user-id", user.as_bytes()),
                    (name, forged),
                    (name, b"v2"),
                ];
                let on_lane_route = at_service_b(&client.get("/a", headers));
                assert_eq!(
                    on_lane_route,
                    ("v1".to_string(), Some("v1".to_string()), None),
                    "{user} on the lane's route, forging {name}: {forged:?}"
                );
                for path in ["/other", "/none"] {
                    assert_eq!(
                        at_service_b(&client.get(path, headers)),
                        ("v1".to_string(), None, None),
                        "{user} on {path}, forging {name}: {forged:?}"
                    );
                }
            }
        }
    }
}

#[test]
fn a_forged_baggage_member_never_passes_the_edge_however_its_key_is_spelled() {
    let lane = json!({"baggage": "canary-lane"});
    let (envoy, edge) = start(&lane);
    let mut client = envoy.front();
    for user in v1_users(&edge, 5) {
        for forged in [
            "k=1,canary-lane=v2",
            "k=1,canary%2Dlane=v2",
            "k=1, canary%2dlane = v2;p=1",
            "canary-lane=v2,k=1,canary%2Dlane=v2",
        ] {
            let headers: &[(&str, &[u8])] = &[
                ("x-user-id", user.as_bytes()),
                ("baggage", forged.as_bytes()),
            ];
            let (served, lane_header, baggage) = at_service_b(&client.get("/a", headers));
            assert_eq!(served, "v1", "{user} on the lane's route, baggage {forged}");
            assert_eq!(lane_header, None);
            let baggage = baggage.expect("the edge writes its member");
            let members: Vec<&str> = baggage.split(',').map(str::trim).collect();
            assert_eq!(
                members
                    .iter()
                    .filter(|m| m.to_ascii_lowercase().contains("lane"))
                    .collect::<Vec<_>>(),
                vec![&"canary-lane=v1"],
                "{user} on the lane's route, baggage {forged}: received {baggage}"
            );
            assert!(members.contains(&"k=1"), "other members pass: {baggage}");
            for path in ["/other", "/none"] {
                let (served, lane_header, baggage) = at_service_b(&client.get(path, headers));
                assert_eq!(
                    (served.as_str(), lane_header),
                    ("v1", None),
                    "{user} on {path}, baggage {forged}"
                );
                let baggage = baggage.unwrap_or_default();
                assert!(
                    !baggage.to_ascii_lowercase().contains("lane"),
                    "{user} on {path}, baggage {forged}: received {baggage}"
                );
                assert!(baggage.contains("k=1"), "other members pass: {baggage}");
            }
        }
    }
}
