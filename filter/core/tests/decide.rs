#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
//! The decision `plan` makes for requests built by hand: route selection, where the stickiness key is
//! read from, content rules against hashing, the fallbacks, hostile client bytes, the frozen
//! bucket values and the distribution over many users.

mod common;

use common::{decide, Given, Headers, FULL_CONFIG};
use std::cell::Cell;

use sticky_canary_core::{bucket, Config, Decision, Reason};

const IPHONE_UA: &str =
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15";
const ANDROID_UA: &str = "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36";
const WINDOWS_UA: &str = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36";
const MAC_UA: &str = "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_0) AppleWebKit/605.1.15";

fn config(json: &str) -> Config {
    Config::from_json(json.as_bytes()).unwrap_or_else(|err| panic!("test config rejected: {err}"))
}

fn full_config() -> Config {
    config(FULL_CONFIG)
}

/// The decision for a request that must match a route and must not need `random()`.
fn decided(config: &Config, request: &Headers) -> Decision {
    decide(config, request, &Given::nothing()).expect("a route matches")
}

/// Chosen subset name and reason, for a request that must not need `random()`.
fn outcome<'c>(config: &'c Config, request: &Headers) -> (&'c str, Reason) {
    let decision = decided(config, request);
    (subset_name(config, &decision), decision.reason)
}

fn subset_name<'c>(config: &'c Config, decision: &Decision) -> &'c str {
    &config.routes[decision.route].subsets[decision.subset].name
}

/// Name of the route chosen for a request, `None` when none matches.
fn routed_to<'c>(config: &'c Config, request: &Headers) -> Option<&'c str> {
    decide(config, request, &Given::nothing()).map(|d| config.routes[d.route].name.as_str())
}

/// One route with a single 100 % subset and a stable fallback, for route-selection tests.
fn route(name: &str, route_match: &str) -> String {
    format!(
        r#"{{"name":"{name}","match":{route_match},"subsets":[{{"name":"v1","weight":100}}],"stickiness":{{"keys":[{{"header":"x-user-id"}}],"fallback":"stable"}}}}"#
    )
}

