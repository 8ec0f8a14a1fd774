//! Content rules win over hashing, unmatched requests pass, and every decision is counted.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use sticky_canary_e2e::{
    expected_subset, service_a_config, subset_of, user_on, Delivery, Envoy, Header,
};

const RULES_CONFIG: &str = r#"{
  "routes": [{
    "name": "service-a",
    "match": {"hosts": ["servicea.com", "*.svc.cluster.local"]},
    "subsets": [{"name": "v1", "weight": 90}, {"name": "v2", "weight": 10}],
    "stickiness": {"keys": [{"header": "x-user-id"}, {"cookie": "uid"}, {"query": "uid"}]},
    "rules": [
      {"subset": "v1", "match": {"headers": [{"name": "x-stable", "present": true}]}},
      {"subset": "v2", "users": ["alice"]},
      {"subset": "v2", "match": {"headers": [{"name": "x-canary", "exact": "true"}]}},
      {"subset": "v2", "match": {"cookies": [{"name": "beta", "regex": "^(1|yes)$"}]}},
      {"subset": "v2", "match": {"query": [{"name": "version", "exact": "v2"}]}},
      {"subset": "v2", "match": {"path": {"prefix": "/api/v2"}}},
      {"subset": "v2", "match": {"os": ["iOS", "Android"]}}
    ]
  }]
}"#;

const IPHONE: &[u8] =
    b"Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15";
const WINDOWS: &[u8] = b"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36";

/// Where hashing alone would put this user (same route name, so same salt, and same weights).
fn hashed(user: &str) -> String {
    subset_of(&service_a_config(10), user)
}

/// A user that hashing alone puts on v2.
fn canary_user() -> String {
    user_on(&service_a_config(10), "v2")
}

#[test]
fn each_kind_of_content_rule_wins_over_hashing() {
    // The chosen users hash to the opposite of what the rules send them to.
    assert_eq!(hashed("alice"), "v1");
    assert_eq!(hashed("bob"), "v1");
    let canary_user = canary_user();

    let envoy = Envoy::start(Delivery::Inline, RULES_CONFIG);
    let mut client = envoy.front();
    let bob: (&str, &[u8]) = ("x-user-id", b"bob");
    let cases: Vec<(&str, String, Vec<Header>, &str)> = vec![
        ("users", "/".into(), vec![("x-user-id", b"alice")], "v2"),
        (
            "users via cookie",
            "/".into(),
            vec![("cookie", b"uid=alice")],
            "v2",
        ),
        ("header", "/".into(), vec![bob, ("x-canary", b"true")], "v2"),
        (
            "cookie regex",
            "/".into(),
            vec![bob, ("cookie", b"a=b; beta=yes")],
            "v2",
        ),
        ("query", "/shop?version=v2".into(), vec![bob], "v2"),
        ("path", "/api/v2/items".into(), vec![bob], "v2"),
        ("os", "/".into(), vec![bob, ("user-agent", IPHONE)], "v2"),
        (
            "rule to stable",
            "/".into(),
            vec![("x-user-id", canary_user.as_bytes()), ("x-stable", b"")],
            "v1",
        ),
        (
            "header mismatch",
            "/".into(),
            vec![bob, ("x-canary", b"TRUE")],
            "v1",
        ),
        (
            "cookie mismatch",
            "/".into(),
            vec![bob, ("cookie", b"beta=yess")],
            "v1",
        ),
        ("query mismatch", "/shop?version=v1".into(), vec![bob], "v1"),
        ("path mismatch", "/api/v1/items".into(), vec![bob], "v1"),
        (
            "os mismatch",
            "/".into(),
            vec![bob, ("user-agent", WINDOWS)],
            "v1",
        ),
        (
            "hash",
            "/".into(),
            vec![("x-user-id", canary_user.as_bytes())],
            "v2",
        ),
    ];
    for (name, path, headers, want) in &cases {
        let response = client.get(path, headers);
        assert_eq!(response.served_by(), *want, "case {name}");
        assert_eq!(response.received_subset(), Some(*want), "case {name}");
        assert_eq!(
            expected_subset(RULES_CONFIG, path, headers).as_deref(),
            Some(*want),
            "oracle, case {name}"
        );
    }
}

#[test]
fn a_request_no_route_matches_passes_with_the_forged_header_removed() {
    let envoy = Envoy::start(Delivery::Inline, RULES_CONFIG);
    let mut client = envoy.front();
    let response = client.get(
        "/",
        &[
            ("host", b"other.example"),
            ("x-user-id", b"alice"),
            ("x-canary-subset", b"v2"),
        ],
    );
    assert_eq!(response.status, 200);
    assert_eq!(response.served_by(), "v1", "the route table's default");
    assert_eq!(
        response.received_subset(),
        None,
        "the forged header must not reach the upstream"
    );

    let wildcard = client.get(
        "/",
        &[
            ("host", b"api.svc.cluster.local:8080"),
            ("x-user-id", b"alice"),
        ],
    );
    assert_eq!(
        wildcard.served_by(),
        "v2",
        "a wildcard host with a port matches the route"
    );
}

#[test]
fn decisions_are_counted_per_route_subset_and_reason() {
    let envoy = Envoy::start(Delivery::Inline, RULES_CONFIG);
    let mut client = envoy.front();
    let canary_user = canary_user();
    for _ in 0..3 {
        client.get("/", &[("x-user-id", b"alice")]); // user -> v2
    }
    for _ in 0..2 {
        client.get("/", &[("x-user-id", b"bob"), ("x-canary", b"true")]); // rule -> v2
    }
    for _ in 0..5 {
        client.get("/", &[("x-user-id", b"bob")]); // hash -> v1
    }
    client.get("/", &[("x-user-id", canary_user.as_bytes())]); // hash -> v2
    for _ in 0..4 {
        client.get("/", &[]); // fallback (random)
    }
    client.get("/", &[("host", b"other.example")]); // no route

    // 16 requests, each counted once; counters reach Envoy on the filter's tick.
    let stats = envoy.settled_filter_counts(16);
    let counter = |subset: &str, reason: &str| {
        let name = format!("wasmcustom.sticky_canary.requests_total.route.service-a.subset.{subset}.reason.{reason}");
        *stats.get(&name).unwrap_or_else(|| panic!("no stat {name}"))
    };
    assert_eq!(counter("v2", "user"), 3);
    assert_eq!(counter("v1", "user"), 0);
    assert_eq!(counter("v2", "rule"), 2);
    assert_eq!(counter("v1", "hash"), 5);
    assert_eq!(counter("v2", "hash"), 1);
    assert_eq!(counter("v1", "fallback") + counter("v2", "fallback"), 4);
    assert_eq!(stats["wasmcustom.sticky_canary.unrouted_total"], 1);

    let prometheus = envoy.admin("/stats/prometheus");
    for line in [
        r#"sticky_canary_requests_total{route="service-a",subset="v2",reason="user"} 3"#,
        r#"sticky_canary_requests_total{route="service-a",subset="v2",reason="rule"} 2"#,
        r#"sticky_canary_requests_total{route="service-a",subset="v1",reason="hash"} 5"#,
        r#"sticky_canary_requests_total{route="service-a",subset="v2",reason="hash"} 1"#,
        "sticky_canary_unrouted_total{} 1",
    ] {
        assert!(
            prometheus.lines().any(|l| l == line),
            "missing `{line}` in /stats/prometheus"
        );
    }
}
