#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
//! `Config::from_json` on bad pluginConfig documents: each case pins the exact one-line error an
//! admin reads in the Envoy log (`path: reason`), in the table style of coraza-proxy-wasm. Then
//! the good documents: what a valid config compiles to, defaults included.

mod common;

use common::FULL_CONFIG;
use serde_json::{json, Value};
use sticky_canary_core::config::{Condition, Fallback, KeySource, Owned, OwnedHeader, Role};
use sticky_canary_core::matcher::HostPattern;
use sticky_canary_core::schema::Os;
use sticky_canary_core::{Config, DEFAULT_ROUTING_HEADER};

/// The full example with one edit applied. Semantic errors carry no line/column, so the key
/// order of the re-serialised document does not matter.
fn full_config_with(edit: impl FnOnce(&mut Value)) -> String {
    let mut config: Value = serde_json::from_str(FULL_CONFIG).unwrap();
    edit(&mut config);
    config.to_string()
}

fn remove(object: &mut Value, key: &str) {
    object
        .as_object_mut()
        .unwrap()
        .remove(key)
        .unwrap_or_else(|| panic!("the example config has no `{key}` here"));
}

/// Runs every case and reports all mismatches at once, not only the first.
fn assert_rejections(cases: &[(&str, String, &str)]) {
    let mut failures = Vec::new();
    for (name, document, expected) in cases {
        match Config::from_json(document.as_bytes()) {
            Ok(_) => failures.push(format!("{name}: accepted, expected error\n    {expected}")),
            Err(err) => {
                let actual = err.to_string();
                if actual != *expected {
                    failures.push(format!(
                        "{name}:\n    expected {expected}\n    actual   {actual}"
                    ));
                }
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}

/// Documents that do not parse or do not fit the schema. These are written out by hand: serde's
/// messages end with the line and column, which only make sense against the literal text.
#[test]
fn malformed_documents_are_rejected_with_path_and_position() {
    let cases: Vec<(&str, String, &str)> = vec![
        (
            "empty document",
            "".into(),
            "pluginConfig is empty: at least `routes` is required",
        ),
        (
            "whitespace-only document",
            " \n\t ".into(),
            "pluginConfig is empty: at least `routes` is required",
        ),
        (
            "YAML instead of JSON",
            "routes: []".into(),
            "invalid JSON: expected value at line 1 column 1",
        ),
        (
            "truncated JSON",
            r#"{"routes":["#.into(),
            "routes: invalid JSON: EOF while parsing a list at line 1 column 11",
        ),
        (
            "trailing garbage after the document",
            r#"{"routes":[{"name":"a","subsets":[{"name":"v1","weight":100}],"stickiness":{"keys":[{"header":"x-user-id"}]}}]} x"#.into(),
            "invalid JSON: trailing characters at line 1 column 113",
        ),
        (
            // Poor message (serde's words for a Rust struct); see the report. Pinned so a fix shows.
            "document is an array",
            "[]".into(),
            "invalid length 0, expected a pluginConfig object at line 1 column 2",
        ),
        (
            // Poor message ("struct RouteConfig" is a Rust type name); see the report.
            "route given as a string",
            r#"{"routes":["service-a"]}"#.into(),
            r#"routes[0]: invalid type: string "service-a", expected a route object at line 1 column 22"#,
        ),
        (
            "weight given as a string",
            r#"{"routes":[{"name":"a","subsets":[{"name":"v1","weight":"10"}],"stickiness":{"keys":[{"header":"x-user-id"}]}}]}"#.into(),
            r#"routes[0].subsets[0].weight: invalid type: string "10", expected a number (percent) at line 1 column 60"#,
        ),
        (
            "exposeSubset given as a string",
            r#"{"exposeSubset":"yes","routes":[]}"#.into(),
            r#"exposeSubset: invalid type: string "yes", expected a boolean at line 1 column 21"#,
        ),
        (
            "unknown top-level key (wrong case)",
            r#"{"routingheader":"x-subset","routes":[]}"#.into(),
            "routingheader: unknown field `routingheader`, expected one of `routingHeader`, `exposeSubset`, `tokenHeader`, `routes`, `reasonHeader` at line 1 column 16",
        ),
        (
            "unknown route key",
            r#"{"routes":[{"name":"a","rule":[]}]}"#.into(),
            "routes[0].rule: unknown field `rule`, expected one of `name`, `match`, `subsets`, `stickiness`, `rules`, `health`, `guard`, `lane`, `mirror`, `schedule` at line 1 column 29",
        ),
        (
            "unknown route match key",
            r#"{"routes":[{"name":"a","match":{"host":["a.com"]}}]}"#.into(),
            "routes[0].match.host: unknown field `host`, expected `hosts` or `pathPrefix` at line 1 column 38",
        ),
        (
            "unknown subset key",
            r#"{"routes":[{"name":"a","subsets":[{"name":"v1","weight":100,"label":"stable"}]}]}"#.into(),
            "routes[0].subsets[0].label: unknown field `label`, expected `name` or `weight` at line 1 column 67",
        ),
        (
            "unknown stickiness key",
            r#"{"routes":[{"name":"a","subsets":[{"name":"v1","weight":100}],"stickiness":{"key":[]}}]}"#.into(),
            "routes[0].stickiness.key: unknown field `key`, expected one of `keys`, `salt`, `fallback`, `bucketing`, `assign` at line 1 column 81",
        ),
        (
            "unknown rule match key",
            r#"{"routes":[{"name":"a","subsets":[{"name":"v1","weight":100}],"stickiness":{"keys":[{"header":"x-user-id"}]},"rules":[{"subset":"v1","match":{"header":[]}}]}]}"#.into(),
            "routes[0].rules[0].match.header: unknown field `header`, expected one of `headers`, `cookies`, `query`, `path`, `os` at line 1 column 150",
        ),
        (
            "unknown header matcher key",
            r#"{"routes":[{"name":"a","subsets":[{"name":"v1","weight":100}],"stickiness":{"keys":[{"header":"x-user-id"}]},"rules":[{"subset":"v1","match":{"headers":[{"name":"x-canary","equals":"true"}]}}]}]}"#.into(),
            "routes[0].rules[0].match.headers[0].equals: unknown field `equals`, expected one of `name`, `exact`, `prefix`, `suffix`, `contains`, `regex`, `present`, `ignoreCase` at line 1 column 180",
        ),
        (
            "missing routes",
            r#"{"routingHeader":"x-subset"}"#.into(),
            "missing field `routes` at line 1 column 28",
        ),
        (
            "missing route name",
            r#"{"routes":[{"subsets":[{"name":"v1","weight":100}],"stickiness":{"keys":[{"header":"x-user-id"}]}}]}"#.into(),
            "routes[0]: missing field `name` at line 1 column 98",
        ),
        (
            "missing subsets",
            r#"{"routes":[{"name":"a","stickiness":{"keys":[{"header":"x-user-id"}]}}]}"#.into(),
            "routes[0]: missing field `subsets` at line 1 column 70",
        ),
        (
            "missing subset name",
            r#"{"routes":[{"name":"a","subsets":[{"weight":100}],"stickiness":{"keys":[{"header":"x-user-id"}]}}]}"#.into(),
            "routes[0].subsets[0]: missing field `name` at line 1 column 48",
        ),
        (
            "missing stickiness",
            r#"{"routes":[{"name":"a","subsets":[{"name":"v1","weight":100}]}]}"#.into(),
            "routes[0]: missing field `stickiness` at line 1 column 62",
        ),
        (
            "unknown os name (wrong case)",
            r#"{"routes":[{"name":"a","subsets":[{"name":"v1","weight":100}],"stickiness":{"keys":[{"header":"x-user-id"}]},"rules":[{"subset":"v1","match":{"os":["ios"]}}]}]}"#.into(),
            "routes[0].rules[0].match.os[0]: unknown variant `ios`, expected one of `Windows`, `macOS`, `Linux`, `Android`, `iOS` at line 1 column 153",
        ),
        (
            "unknown fallback",
            r#"{"routes":[{"name":"a","subsets":[{"name":"v1","weight":100}],"stickiness":{"keys":[{"header":"x-user-id"}],"fallback":"sticky"}}]}"#.into(),
            "routes[0].stickiness.fallback: unknown variant `sticky`, expected `random` or `stable` at line 1 column 127",
        ),
    ];
    assert_rejections(&cases);
}

/// Documents that fit the schema but make no sense: each is the valid full example with exactly
/// one thing broken, so the error can only come from that edit.
#[test]
fn invalid_settings_are_rejected_with_path_and_reason() {
    let cases: Vec<(&str, String, &str)> = vec![
        (
            "no routes",
            full_config_with(|c| c["routes"] = json!([])),
            "routes: must list at least one route",
        ),
        (
            "no subsets",
            full_config_with(|c| c["routes"][0]["subsets"] = json!([])),
            "routes[0].subsets: must list at least one subset",
        ),
        (
            "weights summing to less than 100",
            full_config_with(|c| c["routes"][0]["subsets"][1]["weight"] = json!(5)),
            "routes[0].subsets: weights must sum to 100, got 95 (v1=90, v2=5)",
        ),
        (
            "weights summing to more than 100, with decimals",
            full_config_with(|c| {
                c["routes"][0]["subsets"] =
                    json!([{"name": "v1", "weight": 90.5}, {"name": "v2", "weight": 10.25}])
            }),
            "routes[0].subsets: weights must sum to 100, got 100.75 (v1=90.5, v2=10.25)",
        ),
        (
            "weight with three decimals",
            full_config_with(|c| {
                c["routes"][0]["subsets"] =
                    json!([{"name": "v1", "weight": 89.995}, {"name": "v2", "weight": 10.005}])
            }),
            "routes[0].subsets[0].weight: 89.995 has more than two decimals",
        ),
        (
            "negative weight",
            full_config_with(|c| c["routes"][0]["subsets"][1]["weight"] = json!(-1)),
            "routes[0].subsets[1].weight: -1 is out of range: a weight is a percent from 0 to 100",
        ),
        (
            "weight above 100",
            full_config_with(|c| c["routes"][0]["subsets"][0]["weight"] = json!(101)),
            "routes[0].subsets[0].weight: 101 is out of range: a weight is a percent from 0 to 100",
        ),
        (
            "duplicate subset names",
            full_config_with(|c| c["routes"][0]["subsets"][1]["name"] = json!("v1")),
            r#"routes[0].subsets[1].name: duplicate subset name "v1" (also subsets[0])"#,
        ),
        (
            "duplicate route names",
            full_config_with(|c| {
                let route = c["routes"][0].clone();
                c["routes"].as_array_mut().unwrap().push(route);
            }),
            r#"routes[1].name: duplicate route name "service-a" (also routes[0])"#,
        ),
        (
            "rule naming an unknown subset",
            full_config_with(|c| c["routes"][0]["rules"][1]["subset"] = json!("v3")),
            r#"routes[0].rules[1].subset: unknown subset "v3" (this route has "v1", "v2")"#,
        ),
        (
            "bad regex",
            full_config_with(|c| {
                c["routes"][0]["rules"][1]["match"]["cookies"][0]["regex"] = json!("^(1|yes$")
            }),
            "routes[0].rules[1].match.cookies[0].regex: invalid regex: found open group without closing ')'",
        ),
        (
            "no stickiness keys",
            full_config_with(|c| c["routes"][0]["stickiness"]["keys"] = json!([])),
            "routes[0].stickiness.keys: must list at least one key source",
        ),
        (
            "key source with both header and cookie",
            full_config_with(|c| {
                c["routes"][0]["stickiness"]["keys"][1] = json!({"header": "x-uid", "cookie": "uid"})
            }),
            "routes[0].stickiness.keys[1]: needs exactly one of `header`, `cookie`, `query`",
        ),
        (
            "key source with none of header, cookie, query",
            full_config_with(|c| c["routes"][0]["stickiness"]["keys"][2] = json!({})),
            "routes[0].stickiness.keys[2]: needs exactly one of `header`, `cookie`, `query`",
        ),
        (
            "empty key cookie name",
            full_config_with(|c| c["routes"][0]["stickiness"]["keys"][1] = json!({"cookie": ""})),
            "routes[0].stickiness.keys[1].cookie: must not be empty",
        ),
        (
            "empty salt",
            full_config_with(|c| c["routes"][0]["stickiness"]["salt"] = json!("")),
            "routes[0].stickiness.salt: must not be empty: omit it to use the route name",
        ),
        (
            "routing header with a space",
            full_config_with(|c| c["routingHeader"] = json!("X Canary")),
            r#"routingHeader: "X Canary" is not a valid HTTP header name"#,
        ),
        (
            "key header with a colon",
            full_config_with(|c| {
                c["routes"][0]["stickiness"]["keys"][0]["header"] = json!("x-user-id:")
            }),
            r#"routes[0].stickiness.keys[0].header: "x-user-id:" is not a valid HTTP header name"#,
        ),
        (
            "rule header name empty",
            full_config_with(|c| {
                c["routes"][0]["rules"][1]["match"]["headers"][0]["name"] = json!("")
            }),
            r#"routes[0].rules[1].match.headers[0].name: "" is not a valid HTTP header name"#,
        ),
        (
            "route name with a space",
            full_config_with(|c| c["routes"][0]["name"] = json!("service a")),
            r#"routes[0].name: "service a" must be 1 to 63 characters of A-Z a-z 0-9 - _"#,
        ),
        (
            "route name of 64 characters",
            full_config_with(|c| c["routes"][0]["name"] = json!("r".repeat(64))),
            "routes[0].name: \"rrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrr\" must be 1 to 63 characters of A-Z a-z 0-9 - _",
        ),
        (
            "subset name with a dot",
            full_config_with(|c| c["routes"][0]["subsets"][1]["name"] = json!("v2.1")),
            r#"routes[0].subsets[1].name: "v2.1" must be 1 to 63 characters of A-Z a-z 0-9 - _"#,
        ),
        (
            "empty subset name",
            full_config_with(|c| c["routes"][0]["subsets"][0]["name"] = json!("")),
            r#"routes[0].subsets[0].name: "" must be 1 to 63 characters of A-Z a-z 0-9 - _"#,
        ),
        (
            "header matcher with no match kind",
            full_config_with(|c| {
                c["routes"][0]["rules"][1]["match"]["headers"][0] = json!({"name": "x-canary"})
            }),
            "routes[0].rules[1].match.headers[0]: needs exactly one of `exact`, `prefix`, `suffix`, `contains`, `regex`, `present` (found 0)",
        ),
        (
            "path matcher with two match kinds",
            full_config_with(|c| {
                c["routes"][0]["rules"][1]["match"]["path"] = json!({"prefix": "/api", "suffix": ".json"})
            }),
            "routes[0].rules[1].match.path: needs exactly one of `exact`, `prefix`, `suffix`, `contains`, `regex`, `present` (found 2)",
        ),
        (
            "empty users list",
            full_config_with(|c| c["routes"][0]["rules"][0]["users"] = json!([])),
            "routes[0].rules[0].users: must not be empty",
        ),
        (
            "rule with neither users nor match",
            full_config_with(|c| remove(&mut c["routes"][0]["rules"][0], "users")),
            "routes[0].rules[0]: needs `users` or at least one condition under `match`",
        ),
        (
            "rule with an empty match",
            full_config_with(|c| c["routes"][0]["rules"][1]["match"] = json!({})),
            "routes[0].rules[1]: needs `users` or at least one condition under `match`",
        ),
        (
            "empty os list",
            full_config_with(|c| c["routes"][0]["rules"][1]["match"]["os"] = json!([])),
            "routes[0].rules[1].match.os: must not be empty",
        ),
        (
            "empty hosts list",
            full_config_with(|c| c["routes"][0]["match"]["hosts"] = json!([])),
            "routes[0].match.hosts: must not be empty: omit it to match any host",
        ),
        (
            "host wildcard in the middle",
            full_config_with(|c| c["routes"][0]["match"]["hosts"][1] = json!("svc.*.local")),
            r#"routes[0].match.hosts[1]: "svc.*.local": a wildcard must be "*" or a "*." prefix"#,
        ),
        (
            "host wildcard without a dot",
            full_config_with(|c| c["routes"][0]["match"]["hosts"][1] = json!("*svc.local")),
            r#"routes[0].match.hosts[1]: "*svc.local": a wildcard must be "*" or a "*." prefix"#,
        ),
        (
            "host that is a URL",
            full_config_with(|c| c["routes"][0]["match"]["hosts"][0] = json!("https://servicea.com/")),
            r#"routes[0].match.hosts[0]: "https://servicea.com/": not a host name"#,
        ),
        (
            "host with a port",
            full_config_with(|c| c["routes"][0]["match"]["hosts"][0] = json!("servicea.com:8080")),
            r#"routes[0].match.hosts[0]: "servicea.com:8080": list the host without a port (ports are ignored when matching)"#,
        ),
        (
            "empty user name",
            full_config_with(|c| c["routes"][0]["rules"][0]["users"] = json!(["alice", ""])),
            "routes[0].rules[0].users[1]: must not be empty: an empty key is never a user",
        ),
        (
            "pathPrefix without a leading slash",
            full_config_with(|c| c["routes"][0]["match"]["pathPrefix"] = json!("api")),
            r#"routes[0].match.pathPrefix: "api" must start with "/""#,
        ),
    ];
    assert_rejections(&cases);
}

/// The filter writes the routing header on every routed request, so it must not be a header that
/// the filter reads (key, rule, token, cookies) or that routing reads (authority, pseudo-headers).
/// The error names the field that reads it, and says when the routing header is the default.
#[test]
fn routing_header_must_not_be_a_header_the_filter_or_routing_reads() {
    let cases: Vec<(&str, String, &str)> = vec![
        (
            ":authority",
            full_config_with(|c| c["routingHeader"] = json!(":authority")),
            r#"routingHeader: ":authority" is a pseudo-header, part of the request itself; the routing header must be an ordinary header"#,
        ),
        (
            ":path",
            full_config_with(|c| c["routingHeader"] = json!(":path")),
            r#"routingHeader: ":path" is a pseudo-header, part of the request itself; the routing header must be an ordinary header"#,
        ),
        (
            "host, any case",
            full_config_with(|c| c["routingHeader"] = json!("Host")),
            r#"routingHeader: "host" is the request's authority (:authority), which routes[].match.hosts and Envoy's virtual hosts match; the filter would overwrite it"#,
        ),
        (
            "cookie",
            full_config_with(|c| c["routingHeader"] = json!("COOKIE")),
            r#"routingHeader: "cookie" holds all of the request's cookies; the filter would overwrite them"#,
        ),
        (
            "the default token header",
            full_config_with(|c| c["routingHeader"] = json!("X-Canary-Token")),
            r#"routingHeader: "x-canary-token" is also the default tokenHeader; the filter would overwrite the token it checks"#,
        ),
        (
            "the token header, both named",
            full_config_with(|c| {
                c["routingHeader"] = json!("x-qa-token");
                c["tokenHeader"] = json!("X-QA-Token");
            }),
            r#"routingHeader: "x-qa-token" is also tokenHeader; the filter would overwrite the token it checks"#,
        ),
        (
            "a stickiness key header, any case",
            full_config_with(|c| c["routingHeader"] = json!("X-User-ID")),
            r#"routingHeader: "x-user-id" is also routes[0].stickiness.keys[0].header; the filter would overwrite the key it hashes"#,
        ),
        (
            "a stickiness key header of a later route",
            full_config_with(|c| {
                let mut route = c["routes"][0].clone();
                route["name"] = json!("service-b");
                route["stickiness"]["keys"] = json!([{"cookie": "sid"}, {"header": "x-session"}]);
                c["routes"].as_array_mut().unwrap().push(route);
                c["routingHeader"] = json!("x-session");
            }),
            r#"routingHeader: "x-session" is also routes[1].stickiness.keys[1].header; the filter would overwrite the key it hashes"#,
        ),
        (
            "a header a rule matches",
            full_config_with(|c| c["routingHeader"] = json!("X-Canary")),
            r#"routingHeader: "x-canary" is also routes[0].rules[1].match.headers[0].name; the filter would overwrite the header the rule matches"#,
        ),
        (
            "user-agent, which an os rule reads",
            full_config_with(|c| c["routingHeader"] = json!("User-Agent")),
            r#"routingHeader: "user-agent" is also the header routes[0].rules[1].match.os reads; the filter would overwrite the header the rule matches"#,
        ),
        (
            "the default routing header as a key header",
            full_config_with(|c| {
                remove(c, "routingHeader");
                c["routes"][0]["stickiness"]["keys"][0]["header"] = json!("X-Canary-Subset");
            }),
            r#"routingHeader: "x-canary-subset" (the default) is also routes[0].stickiness.keys[0].header; the filter would overwrite the key it hashes"#,
        ),
        (
            "the default routing header in a rule",
            full_config_with(|c| {
                remove(c, "routingHeader");
                c["routes"][0]["rules"][1]["match"]["headers"][0]["name"] =
                    json!("x-canary-subset");
            }),
            r#"routingHeader: "x-canary-subset" (the default) is also routes[0].rules[1].match.headers[0].name; the filter would overwrite the header the rule matches"#,
        ),
    ];
    assert_rejections(&cases);

    // Only what is read is refused: without an `os` condition nothing reads User-Agent.
    let no_os = full_config_with(|c| {
        remove(&mut c["routes"][0]["rules"][1]["match"], "os");
        c["routingHeader"] = json!("User-Agent");
    });
    let config = Config::from_json(no_os.as_bytes()).unwrap();
    assert_eq!(config.routing_header, "user-agent");
}

#[test]
fn error_path_and_reason_are_separate_fields() {
    let err = Config::from_json(
        full_config_with(|c| c["routes"][0]["subsets"][1]["weight"] = json!(-1)).as_bytes(),
    )
    .unwrap_err();
    assert_eq!(err.path, "routes[0].subsets[1].weight");
    assert_eq!(
        err.reason,
        "-1 is out of range: a weight is a percent from 0 to 100"
    );

    let err = Config::from_json(b"").unwrap_err();
    assert_eq!(err.path, "", "a document-level error has no path");
}

/// Found by the `config` fuzz target: serde echoes an unknown key verbatim, so a key holding
/// `\n` split the error over two log lines (and could forge a second one).
#[test]
fn errors_stay_on_one_line_whatever_the_admin_typed() {
    assert_rejections(&[
        (
            "newline in an unknown key",
            r#"{"route\nERROR forged":[]}"#.to_string(),
            r#"route\nERROR forged: unknown field `route\nERROR forged`, expected one of `routingHeader`, `exposeSubset`, `tokenHeader`, `routes`, `reasonHeader` at line 1 column 22"#,
        ),
        (
            "control characters in a subset name",
            full_config_with(|c| c["routes"][0]["subsets"][1]["name"] = json!("v2\r\n\u{7}")),
            r#"routes[0].subsets[1].name: "v2\r\n\u{7}" must be 1 to 63 characters of A-Z a-z 0-9 - _"#,
        ),
        (
            "newline in a header name",
            full_config_with(|c| c["routingHeader"] = json!("x-a\nb")),
            r#"routingHeader: "x-a\nb" is not a valid HTTP header name"#,
        ),
    ]);
    let crash = include_bytes!("../../../fuzz/seeds/config/regression-newline-in-unknown-key.json");
    let err = Config::from_json(crash).unwrap_err().to_string();
    assert!(!err.contains('\n') && !err.contains('\r'), "{err:?}");
}

#[test]
fn full_example_compiles_to_the_expected_config() {
    let config = Config::from_json(FULL_CONFIG.as_bytes()).unwrap();
    assert_eq!(
        config.routing_header, "x-canary-subset",
        "routing header is lowercased"
    );
    assert!(config.expose_subset);
    assert_eq!(config.routes.len(), 1);

    let route = &config.routes[0];
    assert_eq!(route.name, "service-a");
    assert_eq!(
        route.hosts,
        vec![
            HostPattern::Exact(b"servicea.com".to_vec()),
            HostPattern::WildcardSuffix(b".svc.cluster.local".to_vec()),
        ]
    );
    assert_eq!(route.path_prefix.as_deref(), Some(&b"/"[..]));
    let subsets: Vec<(&str, u16)> = route
        .subsets
        .iter()
        .map(|s| (s.name.as_str(), s.weight))
        .collect();
    assert_eq!(subsets, vec![("v1", 9000), ("v2", 1000)]);
    assert_eq!(
        route.layout.ranges(),
        vec![(1, 0, 1000), (0, 1000, 10000)],
        "newest subset owns the low buckets"
    );
    assert_eq!(
        route.keys,
        vec![
            KeySource::Header("x-user-id".into()),
            KeySource::Cookie(b"uid".to_vec()),
            KeySource::Query(b"uid".to_vec()),
        ]
    );
    assert_eq!(route.salt, b"service-a");
    assert_eq!(route.fallback, Fallback::Random);

    assert_eq!(route.rules.len(), 2);
    let users_rule = &route.rules[0];
    assert_eq!(users_rule.subset, 1, "v2 is subset index 1");
    assert_eq!(
        users_rule.users,
        Some(vec![b"alice".to_vec(), b"bob".to_vec()])
    );
    assert!(users_rule.conditions.is_empty());

    let match_rule = &route.rules[1];
    assert_eq!(match_rule.subset, 1);
    assert_eq!(match_rule.users, None);
    let conditions = &match_rule.conditions;
    assert_eq!(conditions.len(), 5);
    assert!(matches!(&conditions[0], Condition::Header(name, _) if name == "x-canary"));
    assert!(matches!(&conditions[1], Condition::Cookie(name, _) if name == b"beta"));
    assert!(matches!(&conditions[2], Condition::Query(name, _) if name == b"version"));
    assert!(matches!(&conditions[3], Condition::Path(_)));
    assert!(matches!(&conditions[4], Condition::Os(list) if *list == [Os::Ios, Os::Android]));
}

#[test]
fn minimal_config_gets_the_documented_defaults() {
    let config = Config::from_json(
        br#"{"routes":[{"name":"checkout","subsets":[{"name":"v1","weight":100}],"stickiness":{"keys":[{"header":"X-User-ID"}]}}]}"#,
    )
    .unwrap();
    assert_eq!(config.routing_header, DEFAULT_ROUTING_HEADER);
    assert_eq!(DEFAULT_ROUTING_HEADER, "x-canary-subset");
    assert!(!config.expose_subset);
    let route = &config.routes[0];
    assert!(route.hosts.is_empty(), "no match: any host");
    assert_eq!(route.path_prefix, None);
    assert_eq!(route.salt, b"checkout", "salt defaults to the route name");
    assert_eq!(route.fallback, Fallback::Random);
    assert_eq!(
        route.keys,
        vec![KeySource::Header("x-user-id".into())],
        "key header is lowercased"
    );
    assert!(route.rules.is_empty());
}

#[test]
fn weights_are_stored_exactly_as_hundredths() {
    let config = Config::from_json(
        br#"{"routes":[{"name":"thirds","subsets":[{"name":"a","weight":33.33},{"name":"b","weight":33.33},{"name":"c","weight":33.34}],"stickiness":{"keys":[{"header":"x-user-id"}],"fallback":"stable"}}]}"#,
    )
    .unwrap();
    let route = &config.routes[0];
    let weights: Vec<u16> = route.subsets.iter().map(|s| s.weight).collect();
    assert_eq!(weights, vec![3333, 3333, 3334]);
    assert_eq!(
        route.layout.ranges(),
        vec![(2, 0, 3334), (1, 3334, 6667), (0, 6667, 10000)]
    );
    assert_eq!(route.fallback, Fallback::Stable);

    let config = Config::from_json(
        br#"{"routes":[{"name":"cutover","subsets":[{"name":"v1","weight":0},{"name":"v2","weight":100.0}],"stickiness":{"keys":[{"header":"x-user-id"}]}}]}"#,
    )
    .unwrap();
    let weights: Vec<u16> = config.routes[0].subsets.iter().map(|s| s.weight).collect();
    assert_eq!(weights, vec![0, 10000], "0 and 100 are valid weights");
}

#[test]
fn users_are_sorted_and_deduplicated_and_names_lowercased() {
    let config = Config::from_json(
        full_config_with(|c| {
            c["routes"][0]["rules"][0]["users"] = json!(["bob", "alice", "bob"]);
            c["routes"][0]["rules"][1]["match"]["headers"][0]["name"] = json!("X-Canary");
        })
        .as_bytes(),
    )
    .unwrap();
    let rules = &config.routes[0].rules;
    assert_eq!(
        rules[0].users,
        Some(vec![b"alice".to_vec(), b"bob".to_vec()])
    );
    assert!(matches!(&rules[1].conditions[0], Condition::Header(name, _) if name == "x-canary"));
}

/// The full example with `guard` (and other route keys) set on its route.
fn guarded_with(guard: Value) -> String {
    full_config_with(|c| c["routes"][0]["guard"] = guard)
}

#[test]
fn invalid_guards_are_rejected_with_path_and_reason() {
    let ok = || json!({"subset": "v2", "maxErrorRate": 0.05});
    let with = |key: &str, value: Value| {
        let mut guard = ok();
        guard[key] = value;
        guarded_with(guard)
    };
    let cases: Vec<(&str, String, &str)> = vec![
        (
            "rate above 1",
            with("maxErrorRate", json!(1.5)),
            "routes[0].guard.maxErrorRate: 1.5 is out of range: a share of responses from 0 to 1 (0.05 is 5 %)",
        ),
        (
            "negative rate",
            with("maxErrorRate", json!(-0.01)),
            "routes[0].guard.maxErrorRate: -0.01 is out of range: a share of responses from 0 to 1 (0.05 is 5 %)",
        ),
        (
            "rate as a percent string",
            with("maxErrorRate", json!("5%")),
            r#"routes[0].guard.maxErrorRate: invalid type: string "5%", expected a number (share from 0 to 1) at line 1 column 60"#,
        ),
        (
            "window 0",
            with("window", json!("0s")),
            r#"routes[0].guard.window: "0s" must be at least 1s"#,
        ),
        (
            "window without a unit",
            with("window", json!("30")),
            r#"routes[0].guard.window: "30" is not a duration: a whole number of seconds, minutes or hours such as "30s", "5m", "1h""#,
        ),
        (
            "window in milliseconds",
            with("window", json!("500ms")),
            r#"routes[0].guard.window: "500ms" is not a duration: a whole number of seconds, minutes or hours such as "30s", "5m", "1h""#,
        ),
        (
            "window longer than 10 minutes",
            with("window", json!("11m")),
            r#"routes[0].guard.window: "11m" is longer than 10m, the most it may be"#,
        ),
        (
            "window as a number",
            with("window", json!(30)),
            "routes[0].guard.window: invalid type: integer `30`, expected a string at line 1 column 86",
        ),
        (
            "coolDown 0",
            with("coolDown", json!("0m")),
            r#"routes[0].guard.coolDown: "0m" must be at least 1s"#,
        ),
        (
            "coolDown over a day",
            with("coolDown", json!("25h")),
            r#"routes[0].guard.coolDown: "25h" is longer than 24h, the most it may be"#,
        ),
        (
            "minRequests 0",
            with("minRequests", json!(0)),
            "routes[0].guard.minRequests: must be at least 1: a guard decides on at least one response",
        ),
        (
            "unknown subset",
            with("subset", json!("v3")),
            r#"routes[0].guard.subset: unknown subset "v3" (this route has "v1", "v2")"#,
        ),
        (
            "the stable subset",
            with("subset", json!("v1")),
            r#"routes[0].guard.subset: "v1" is the route's stable subset (the first with a weight above 0), where a tripped guard sends the canary's users: guard a newer subset"#,
        ),
        (
            "the stable subset after a full cutover",
            full_config_with(|c| {
                c["routes"][0]["subsets"] =
                    json!([{"name": "v1", "weight": 0}, {"name": "v2", "weight": 100}]);
                c["routes"][0]["guard"] = json!({"subset": "v2", "maxErrorRate": 0.05});
            }),
            r#"routes[0].guard.subset: "v2" is the route's stable subset (the first with a weight above 0), where a tripped guard sends the canary's users: guard a newer subset"#,
        ),
        (
            "no rate",
            guarded_with(json!({"subset": "v2"})),
            "routes[0].guard: missing field `maxErrorRate` at line 1 column 55",
        ),
        (
            "unknown key",
            with("errorRate", json!(0.1)),
            "routes[0].guard.errorRate: unknown field `errorRate`, expected one of `subset`, `maxErrorRate`, `minRequests`, `window`, `coolDown` at line 1 column 52",
        ),
        (
            "health off with a guard",
            full_config_with(|c| {
                c["routes"][0]["health"] = json!(false);
                c["routes"][0]["guard"] = ok();
            }),
            "routes[0].health: is false, but the route's guard counts its responses: remove health or set it true",
        ),
        (
            "health not a bool",
            full_config_with(|c| c["routes"][0]["health"] = json!("yes")),
            r#"routes[0].health: invalid type: string "yes", expected a boolean at line 1 column 46"#,
        ),
    ];
    assert_rejections(&cases);
}

#[test]
fn a_guard_compiles_with_the_documented_defaults_and_turns_health_on() {
    let config =
        Config::from_json(guarded_with(json!({"subset": "v2", "maxErrorRate": 0.05})).as_bytes())
            .unwrap();
    let route = &config.routes[0];
    assert!(route.health);
    assert_eq!(
        route.guard,
        Some(sticky_canary_core::Guard {
            subset: 1,
            max_error_rate: 0.05,
            min_requests: 100,
            window_secs: 30,
            cool_down_secs: 300,
        })
    );
    let config = Config::from_json(
        guarded_with(json!({"subset": "v2", "maxErrorRate": 0, "minRequests": 1,
                            "window": "2m", "coolDown": "1h"}))
        .as_bytes(),
    )
    .unwrap();
    let guard = config.routes[0].guard.as_ref().unwrap();
    assert_eq!(
        (
            guard.max_error_rate,
            guard.min_requests,
            guard.window_secs,
            guard.cool_down_secs
        ),
        (0.0, 1, 120, 3600)
    );

    let plain = Config::from_json(full_config_with(|_| {}).as_bytes()).unwrap();
    assert!(!plain.routes[0].health && plain.routes[0].guard.is_none());
    let health =
        Config::from_json(full_config_with(|c| c["routes"][0]["health"] = json!(true)).as_bytes())
            .unwrap();
    assert!(health.routes[0].health && health.routes[0].guard.is_none());
}

/// `reasonHeader` is written on every routed request like the routing header: it must be a
/// header name and neither the routing nor the token header.
#[test]
fn reason_header_must_be_a_header_name_the_filter_does_not_otherwise_use() {
    let cases: Vec<(&str, String, &str)> = vec![
        (
            "not a header name",
            full_config_with(|c| c["reasonHeader"] = json!("x canary")),
            r#"reasonHeader: "x canary" is not a valid HTTP header name"#,
        ),
        (
            "the routing header",
            full_config_with(|c| c["reasonHeader"] = json!("X-Canary-Subset")),
            r#"routingHeader: "x-canary-subset" is also reasonHeader; the filter would overwrite the reason it carries"#,
        ),
        (
            "the default token header",
            full_config_with(|c| c["reasonHeader"] = json!("x-canary-token")),
            r#"reasonHeader: "x-canary-token" is also the default tokenHeader; the filter would overwrite the token it checks"#,
        ),
        (
            "a key header",
            full_config_with(|c| c["reasonHeader"] = json!("X-User-Id")),
            r#"reasonHeader: "x-user-id" is also routes[0].stickiness.keys[0].header; the filter would overwrite the key it hashes"#,
        ),
        (
            "cookie",
            full_config_with(|c| c["reasonHeader"] = json!("cookie")),
            r#"reasonHeader: "cookie" is also the request's cookies (cookie), which cookie keys and rules read; the filter would overwrite them"#,
        ),
        (
            "an untrusted lane header",
            full_config_with(|c| {
                c["reasonHeader"] = json!("x-lane");
                c["routes"][0]["lane"] = json!({"header": "x-lane"});
            }),
            r#"reasonHeader: "x-lane" is also routes[0].lane.header; the filter would overwrite the lane it carries"#,
        ),
        (
            "the baggage header of a lane",
            full_config_with(|c| {
                c["reasonHeader"] = json!("baggage");
                c["routes"][0]["lane"] = json!({"baggage": "lane"});
            }),
            r#"reasonHeader: "baggage" is also routes[0].lane.baggage (the baggage header); the filter would overwrite the lane it carries"#,
        ),
        (
            "the mirror header",
            full_config_with(|c| {
                c["reasonHeader"] = json!("x-mirror");
                c["routes"][0]["mirror"] =
                    json!({"subset": "v2", "percent": 5, "header": "x-mirror"});
            }),
            r#"reasonHeader: "x-mirror" is also routes[0].mirror.header; the filter would overwrite the mirror mark"#,
        ),
        (
            "the assign header",
            full_config_with(|c| {
                c["reasonHeader"] = json!("x-uid");
                c["routes"][0]["stickiness"]["fallback"] = Value::Null;
                c["routes"][0]["stickiness"]["assign"] =
                    json!({"cookie": "uid", "maxAge": 60, "header": "x-uid"});
            }),
            r#"reasonHeader: "x-uid" is also routes[0].stickiness.assign.header; the filter would overwrite the visitor's id"#,
        ),
    ];
    assert_rejections(&cases);
    let config = full_config_with(|c| c["reasonHeader"] = json!("X-Canary-Reason"));
    let config = Config::from_json(config.as_bytes()).unwrap();
    assert_eq!(config.reason_header.as_deref(), Some("x-canary-reason"));
    assert_eq!(
        Config::from_json(FULL_CONFIG.as_bytes())
            .unwrap()
            .reason_header,
        None
    );
}

/// `lane` and `mirror`: route-level, next to `stickiness`.
#[test]
fn lane_and_mirror_settings_are_rejected_with_path_and_reason() {
    let route = |edit: fn(&mut Value)| full_config_with(|c| edit(&mut c["routes"][0]));
    let cases: Vec<(&str, String, &str)> = vec![
        (
            "lane with neither header nor baggage",
            route(|r| r["lane"] = json!({"trust": true})),
            "routes[0].lane: needs exactly one of `header`, `baggage`",
        ),
        (
            "lane with both header and baggage",
            route(|r| r["lane"] = json!({"header": "x-lane", "baggage": "lane"})),
            "routes[0].lane: needs exactly one of `header`, `baggage`",
        ),
        (
            "lane header not a header name",
            route(|r| r["lane"] = json!({"header": "x lane"})),
            r#"routes[0].lane.header: "x lane" is not a valid HTTP header name"#,
        ),
        (
            "lane baggage key not a token",
            route(|r| r["lane"] = json!({"baggage": "canary lane"})),
            r#"routes[0].lane.baggage: "canary lane" is not a valid baggage key (a token, as an HTTP header name)"#,
        ),
        (
            "fallback without trust",
            route(|r| r["lane"] = json!({"header": "x-lane", "fallback": "stable"})),
            "routes[0].lane.fallback: applies only with trust: true (an untrusted lane is always replaced)",
        ),
        (
            "fallback with trust false",
            route(|r| r["lane"] = json!({"header": "x-lane", "trust": false, "fallback": "decide"})),
            "routes[0].lane.fallback: applies only with trust: true (an untrusted lane is always replaced)",
        ),
        (
            "unknown fallback",
            route(|r| r["lane"] = json!({"header": "x-lane", "trust": true, "fallback": "random"})),
            "routes[0].lane.fallback: unknown variant `random`, expected `stable` or `decide` at line 1 column 59",
        ),
        (
            "unknown lane key",
            route(|r| r["lane"] = json!({"header": "x-lane", "trusted": true})),
            "routes[0].lane.trusted: unknown field `trusted`, expected one of `header`, `baggage`, `trust`, `fallback` at line 1 column 67",
        ),
        (
            "lane header is the routing header",
            route(|r| r["lane"] = json!({"header": "X-Canary-Subset"})),
            r#"routingHeader: "x-canary-subset" is also routes[0].lane.header; the filter would overwrite the lane it carries"#,
        ),
        (
            "an untrusted lane header is a key header",
            route(|r| r["lane"] = json!({"header": "x-user-id"})),
            r#"routes[0].lane.header: "x-user-id" is also routes[0].stickiness.keys[0].header; the filter would overwrite the key it hashes"#,
        ),
        (
            "lane header is the token header",
            route(|r| r["lane"] = json!({"header": "x-canary-token"})),
            r#"routes[0].lane.header: "x-canary-token" is also the default tokenHeader; the filter would overwrite the token it checks"#,
        ),
        (
            "lane header is cookie",
            route(|r| r["lane"] = json!({"header": "Cookie"})),
            r#"routes[0].lane.header: "cookie" is also the request's cookies (cookie), which cookie keys and rules read; the filter would overwrite them"#,
        ),
        (
            "lane header is a pseudo-header",
            route(|r| r["lane"] = json!({"header": ":path"})),
            r#"routes[0].lane.header: ":path" is not a valid HTTP header name"#,
        ),
        (
            "baggage lane while the routing header is baggage",
            full_config_with(|c| {
                c["routingHeader"] = json!("baggage");
                c["routes"][0]["lane"] = json!({"baggage": "canary-lane"});
            }),
            r#"routingHeader: "baggage" is also routes[0].lane.baggage (the baggage header); the filter would overwrite the lane it carries"#,
        ),
        (
            "baggage lane while a key is the baggage header",
            route(|r| {
                r["stickiness"]["keys"][1] = json!({"header": "baggage"});
                r["lane"] = json!({"baggage": "canary-lane"});
            }),
            r#"routes[0].lane.baggage: "baggage" is also routes[0].stickiness.keys[1].header; the filter would overwrite the key it hashes"#,
        ),
        (
            "mirror of an unknown subset",
            route(|r| r["mirror"] = json!({"subset": "v3", "percent": 5, "header": "x-mirror"})),
            r#"routes[0].mirror.subset: unknown subset "v3" (this route has "v1", "v2")"#,
        ),
        (
            "mirror percent above 100",
            route(|r| r["mirror"] = json!({"subset": "v2", "percent": 100.5, "header": "x-mirror"})),
            "routes[0].mirror.percent: 100.5 is out of range: the share of users mirrored is a percent from 0 to 100",
        ),
        (
            "mirror percent below 0",
            route(|r| r["mirror"] = json!({"subset": "v2", "percent": -1, "header": "x-mirror"})),
            "routes[0].mirror.percent: -1 is out of range: the share of users mirrored is a percent from 0 to 100",
        ),
        (
            "mirror percent finer than 0.01",
            route(|r| r["mirror"] = json!({"subset": "v2", "percent": 0.005, "header": "x-mirror"})),
            "routes[0].mirror.percent: 0.005 has more than two decimals",
        ),
        (
            "mirror without header",
            route(|r| r["mirror"] = json!({"subset": "v2", "percent": 5})),
            "routes[0].mirror: missing field `header` at line 1 column 142",
        ),
        (
            "mirror header is the routing header",
            route(|r| r["mirror"] = json!({"subset": "v2", "percent": 5, "header": "x-canary-subset"})),
            r#"routingHeader: "x-canary-subset" is also routes[0].mirror.header; the filter would overwrite the mirror mark"#,
        ),
        (
            "mirror header is the lane header",
            route(|r| {
                r["lane"] = json!({"header": "x-lane"});
                r["mirror"] = json!({"subset": "v2", "percent": 5, "header": "X-Lane"});
            }),
            r#"routes[0].mirror.header: "x-lane" is also routes[0].lane.header; the filter would overwrite the lane it carries"#,
        ),
        (
            "mirror header is baggage while the lane travels in baggage",
            route(|r| {
                r["lane"] = json!({"baggage": "lane"});
                r["mirror"] = json!({"subset": "v2", "percent": 5, "header": "baggage"});
            }),
            r#"routes[0].mirror.header: "baggage" is also routes[0].lane.baggage (the baggage header); the filter would overwrite the lane it carries"#,
        ),
        (
            "mirror header is a key header",
            route(|r| r["mirror"] = json!({"subset": "v2", "percent": 5, "header": "x-user-id"})),
            r#"routes[0].mirror.header: "x-user-id" is also routes[0].stickiness.keys[0].header; the filter would overwrite the key it hashes"#,
        ),
    ];
    assert_rejections(&cases);
}

#[test]
fn lane_and_mirror_compile_with_their_defaults() {
    use sticky_canary_core::config::{Lane, LaneCarrier, LaneFallback};
    let config = Config::from_json(
        full_config_with(|c| {
            c["routes"][0]["lane"] = json!({"baggage": "canary-lane"});
            c["routes"][0]["mirror"] =
                json!({"subset": "v2", "percent": 5.25, "header": "X-Canary-Mirror"});
        })
        .as_bytes(),
    )
    .unwrap();
    let route = &config.routes[0];
    assert_eq!(
        route.lane,
        Some(Lane {
            carrier: LaneCarrier::Baggage(b"canary-lane".to_vec()),
            trust: false,
            fallback: LaneFallback::Stable,
        })
    );
    let mirror = route.mirror.as_ref().unwrap();
    assert_eq!(
        (mirror.subset, mirror.threshold, mirror.header.as_str()),
        (1, 525, "x-canary-mirror")
    );
    assert_eq!(mirror.salt, b"service-a:mirror");
    // What the filter writes on every request: the routing header, the mirror mark, and the
    // untrusted lane's baggage member (the baggage header itself is shared, not owned).
    assert_eq!(
        config.owned,
        Owned {
            headers: vec![
                OwnedHeader {
                    name: "x-canary-subset".into(),
                    role: Role::Routing
                },
                OwnedHeader {
                    name: "x-canary-mirror".into(),
                    role: Role::Mirror
                },
            ],
            baggage_keys: vec![b"canary-lane".to_vec()],
        }
    );

    let trusted = Config::from_json(
        full_config_with(|c| {
            c["routes"][0]["lane"] =
                json!({"header": "X-Lane", "trust": true, "fallback": "decide"});
            c["routes"][0]["stickiness"]
                .as_object_mut()
                .unwrap()
                .remove("salt");
        })
        .as_bytes(),
    )
    .unwrap();
    assert_eq!(
        trusted.routes[0].lane,
        Some(Lane {
            carrier: LaneCarrier::Header("x-lane".into()),
            trust: true,
            fallback: LaneFallback::Decide,
        })
    );
    assert!(trusted.routes[0].mirror.is_none());
    // A trusted lane is the client's to carry: only the routing header is owned.
    assert_eq!(
        trusted.owned,
        Owned {
            headers: vec![OwnedHeader {
                name: "x-canary-subset".into(),
                role: Role::Routing
            }],
            baggage_keys: vec![],
        }
    );
    let trusted_default = Config::from_json(
        full_config_with(|c| c["routes"][0]["lane"] = json!({"header": "x-lane", "trust": true}))
            .as_bytes(),
    )
    .unwrap();
    assert_eq!(
        trusted_default.routes[0].lane.as_ref().unwrap().fallback,
        LaneFallback::Stable
    );
}