fn routes(routes: &[String]) -> Config {
    config(&format!(r#"{{"routes":[{}]}}"#, routes.join(",")))
}

// ---------------------------------------------------------------------------------------------
// Route selection
// ---------------------------------------------------------------------------------------------

#[test]
fn hosts_match_ignoring_port_and_case() {
    let config = routes(&[
        route("exact-host", r#"{"hosts":["ServiceA.com"]}"#),
        route("wildcard-host", r#"{"hosts":["*.svc.cluster.local"]}"#),
    ]);
    let cases = [
        ("servicea.com", Some("exact-host")),
        ("servicea.com:8080", Some("exact-host")),
        ("SERVICEA.COM:443", Some("exact-host")),
        ("servicea.com.evil.net", None),
        ("www.servicea.com", None),
        ("api.svc.cluster.local", Some("wildcard-host")),
        ("a.b.SVC.cluster.local:80", Some("wildcard-host")),
        ("svc.cluster.local", None),
        (".svc.cluster.local", None),
        ("api.svc.cluster.local.evil.net", None),
    ];
    for (authority, expected) in cases {
        assert_eq!(
            routed_to(&config, &Headers::to(authority, "/")),
            expected,
            ":authority {authority}"
        );
    }
    let no_authority = Headers::default().with(":path", "/");
    assert_eq!(
        routed_to(&config, &no_authority),
        None,
        "a hosts list needs :authority"
    );
}

#[test]
fn path_prefix_matches_the_path_without_its_query() {
    let config = routes(&[
        route("api", r#"{"pathPrefix":"/api/"}"#),
        route("catch-all", "{}"),
    ]);
    let cases = [
        ("/api/users", "api"),
        ("/api/", "api"),
        ("/api/users?page=2", "api"),
        ("/api", "catch-all"),
        ("/API/users", "catch-all"),
        ("/web?next=/api/users", "catch-all"),
    ];
    for (path, expected) in cases {
        assert_eq!(
            routed_to(&config, &Headers::to("any.com", path)),
            Some(expected),
            ":path {path}"
        );
    }
    let no_path = Headers::default().with(":authority", "any.com");
    assert_eq!(
        routed_to(&config, &no_path),
        Some("catch-all"),
        "a pathPrefix needs :path"
    );
}

#[test]
fn first_matching_route_wins() {
    let config = routes(&[
        route(
            "servicea-api",
            r#"{"hosts":["servicea.com"],"pathPrefix":"/api"}"#,
        ),
        route("servicea", r#"{"hosts":["servicea.com"]}"#),
        route("everything", r#"{"hosts":["*"]}"#),
        route("everything-again", r#"{"hosts":["*"]}"#),
    ]);
    assert_eq!(
        routed_to(&config, &Headers::to("servicea.com", "/api/x")),
        Some("servicea-api")
    );
    assert_eq!(
        routed_to(&config, &Headers::to("servicea.com", "/web")),
        Some("servicea")
    );
    assert_eq!(
        routed_to(&config, &Headers::to("other.com", "/api/x")),
        Some("everything")
    );
    let decision = decided(&config, &Headers::to("other.com", "/"));
    assert_eq!(decision.route, 2, "route index of the first match");
}

#[test]
fn no_matching_route_gives_none_without_calling_random() {
    let config = full_config();
    let request = Headers::to("serviceb.com", "/");
    assert_eq!(decide(&config, &request, &Given::nothing()), None);
    let request = Headers::to("servicea.com", "/")
        .with("x-canary", "true")
        .with("x-user-id", "alice");
    assert!(
        decide(&config, &request, &Given::nothing()).is_some(),
        "control: the same request on servicea.com"
    );
}

// ---------------------------------------------------------------------------------------------
// Where the stickiness key comes from
// ---------------------------------------------------------------------------------------------

const KEYS_SALT: &[u8] = b"keys";

/// Keys header, then cookie, then query; 50/50 so hashing is visible; stable fallback so a
/// request without a key never calls `random()`.
fn keys_config() -> Config {
    config(
        r#"{"routes":[{"name":"keys","subsets":[{"name":"v1","weight":50},{"name":"v2","weight":50}],"stickiness":{"keys":[{"header":"x-user-id"},{"cookie":"uid"},{"query":"uid"}],"salt":"keys","fallback":"stable"}}]}"#,
    )
}

/// The bucket of the key `decide` used, `None` when it found no key.
fn key_bucket(config: &Config, request: &Headers) -> Option<u16> {
    let decision = decided(config, request);
    match decision.reason {
        Reason::Hash => Some(decision.bucket.expect("a hash decision carries its bucket")),
        Reason::Fallback => None,
        other => panic!("unexpected reason {other:?}"),
    }
}

fn all_three_keys() -> Headers {
    Headers::to("any.com", "/items?uid=from-query")
        .with("x-user-id", "from-header")
        .with("cookie", "theme=dark; uid=from-cookie")
}

#[test]
fn key_sources_are_tried_in_order_header_cookie_query() {
    let config = keys_config();
    let (header, cookie, query) = (
        bucket(KEYS_SALT, b"from-header"),
        bucket(KEYS_SALT, b"from-cookie"),
        bucket(KEYS_SALT, b"from-query"),
    );
    assert!(
        header != cookie && cookie != query && header != query,
        "the three keys must hash apart"
    );

    let request = all_three_keys();
    assert_eq!(key_bucket(&config, &request), Some(header));
    let request = request.without("x-user-id");
    assert_eq!(key_bucket(&config, &request), Some(cookie));
    let request = request.without("cookie");
    assert_eq!(key_bucket(&config, &request), Some(query));
    let request = request.with(":path", "/items");
    assert_eq!(key_bucket(&config, &request), None);
}

/// A host may keep the client's casing and hand repeated headers over as separate pairs: names
/// compare ignoring ASCII case, a key header's first value is the key, and cookies are found in
/// every `cookie` header.
#[test]
fn header_names_ignore_case_and_a_repeated_key_header_counts_once() {
    let config = keys_config();
    let request = Headers::to("any.com", "/").with("X-User-ID", "from-header");
    assert_eq!(
        key_bucket(&config, &request),
        Some(bucket(KEYS_SALT, b"from-header"))
    );
    let repeated = request.also("x-user-id", "second");
    assert_eq!(
        key_bucket(&config, &repeated),
        Some(bucket(KEYS_SALT, b"from-header"))
    );
    let split_cookies = Headers::to("any.com", "/")
        .with("Cookie", "theme=dark")
        .also("cookie", "uid=from-cookie");
    assert_eq!(
        key_bucket(&config, &split_cookies),
        Some(bucket(KEYS_SALT, b"from-cookie"))
    );
}

#[test]
fn empty_key_values_are_skipped() {
    let config = keys_config();
    let query = Some(bucket(KEYS_SALT, b"from-query"));
    let request = all_three_keys()
        .with("x-user-id", "")
        .with("cookie", "uid=");
    assert_eq!(key_bucket(&config, &request), query);
    let request = all_three_keys()
        .with("x-user-id", "")
        .with("cookie", r#"uid="""#);
    assert_eq!(
        key_bucket(&config, &request),
        query,
        "a quoted empty cookie is empty too"
    );
    let request = request.with(":path", "/items?uid=");
    assert_eq!(key_bucket(&config, &request), None);
}

#[test]
fn query_key_is_percent_decoded() {
    let config = keys_config();
    let request = Headers::to("any.com", "/?a=1&uid=a%40b%20c&uid=second");
    assert_eq!(
        key_bucket(&config, &request),
        Some(bucket(KEYS_SALT, b"a@b c"))
    );
    let request = Headers::to("any.com", "/?u%69d=encoded-name");
    assert_eq!(
        key_bucket(&config, &request),
        Some(bucket(KEYS_SALT, b"encoded-name"))
    );
    let request = Headers::to("any.com", "/?uid=%FF%FE");
    assert_eq!(
        key_bucket(&config, &request),
        Some(bucket(KEYS_SALT, b"\xff\xfe"))
    );
    assert_ne!(
        bucket(KEYS_SALT, b"a@b c"),
        bucket(KEYS_SALT, b"a%40b%20c"),
        "decoding must matter"
    );
}

#[test]
fn cookie_key_is_unquoted_and_its_name_case_sensitive() {
    let config = keys_config();
    let request = Headers::to("any.com", "/").with("cookie", r#"theme=dark; uid="bob"; beta=1"#);
    assert_eq!(
        key_bucket(&config, &request),
        Some(bucket(KEYS_SALT, b"bob"))
    );
    assert_ne!(
        bucket(KEYS_SALT, b"bob"),
        bucket(KEYS_SALT, b"\"bob\""),
        "unquoting must matter"
    );
    let request = Headers::to("any.com", "/").with("cookie", "UID=bob");
    assert_eq!(key_bucket(&config, &request), None);
}

// ---------------------------------------------------------------------------------------------
// Content rules against hashing
// ---------------------------------------------------------------------------------------------

/// v1 takes 100 %, so hashing can never give v2: v2 can only come from the rule.
fn one_rule_config(rule: &str) -> Config {
    config(&format!(
        r#"{{"routes":[{{"name":"rules","subsets":[{{"name":"v1","weight":100}},{{"name":"v2","weight":0}}],"stickiness":{{"keys":[{{"header":"x-user-id"}}]}},"rules":[{{"subset":"v2",{rule}}}]}}]}}"#
    ))
}

/// A request that hashes (it has a key) and that no rule below matches on its own.
fn base_request() -> Headers {
    Headers::to("servicea.com", "/").with("x-user-id", "carol")
}

struct RuleCase {
    name: &'static str,
    rule: &'static str,
    matching: fn(Headers) -> Headers,
    not_matching: fn(Headers) -> Headers,
    reason: Reason,
}

#[test]
fn each_kind_of_rule_wins_over_hashing() {
    let cases = [
        RuleCase {
            name: "header exact (rule names the header in mixed case)",
            rule: r#""match":{"headers":[{"name":"X-Canary","exact":"true"}]}"#,
            matching: |r| r.with("x-canary", "true"),
            not_matching: |r| r.with("x-canary", "TRUE"),
            reason: Reason::Rule,
        },
        RuleCase {
            name: "header exact ignoreCase",
            rule: r#""match":{"headers":[{"name":"x-canary","exact":"true","ignoreCase":true}]}"#,
            matching: |r| r.with("x-canary", "TRUE"),
            not_matching: |r| r.with("x-canary", "truex"),
            reason: Reason::Rule,
        },
        RuleCase {
            name: "header regex (search, anchored by the pattern)",
            rule: r#""match":{"headers":[{"name":"x-version","regex":"^v[0-9]+$"}]}"#,
            matching: |r| r.with("x-version", "v42"),
            not_matching: |r| r.with("x-version", "v42-rc"),
            reason: Reason::Rule,
        },
        RuleCase {
            name: "header regex ignoreCase",
            rule: r#""match":{"headers":[{"name":"x-group","regex":"^beta$","ignoreCase":true}]}"#,
            matching: |r| r.with("x-group", "BeTa"),
            not_matching: |r| r.with("x-group", "betamax"),
            reason: Reason::Rule,
        },
        RuleCase {
            name: "header contains ignoreCase",
            rule: r#""match":{"headers":[{"name":"x-groups","contains":"Beta","ignoreCase":true}]}"#,
            matching: |r| r.with("x-groups", "staff,BETA,eu"),
            not_matching: |r| r.with("x-groups", "staff,bet,eu"),
            reason: Reason::Rule,
        },
        RuleCase {
            name: "header present: false",
            rule: r#""match":{"headers":[{"name":"x-debug","present":false}]}"#,
            matching: |r| r.without("x-debug"),
            not_matching: |r| r.with("x-debug", ""),
            reason: Reason::Rule,
        },
        RuleCase {
            name: "cookie regex",
            rule: r#""match":{"cookies":[{"name":"beta","regex":"^(1|yes)$"}]}"#,
            matching: |r| r.with("cookie", "theme=dark; beta=yes"),
            not_matching: |r| r.with("cookie", "theme=dark; beta=yess"),
            reason: Reason::Rule,
        },
        RuleCase {
            name: "query exact",
            rule: r#""match":{"query":[{"name":"version","exact":"v2"}]}"#,
            matching: |r| r.with(":path", "/items?page=1&version=v2"),
            not_matching: |r| r.with(":path", "/items?page=1&version=v3"),
            reason: Reason::Rule,
        },
        RuleCase {
            name: "path prefix (query excluded)",
            rule: r#""match":{"path":{"prefix":"/api/v2"}}"#,
            matching: |r| r.with(":path", "/api/v2/users?x=1"),
            not_matching: |r| r.with(":path", "/api/v1?next=/api/v2"),
            reason: Reason::Rule,
        },
        RuleCase {
            name: "path exact (query excluded)",
            rule: r#""match":{"path":{"exact":"/items"}}"#,
            matching: |r| r.with(":path", "/items?page=2"),
            not_matching: |r| r.with(":path", "/items/2"),
            reason: Reason::Rule,
        },
        RuleCase {
            name: "os iOS",
            rule: r#""match":{"os":["iOS","Android"]}"#,
            matching: |r| r.with("user-agent", IPHONE_UA),
            not_matching: |r| r.with("user-agent", MAC_UA),
            reason: Reason::Rule,
        },
        RuleCase {
            name: "os Android",
            rule: r#""match":{"os":["iOS","Android"]}"#,
            matching: |r| r.with("user-agent", ANDROID_UA),
            not_matching: |r| r.with("user-agent", WINDOWS_UA),
            reason: Reason::Rule,
        },
        RuleCase {
            name: "os with no user-agent",
            rule: r#""match":{"os":["iOS"]}"#,
            matching: |r| r.with("user-agent", IPHONE_UA),
            not_matching: |r| r.without("user-agent"),
            reason: Reason::Rule,
        },
        RuleCase {
            name: "users",
            rule: r#""users":["alice","bob"]"#,
            matching: |r| r.with("x-user-id", "bob"),
            not_matching: |r| r.with("x-user-id", "Bob"),
            reason: Reason::User,
        },
        RuleCase {
            name: "users and a condition: reported as user",
            rule: r#""users":["alice"],"match":{"headers":[{"name":"x-canary","present":true}]}"#,
            matching: |r| r.with("x-user-id", "alice").with("x-canary", ""),
            not_matching: |r| r.with("x-user-id", "alice"),
            reason: Reason::User,
        },
    ];
    let mut failures = Vec::new();
    for case in &cases {
        let config = one_rule_config(case.rule);
        let hit = outcome(&config, &(case.matching)(base_request()));
        let miss = outcome(&config, &(case.not_matching)(base_request()));
        if hit != ("v2", case.reason) {
            failures.push(format!("{}: matching request gave {hit:?}", case.name));
        }
        if miss != ("v1", Reason::Hash) {
            failures.push(format!("{}: non-matching request gave {miss:?}", case.name));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Satisfies every condition of the full example's second rule, and has no stickiness key.
fn all_conditions_request() -> Headers {
    Headers::to("servicea.com", "/api/v2/items?version=v2")
        .with("x-canary", "true")
        .with("cookie", "beta=1")
        .with("user-agent", IPHONE_UA)
}

#[test]
fn a_rule_with_several_conditions_needs_all_of_them() {
    let config = full_config();
    assert_eq!(
        outcome(&config, &all_conditions_request()),
        ("v2", Reason::Rule)
    );

    let each_condition_broken: [(&str, Headers); 6] = [
        ("header", all_conditions_request().with("x-canary", "false")),
        ("cookie", all_conditions_request().with("cookie", "beta=no")),
        (
            "query",
            all_conditions_request().with(":path", "/api/v2/items?version=v1"),
        ),
        (
            "path",
            all_conditions_request().with(":path", "/api/v1/items?version=v2"),
        ),
        (
            "os",
            all_conditions_request().with("user-agent", WINDOWS_UA),
        ),
        (
            "header absent",
            all_conditions_request().without("x-canary"),
        ),
    ];
    for (broken, request) in each_condition_broken {
        let decision = decide(&config, &request, &Given::nothing().random(|| 9999)).unwrap();
        assert_eq!(
            (subset_name(&config, &decision), decision.reason),
            ("v1", Reason::Fallback),
            "{broken} condition broken: no key, so the random fallback (bucket 9999 -> v1)"
        );
    }
}

#[test]
fn first_matching_rule_wins() {
    let config = config(
        r#"{"routes":[{"name":"tiers","subsets":[{"name":"v1","weight":100},{"name":"v2","weight":0},{"name":"v3","weight":0}],"stickiness":{"keys":[{"header":"x-user-id"}]},"rules":[{"subset":"v2","match":{"headers":[{"name":"x-tier","exact":"gold"}]}},{"subset":"v3","match":{"headers":[{"name":"x-tier","prefix":"g"}]}}]}]}"#,
    );
    let tier = |value: &str| base_request().with("x-tier", value);
    assert_eq!(
        outcome(&config, &tier("gold")),
        ("v2", Reason::Rule),
        "both rules match: the first wins"
    );
    assert_eq!(
        outcome(&config, &tier("green")),
        ("v3", Reason::Rule),
        "only the second matches"
    );
    assert_eq!(outcome(&config, &tier("silver")), ("v1", Reason::Hash));
}

#[test]
fn users_rule_is_checked_against_the_key_from_any_source() {
    let config = full_config();
    let by_cookie = Headers::to("servicea.com", "/").with("cookie", "uid=bob");
    assert_eq!(outcome(&config, &by_cookie), ("v2", Reason::User));
    let by_query = Headers::to("servicea.com", "/?uid=alice");
    assert_eq!(outcome(&config, &by_query), ("v2", Reason::User));
    // The users rule is listed first, so it wins even when the content rule matches too.
    let both = all_conditions_request().with("x-user-id", "alice");
    assert_eq!(outcome(&config, &both), ("v2", Reason::User));
    // A users rule never matches without a key.
    let decision = decide(
        &config,
        &Headers::to("servicea.com", "/"),
        &Given::nothing().random(|| 9999),
    )
    .unwrap();
    assert_eq!(decision.reason, Reason::Fallback);
}

// ---------------------------------------------------------------------------------------------
// Fallbacks
// ---------------------------------------------------------------------------------------------

#[test]
fn stable_fallback_gives_the_first_subset_without_calling_random() {
    let config = config(
        r#"{"routes":[{"name":"r","subsets":[{"name":"stable","weight":10},{"name":"canary","weight":90}],"stickiness":{"keys":[{"header":"x-user-id"}],"fallback":"stable"}}]}"#,
    );
    let decision = decided(&config, &Headers::to("any.com", "/"));
    assert_eq!(subset_name(&config, &decision), "stable");
    assert_eq!(decision.subset, 0);
    assert_eq!(decision.reason, Reason::Fallback);
    assert_eq!(decision.bucket, None);
}

#[test]
fn stable_fallback_follows_a_full_cutover_to_the_first_subset_with_weight() {
    let config = config(
        r#"{"routes":[{"name":"r","subsets":[{"name":"blue","weight":0},{"name":"green","weight":100}],"stickiness":{"keys":[{"header":"x-user-id"}],"fallback":"stable"}}]}"#,
    );
    let decision = decided(&config, &Headers::to("any.com", "/"));
    assert_eq!(subset_name(&config, &decision), "green");
    assert_eq!(decision.reason, Reason::Fallback);
}

#[test]
fn random_fallback_lays_the_random_bucket_over_the_weights() {
    let config = full_config();
    let no_key = Headers::to("servicea.com", "/");
    let cases: [(u32, u16, &str); 6] = [
        (5, 5, "v2"),
        (999, 999, "v2"),
        (1000, 1000, "v1"),
        (9999, 9999, "v1"),
        (10_005, 5, "v2"),
        (u32::MAX, 7295, "v1"),
    ];
    for (random, expected_bucket, expected_subset) in cases {
        let decision = decide(&config, &no_key, &Given::nothing().random(|| random)).unwrap();
        assert_eq!(decision.reason, Reason::Fallback, "random() = {random}");
        assert_eq!(
            decision.bucket,
            Some(expected_bucket),
            "random() = {random}"
        );
        assert_eq!(
            subset_name(&config, &decision),
            expected_subset,
            "random() = {random}"
        );
    }
}

#[test]
fn random_fallback_is_the_default() {
    let config = config(
        r#"{"routes":[{"name":"r","subsets":[{"name":"v1","weight":90},{"name":"v2","weight":10}],"stickiness":{"keys":[{"header":"x-user-id"}]}}]}"#,
    );
    let calls = Cell::new(0);
    let counting = Given::nothing().random(|| {
        calls.set(calls.get() + 1);
        5
    });
    let decision = decide(&config, &Headers::to("any.com", "/"), &counting).unwrap();
    assert_eq!(calls.get(), 1);
    assert_eq!(
        (subset_name(&config, &decision), decision.reason),
        ("v2", Reason::Fallback)
    );
}

#[test]
fn random_is_not_called_when_a_key_or_a_rule_decides() {
    let config = full_config();
    let with_key = Headers::to("servicea.com", "/").with("x-user-id", "carol");
    assert_eq!(outcome(&config, &with_key).1, Reason::Hash);
    let rule_without_key = all_conditions_request();
    assert_eq!(outcome(&config, &rule_without_key).1, Reason::Rule);
}

// ---------------------------------------------------------------------------------------------
// Hostile client bytes
// ---------------------------------------------------------------------------------------------

/// 64 KiB of bytes that are never valid UTF-8 (all >= 0x80) and never separators (`;`, `&`,
/// `%`, quotes or whitespace), so a cookie or query parameter carries them unchanged.
fn big_non_utf8() -> Vec<u8> {
    (0..64 * 1024).map(|i| 0x80 | (i * 7 % 128) as u8).collect()
}

#[test]
fn non_utf8_and_64_kib_keys_are_hashed_as_bytes_from_every_source() {
    let config = full_config();
    let salt = b"service-a";
    let short: Vec<u8> = b"\xff\xfe\x80user\xc3".to_vec();
    let big = big_non_utf8();
    assert!(std::str::from_utf8(&short).is_err() && std::str::from_utf8(&big).is_err());

    for value in [short, big] {
        let expected = bucket(salt, &value);
        let as_header = Headers::to("servicea.com", "/").with("x-user-id", value.clone());
        let as_cookie =
            Headers::to("servicea.com", "/").with("cookie", [b"uid=".as_slice(), &value].concat());
        let as_query = Headers::to("servicea.com", [b"/?uid=".as_slice(), &value].concat());
        for (source, request) in [
            ("header", as_header),
            ("cookie", as_cookie),
            ("query", as_query),
        ] {
            let decision = decided(&config, &request);
            let len = value.len();
            assert_eq!(decision.reason, Reason::Hash, "{source}, {len} bytes");
            assert_eq!(decision.bucket, Some(expected), "{source}, {len} bytes");
            let expected_subset = if expected < 1000 { "v2" } else { "v1" };
            assert_eq!(
                subset_name(&config, &decision),
                expected_subset,
                "{source}, {len} bytes"
            );
        }
    }
}

#[test]
fn non_utf8_and_64_kib_values_in_every_matched_field_never_panic() {
    let config = full_config();
    let big = big_non_utf8();
    let request = Headers::to(
        "servicea.com",
        [b"/api/v2/".as_slice(), &big, b"?version=", &big].concat(),
    )
    .with("x-canary", big.clone())
    .with(
        "cookie",
        [b"beta=".as_slice(), &big, b"; uid=", &big].concat(),
    )
    .with("user-agent", big.clone());
    let decision = decided(&config, &request);
    assert_eq!(
        decision.reason,
        Reason::Hash,
        "no rule matches these bytes; the cookie key hashes"
    );
    assert_eq!(decision.bucket, Some(bucket(b"service-a", &big)));

    let invalid_authority = Headers::to("\u{0}\u{7f}", "/").with("x-user-id", "carol");
    let bytes_authority = invalid_authority
        .clone()
        .with(":authority", vec![0xff; 70_000]);
    assert_eq!(decide(&config, &invalid_authority, &Given::nothing()), None);
    assert_eq!(decide(&config, &bytes_authority, &Given::nothing()), None);
}

// ---------------------------------------------------------------------------------------------
// Frozen bucket values and distribution
// ---------------------------------------------------------------------------------------------

fn ninety_ten(salt_field: &str) -> Config {
    config(&format!(
        r#"{{"routes":[{{"name":"service-a","subsets":[{{"name":"v1","weight":90}},{{"name":"v2","weight":10}}],"stickiness":{{"keys":[{{"header":"x-user-id"}}]{salt_field}}}}}]}}"#
    ))
}

#[test]
fn known_keys_land_in_their_golden_buckets() {
    // From tests/data/murmur3-contract.json, salt "service-a", v1 90 / v2 10.
    let golden: [(&str, u16, &str); 3] = [
        ("alice", 9899, "v1"),
        ("bob", 6422, "v1"),
        ("user-7d214db35835", 329, "v2"),
    ];
    let explicit_salt = ninety_ten(r#","salt":"service-a""#);
    let salt_from_route_name = ninety_ten("");
    for config in [&explicit_salt, &salt_from_route_name] {
        for (key, expected_bucket, expected_subset) in golden {
            let decision = decided(config, &Headers::to("any.com", "/").with("x-user-id", key));
            assert_eq!(decision.reason, Reason::Hash, "{key}");
            assert_eq!(decision.bucket, Some(expected_bucket), "{key}");
            assert_eq!(subset_name(config, &decision), expected_subset, "{key}");
        }
    }
    let other_salt = ninety_ten(r#","salt":"service-b""#);
    let decision = decided(
        &other_salt,
        &Headers::to("any.com", "/").with("x-user-id", "alice"),
    );
    assert_ne!(decision.bucket, Some(9899), "the salt is part of the hash");

    // In the full example alice hashes to v1 but is listed under `users`: v2.
    let full = full_config();
    let alice = Headers::to("servicea.com", "/").with("x-user-id", "alice");
    assert_eq!(outcome(&full, &alice), ("v2", Reason::User));
    assert_eq!(decided(&full, &alice).bucket, None);
}

fn split(v1: u32, v2: u32) -> Config {
    config(&format!(
        r#"{{"routes":[{{"name":"split","subsets":[{{"name":"v1","weight":{v1}}},{{"name":"v2","weight":{v2}}}],"stickiness":{{"keys":[{{"header":"x-user-id"}}],"salt":"service-a"}}}}]}}"#
    ))
}

fn subsets_of(config: &Config, users: &[String]) -> Vec<String> {
    users
        .iter()
        .map(|user| {
            let request = Headers::to("any.com", "/").with("x-user-id", user.as_str());
            subset_name(config, &decided(config, &request)).to_string()
        })
        .collect()
}

fn share_of(subset: &str, assigned: &[String]) -> f64 {
    100.0 * assigned.iter().filter(|s| *s == subset).count() as f64 / assigned.len() as f64
}

#[test]
fn twenty_thousand_users_split_by_weight_and_ramping_up_only_moves_them_forward() {
    let users: Vec<String> = (0..20_000).map(|i| format!("user-{i:05}")).collect();

    let at_10 = subsets_of(&split(90, 10), &users);
    let canary_share = share_of("v2", &at_10);
    assert!(
        (8.5..=11.5).contains(&canary_share),
        "90/10 gave v2 {canary_share:.2} %"
    );

    let at_50 = subsets_of(&split(50, 50), &users);
    let canary_share = share_of("v2", &at_50);
    assert!(
        (48.5..=51.5).contains(&canary_share),
        "50/50 gave v2 {canary_share:.2} %"
    );

    let mut moved_forward = 0;
    for ((user, before), after) in users.iter().zip(&at_10).zip(&at_50) {
        let moved_back = before == "v2" && after == "v1";
        assert!(
            !moved_back,
            "{user} moved back from v2 to v1 when ramping 10 -> 50"
        );
        if before == "v1" && after == "v2" {
            moved_forward += 1;
        }
    }
    assert!(
        moved_forward > 7_000,
        "about 40 % of users should move to v2, got {moved_forward}"
    );
}
