//! The language-neutral decision vectors (`tests/data/decision-vectors.json`): every request in
//! the file through `plan()`, route, subset, reason, bucket and rule exactly as the file says,
//! natively and on wasm32 under Node (`make test-wasm`). Natively, every hashed bucket and its
//! subset are also recomputed from the file alone with the independent `murmur3` crate, so the
//! file does not merely confirm the core that produced it. `write_the_vector_file` (ignored)
//! produced the file once; it is frozen like the hashing contract.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;

mod common;

use serde_json::Value;
use sticky_canary_core::{plan, Config, Inputs, Request};

const VECTORS_JSON: &str = include_str!("data/decision-vectors.json");

/// The file's inputs besides the request: no guard has tripped, and no vector needs a random
/// number or a new id (a vector that asked for one would not be deterministic).
struct NoDraws;

impl Inputs for NoDraws {
    fn tripped(&self, _route: usize) -> bool {
        false
    }

    fn random(&self) -> u32 {
        panic!("a decision vector asked for a random number")
    }

    fn new_id(&self) -> [u8; 16] {
        panic!("a decision vector asked for a new id")
    }
}

/// A decision as the file writes it; every field `None` when no route matched.
#[derive(Debug, PartialEq, Eq)]
struct Outcome {
    route: Option<String>,
    subset: Option<String>,
    reason: Option<String>,
    bucket: Option<u64>,
    rule: Option<u64>,
}

fn decide(config: &Config, headers: &[(String, String)]) -> Outcome {
    let pairs = headers
        .iter()
        .map(|(name, value)| (name.as_bytes(), value.as_bytes()))
        .collect();
    let Some(d) = plan(config, &Request::new(pairs), &NoDraws).decision else {
        return Outcome {
            route: None,
            subset: None,
            reason: None,
            bucket: None,
            rule: None,
        };
    };
    let route = &config.routes[d.route];
    Outcome {
        route: Some(route.name.clone()),
        subset: Some(route.subsets[d.subset].name.clone()),
        reason: Some(d.reason.as_str().to_string()),
        bucket: d.bucket.map(u64::from),
        rule: d.rule.map(|r| r as u64),
    }
}

struct Vector {
    name: String,
    headers: Vec<(String, String)>,
    /// The stickiness key the decision used, for `hash` and `user` vectors; only the native
    /// cross-checks read it.
    #[cfg_attr(target_arch = "wasm32", allow(dead_code))]
    key: Option<String>,
    expect: Outcome,
}

struct Group {
    name: String,
    plugin_config: Value,
    vectors: Vec<Vector>,
}

fn text(value: &Value) -> Option<String> {
    match value {
        Value::Null => None,
        v => Some(v.as_str().unwrap().to_string()),
    }
}

fn number(value: &Value) -> Option<u64> {
    match value {
        Value::Null => None,
        v => Some(v.as_u64().unwrap()),
    }
}

fn groups() -> Vec<Group> {
    let document: Value = serde_json::from_str(VECTORS_JSON).unwrap();
    document["configs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|group| Group {
            name: group["name"].as_str().unwrap().to_string(),
            plugin_config: group["pluginConfig"].clone(),
            vectors: group["vectors"]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| {
                    let expect = &v["expect"];
                    Vector {
                        name: v["name"].as_str().unwrap().to_string(),
                        headers: v["headers"]
                            .as_array()
                            .unwrap()
                            .iter()
                            .map(|pair| {
                                let pair = pair.as_array().unwrap();
                                assert_eq!(pair.len(), 2, "a header is [name, value]");
                                (text(&pair[0]).unwrap(), text(&pair[1]).unwrap())
                            })
                            .collect(),
                        key: v.get("key").and_then(text),
                        expect: Outcome {
                            route: text(&expect["route"]),
                            subset: text(&expect["subset"]),
                            reason: text(&expect["reason"]),
                            bucket: number(&expect["bucket"]),
                            rule: number(&expect["rule"]),
                        },
                    }
                })
                .collect(),
        })
        .collect()
}

fn compile(group: &Group) -> Config {
    Config::from_json(group.plugin_config.to_string().as_bytes())
        .unwrap_or_else(|e| panic!("config {}: {e}", group.name))
}

#[test]
fn every_vector_decides_as_the_file_says() {
    let groups = groups();
    let mut checked = 0;
    let mut wrong = Vec::new();
    for group in &groups {
        let config = compile(group);
        for vector in &group.vectors {
            let got = decide(&config, &vector.headers);
            if got != vector.expect {
                wrong.push(format!(
                    "{} / {}: expected {:?}, plan() gives {got:?}",
                    group.name, vector.name, vector.expect
                ));
            }
            checked += 1;
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    // A truncated or emptied file must not pass.
    assert_eq!(groups.len(), 7, "configs in the file");
    assert!(checked >= 60, "only {checked} vectors in the file");
}

#[test]
fn the_vectors_cover_every_reason_and_a_request_no_route_takes() {
    let mut reasons: Vec<Option<String>> = groups()
        .into_iter()
        .flat_map(|g| g.vectors)
        .map(|v| v.expect.reason)
        .collect();
    reasons.sort();
    reasons.dedup();
    let expected: Vec<Option<String>> = [None, Some("fallback"), Some("hash"), Some("lane")]
        .into_iter()
        .chain([Some("rule"), Some("user")])
        .map(|r| r.map(String::from))
        .collect();
    assert_eq!(reasons, expected);
}

/// The bucket and subset of a hashed key, from the file's pluginConfig and key alone, with the
/// `murmur3` crate: the README's hashing contract, Unleash's and flagd's bucketing, and the two
/// layouts, written out again here rather than called from the core.
#[cfg(not(target_arch = "wasm32"))]
mod independent {
    use std::io::Cursor;

    use serde_json::Value;

    fn murmur3(bytes: &[u8]) -> u32 {
        murmur3::murmur3_32(&mut Cursor::new(bytes), 0).unwrap()
    }

    /// `(bucket, subset name)` of `key` on `route` (a route object of a pluginConfig).
    pub fn hashed(route: &Value, key: &str) -> (u64, String) {
        let stickiness = &route["stickiness"];
        let bucketing = &stickiness["bucketing"];
        let joined = |prefix: &str, separator: &str| {
            [prefix.as_bytes(), separator.as_bytes(), key.as_bytes()].concat()
        };
        let (bucket, listed_first) =
            if let Some(group_id) = bucketing["unleash"]["groupId"].as_str() {
                // Unleash's normalized value v = h % 100 + 1 stands for buckets from (v - 1) * 100.
                (
                    u64::from(murmur3(&joined(group_id, ":")) % 100) * 100,
                    false,
                )
            } else if let Some(flag_key) = bucketing["flagd"]["flagKey"].as_str() {
                (
                    (u64::from(murmur3(&joined(flag_key, ""))) * 10_000) >> 32,
                    true,
                )
            } else {
                let salt = stickiness["salt"]
                    .as_str()
                    .or(route["name"].as_str())
                    .unwrap();
                (u64::from(murmur3(&joined(salt, ":")) % 10_000), false)
            };
        let subsets: Vec<(String, u64)> = route["subsets"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| {
                let hundredths = (s["weight"].as_f64().unwrap() * 100.0).round() as u64;
                (s["name"].as_str().unwrap().to_string(), hundredths)
            })
            .collect();
        // Default and Unleash: the newest (last-listed) subset owns the lowest buckets; flagd:
        // the first-listed does.
        let order: Vec<&(String, u64)> = if listed_first {
            subsets.iter().collect()
        } else {
            subsets.iter().rev().collect()
        };
        let mut upper = 0;
        for (name, weight) in order {
            upper += weight;
            if bucket < upper {
                return (bucket, name.clone());
            }
        }
        panic!(
            "bucket {bucket} is beyond the weights of route {}",
            route["name"]
        );
    }
}

#[cfg(not(target_arch = "wasm32"))]
#[test]
fn hashed_buckets_and_subsets_agree_with_an_independent_murmur3() {
    let mut checked = Vec::new();
    for group in groups() {
        let routes = group.plugin_config["routes"].as_array().unwrap();
        for vector in &group.vectors {
            let expect = &vector.expect;
            if expect.reason.as_deref() != Some("hash") {
                continue;
            }
            let here = format!("{} / {}", group.name, vector.name);
            let route = routes
                .iter()
                .find(|r| r["name"].as_str() == expect.route.as_deref())
                .unwrap_or_else(|| panic!("{here}: no route {:?}", expect.route));
            let key = vector
                .key
                .as_deref()
                .unwrap_or_else(|| panic!("{here}: a hash vector names its key"));
            let (bucket, subset) = independent::hashed(route, key);
            assert_eq!(expect.bucket, Some(bucket), "{here}: bucket");
            assert_eq!(
                expect.subset.as_deref(),
                Some(&subset[..]),
                "{here}: subset"
            );
            checked.push(group.name.clone());
        }
    }
    // Every bucketing is cross-checked: the contract's, Unleash's and flagd's.
    for name in ["service-a", "unleash-bucketing", "flagd-bucketing"] {
        let n = checked.iter().filter(|g| *g == name).count();
        assert!(n >= 3, "only {n} hash vectors of {name}");
    }
    assert!(checked.len() >= 25, "only {} hash vectors", checked.len());
}

/// A `user` vector's key is in the deciding rule's `users` list.
#[cfg(not(target_arch = "wasm32"))]
#[test]
fn users_list_vectors_name_a_listed_key() {
    let mut checked = 0;
    for group in groups() {
        for vector in group.vectors.iter() {
            if vector.expect.reason.as_deref() != Some("user") {
                continue;
            }
            let route = group.plugin_config["routes"]
                .as_array()
                .unwrap()
                .iter()
                .find(|r| r["name"].as_str() == vector.expect.route.as_deref())
                .unwrap();
            let rule = &route["rules"][vector.expect.rule.unwrap() as usize];
            let key = Value::from(vector.key.clone().unwrap());
            assert!(
                rule["users"].as_array().unwrap().contains(&key),
                "{} / {}",
                group.name,
                vector.name
            );
            checked += 1;
        }
    }
    assert!(checked >= 2);
}

/// Writes the vector file from the configs and requests in [`generator`], with the outcomes
/// `plan()` gives. It was run once to produce the committed file:
///
/// ```sh
/// DECISION_VECTORS_OUT=tests/data/decision-vectors.json \
///   cargo test -p sticky-canary-core --test decision_vectors -- --ignored write_the_vector_file
/// ```
///
/// The file is frozen: rerunning this over it is a contract change, to be made on purpose.
#[cfg(not(target_arch = "wasm32"))]
#[test]
#[ignore = "produces the frozen vector file; run by hand only, see its comment"]
fn write_the_vector_file() {
    let out = std::env::var("DECISION_VECTORS_OUT")
        .expect("DECISION_VECTORS_OUT: where to write the file (relative to filter/core)");
    std::fs::write(out, generator::file()).unwrap();
}

#[cfg(not(target_arch = "wasm32"))]
mod generator {
    use super::{decide, NoDraws};
    use crate::common::FULL_CONFIG;
    use sticky_canary_core::{plan, Config, Request};

    const ABOUT: &str =
        "Language-neutral decision vectors of sticky-canary: for each pluginConfig, \
        requests as the proxy hands them to the filter and the decision the filter makes. Any \
        other implementation (the bench's Lua twin in bench/lua, a future native build) can prove \
        it decides the same by reading this file.";

    const FORMAT: &[&str] = &[
        "configs[]: name, about, pluginConfig (the filter's configuration, exactly as an admin \
         writes it) and vectors[].",
        "vectors[].headers: the request's headers in the order the proxy hands them over, each \
         [name, value], pseudo-headers (:authority, :path with its query) included, a repeated \
         header as several pairs. Names compare ASCII case-insensitively; values are the UTF-8 \
         bytes of the string.",
        "vectors[].key (hash and user vectors only): the stickiness key the decision used, so \
         the bucket can be checked against the hashing contract alone.",
        "vectors[].expect: route (the matched route's name, null when none matched: then every \
         field is null), subset (its name), reason (rule, user, hash, fallback or lane), bucket \
         (0 to 9999 for hash, else null; under unleash bucketing (v - 1) * 100 of Unleash's \
         value v, under flagd bucketing flagd's bucket of 10000) and rule (the index in the \
         route's rules of the deciding rule, for rule and user, else null).",
        "Inputs besides the request: no guard has tripped, and no vector reaches a random \
         fallback or issues an assign id, so none depends on randomness.",
    ];

    const PRODUCED: &str = "Written once by write_the_vector_file in \
        filter/core/tests/decision_vectors.rs (the configs and requests are in its generator \
        module) with sticky_canary_core::plan(); the hashed buckets and subsets were checked \
        against the murmur3 crate, an independent MurmurHash3, by the same file's \
        hashed_buckets_and_subsets_agree_with_an_independent_murmur3. Read by \
        filter/core/tests/decision_vectors.rs (natively and on wasm32 under Node, make test-wasm) \
        and filter/cli/tests/decision_vectors.rs (sticky-canary which).";

    const FROZEN: &str = "Frozen like the hashing contract (README, The hashing contract): \
        changing an expected value is a contract change, because a sidecar running an older \
        module would decide that request differently. Add vectors; do not edit them.";

    struct Spec {
        name: &'static str,
        about: &'static str,
        plugin_config: &'static str,
        vectors: Vec<Case>,
    }

    /// `(name, headers, key)`: the key is written by hand for hash and user vectors.
    type Case = (
        &'static str,
        Vec<(&'static str, &'static str)>,
        Option<&'static str>,
    );

    fn specs() -> Vec<Spec> {
        vec![
            Spec {
                name: "service-a",
                about: "The realistic service-a config (FULL_CONFIG in \
                    filter/core/tests/common/mod.rs): v1 90 / v2 10, keys the x-user-id header, \
                    then the uid cookie, then the uid query parameter, salt service-a, a users \
                    rule and a five-condition rule, both to v2. Its fallback is random, so every \
                    request here has a key or meets the five-condition rule.",
                plugin_config: FULL_CONFIG,
                vectors: vec![
                    (
                        "hash on the header",
                        vec![
                            (":authority", "servicea.com"),
                            (":path", "/"),
                            ("x-user-id", "carol"),
                        ],
                        Some("carol"),
                    ),
                    (
                        "hash on the header, another user",
                        vec![
                            (":authority", "servicea.com"),
                            (":path", "/"),
                            ("x-user-id", "user-1"),
                        ],
                        Some("user-1"),
                    ),
                    (
                        "hash to v2",
                        vec![
                            (":authority", "servicea.com"),
                            (":path", "/"),
                            ("x-user-id", "user-33"),
                        ],
                        Some("user-33"),
                    ),
                    (
                        "header name in mixed case",
                        vec![
                            (":authority", "servicea.com"),
                            (":path", "/"),
                            ("X-User-ID", "dave"),
                        ],
                        Some("dave"),
                    ),
                    (
                        "repeated key header: the first value",
                        vec![
                            (":authority", "servicea.com"),
                            (":path", "/"),
                            ("x-user-id", "erin"),
                            ("accept", "*/*"),
                            ("x-user-id", "frank"),
                        ],
                        Some("erin"),
                    ),
                    (
                        "a UTF-8 key, hashed as its bytes",
                        vec![
                            (":authority", "servicea.com"),
                            (":path", "/"),
                            ("x-user-id", "zo\u{eb}"),
                        ],
                        Some("zo\u{eb}"),
                    ),
                    (
                        "the header beats the cookie",
                        vec![
                            (":authority", "servicea.com"),
                            (":path", "/"),
                            ("cookie", "uid=grace"),
                            ("x-user-id", "heidi"),
                        ],
                        Some("heidi"),
                    ),
                    (
                        "an empty header is no key: the cookie",
                        vec![
                            (":authority", "servicea.com"),
                            (":path", "/"),
                            ("x-user-id", ""),
                            ("cookie", "uid=grace"),
                        ],
                        Some("grace"),
                    ),
                    (
                        "cookie in the second of two cookie headers",
                        vec![
                            (":authority", "servicea.com"),
                            (":path", "/"),
                            ("cookie", "theme=dark; lang=en"),
                            ("Cookie", "session=abc; uid=ivan; beta=no"),
                        ],
                        Some("ivan"),
                    ),
                    (
                        "quoted cookie value",
                        vec![
                            (":authority", "servicea.com"),
                            (":path", "/"),
                            ("cookie", "uid=\"judy\""),
                        ],
                        Some("judy"),
                    ),
                    (
                        "cookie names are case-sensitive: UID is not uid",
                        vec![
                            (":authority", "servicea.com"),
                            (":path", "/"),
                            ("cookie", "UID=mallory; uid=niaj"),
                        ],
                        Some("niaj"),
                    ),
                    (
                        "the cookie beats the query",
                        vec![
                            (":authority", "servicea.com"),
                            (":path", "/?uid=olivia"),
                            ("cookie", "uid=peggy"),
                        ],
                        Some("peggy"),
                    ),
                    (
                        "percent-encoded query name and value",
                        vec![
                            (":authority", "servicea.com"),
                            (":path", "/shop?x=1&u%69d=j%C3%BCrgen&uid=later"),
                        ],
                        Some("j\u{fc}rgen"),
                    ),
                    (
                        "plus in a query value is not a space",
                        vec![(":authority", "servicea.com"), (":path", "/search?uid=a+b")],
                        Some("a+b"),
                    ),
                    (
                        "host with a port",
                        vec![
                            (":authority", "servicea.com:8080"),
                            (":path", "/"),
                            ("x-user-id", "carol"),
                        ],
                        Some("carol"),
                    ),
                    (
                        "host under the *.svc.cluster.local wildcard",
                        vec![
                            (":authority", "service-a.default.svc.cluster.local"),
                            (":path", "/orders"),
                            ("x-user-id", "rupert"),
                        ],
                        Some("rupert"),
                    ),
                    (
                        "users list by the header",
                        vec![
                            (":authority", "servicea.com"),
                            (":path", "/"),
                            ("x-user-id", "alice"),
                        ],
                        Some("alice"),
                    ),
                    (
                        "users list by the cookie",
                        vec![
                            (":authority", "servicea.com"),
                            (":path", "/"),
                            ("cookie", "uid=bob"),
                        ],
                        Some("bob"),
                    ),
                    (
                        "users list is exact: Alice is not alice",
                        vec![
                            (":authority", "servicea.com"),
                            (":path", "/"),
                            ("x-user-id", "Alice"),
                        ],
                        Some("Alice"),
                    ),
                    (
                        "all five conditions of rule 1",
                        vec![
                            (":authority", "servicea.com"),
                            (":path", "/api/v2/orders?version=v2"),
                            ("x-canary", "true"),
                            ("cookie", "beta=yes"),
                            (
                                "user-agent",
                                "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X)",
                            ),
                            ("x-user-id", "carol"),
                        ],
                        None,
                    ),
                    (
                        "rule 1 without any key",
                        vec![
                            (":authority", "servicea.com"),
                            (":path", "/api/v2?version=v2"),
                            ("x-canary", "true"),
                            ("cookie", "beta=1"),
                            ("user-agent", "Mozilla/5.0 (Linux; Android 14; Pixel 8)"),
                        ],
                        None,
                    ),
                    (
                        "rule 1 but the wrong OS: hash",
                        vec![
                            (":authority", "servicea.com"),
                            (":path", "/api/v2/orders?version=v2"),
                            ("x-canary", "true"),
                            ("cookie", "beta=yes"),
                            ("user-agent", "Mozilla/5.0 (X11; Linux x86_64)"),
                            ("x-user-id", "carol"),
                        ],
                        Some("carol"),
                    ),
                    (
                        "a listed user beats rule 1",
                        vec![
                            (":authority", "servicea.com"),
                            (":path", "/api/v2?version=v2"),
                            ("x-canary", "true"),
                            ("cookie", "beta=yes"),
                            ("user-agent", "iPhone"),
                            ("x-user-id", "bob"),
                        ],
                        Some("bob"),
                    ),
                    (
                        "another host: no route",
                        vec![
                            (":authority", "serviceb.com"),
                            (":path", "/"),
                            ("x-user-id", "carol"),
                        ],
                        None,
                    ),
                    (
                        "no :authority: no route",
                        vec![(":path", "/"), ("x-user-id", "carol")],
                        None,
                    ),
                ],
            },
            Spec {
                name: "unleash-bucketing",
                about: "Unleash's gradual-rollout bucketing (groupId new-checkout): stable 80 / \
                    canary 20, keys the x-user-id header, then the uid cookie, stable fallback.",
                plugin_config: r#"{"routes":[{"name":"checkout","subsets":[{"name":"stable","weight":80},{"name":"canary","weight":20}],"stickiness":{"keys":[{"header":"x-user-id"},{"cookie":"uid"}],"bucketing":{"unleash":{"groupId":"new-checkout"}},"fallback":"stable"}}]}"#,
                vectors: vec![
                    (
                        "hash: user-1",
                        vec![
                            (":authority", "shop.example.com"),
                            (":path", "/checkout"),
                            ("x-user-id", "user-1"),
                        ],
                        Some("user-1"),
                    ),
                    (
                        "hash: user-2",
                        vec![
                            (":authority", "shop.example.com"),
                            (":path", "/checkout"),
                            ("x-user-id", "user-2"),
                        ],
                        Some("user-2"),
                    ),
                    (
                        "hash: user-3",
                        vec![
                            (":authority", "shop.example.com"),
                            (":path", "/checkout"),
                            ("x-user-id", "user-3"),
                        ],
                        Some("user-3"),
                    ),
                    (
                        "hash: user-4",
                        vec![
                            (":authority", "shop.example.com"),
                            (":path", "/checkout"),
                            ("x-user-id", "user-4"),
                        ],
                        Some("user-4"),
                    ),
                    (
                        "hash: user-5 by the cookie",
                        vec![
                            (":authority", "shop.example.com"),
                            (":path", "/checkout"),
                            ("cookie", "a=1"),
                            ("cookie", "uid=user-5"),
                        ],
                        Some("user-5"),
                    ),
                    (
                        "hash: user-6",
                        vec![
                            (":authority", "shop.example.com"),
                            (":path", "/checkout"),
                            ("x-user-id", "user-6"),
                        ],
                        Some("user-6"),
                    ),
                    (
                        "no key: stable fallback",
                        vec![
                            (":authority", "shop.example.com"),
                            (":path", "/checkout?uid=user-1"),
                        ],
                        None,
                    ),
                ],
            },
            Spec {
                name: "flagd-bucketing",
                about: "flagd's fractional bucketing (flagKey header-color): red 50 / blue 30 / \
                    green 20, laid out first-listed first, keys the user query parameter, then the \
                    x-user-id header, stable fallback.",
                plugin_config: r#"{"routes":[{"name":"header-color","subsets":[{"name":"red","weight":50},{"name":"blue","weight":30},{"name":"green","weight":20}],"stickiness":{"keys":[{"query":"user"},{"header":"x-user-id"}],"bucketing":{"flagd":{"flagKey":"header-color"}},"fallback":"stable"}}]}"#,
                vectors: vec![
                    (
                        "hash: user-1 by the query",
                        vec![
                            (":authority", "app.example.com"),
                            (":path", "/?user=user-1"),
                        ],
                        Some("user-1"),
                    ),
                    (
                        "hash: user-2 by the query",
                        vec![
                            (":authority", "app.example.com"),
                            (":path", "/page?lang=en&user=user-2"),
                        ],
                        Some("user-2"),
                    ),
                    (
                        "hash: user-3 by the header",
                        vec![
                            (":authority", "app.example.com"),
                            (":path", "/"),
                            ("x-user-id", "user-3"),
                        ],
                        Some("user-3"),
                    ),
                    (
                        "hash: user-4, the query beats the header",
                        vec![
                            (":authority", "app.example.com"),
                            (":path", "/?user=user-4"),
                            ("x-user-id", "user-5"),
                        ],
                        Some("user-4"),
                    ),
                    (
                        "hash: an email, percent-encoded",
                        vec![
                            (":authority", "app.example.com"),
                            (":path", "/?user=ann%40example.com"),
                        ],
                        Some("ann@example.com"),
                    ),
                    (
                        "hash: user-6",
                        vec![
                            (":authority", "app.example.com"),
                            (":path", "/"),
                            ("x-user-id", "user-6"),
                        ],
                        Some("user-6"),
                    ),
                    (
                        "an empty query value is no key: the header",
                        vec![
                            (":authority", "app.example.com"),
                            (":path", "/?user="),
                            ("x-user-id", "user-7"),
                        ],
                        Some("user-7"),
                    ),
                    (
                        "no key: stable fallback",
                        vec![(":authority", "app.example.com"), (":path", "/")],
                        None,
                    ),
                ],
            },
            Spec {
                name: "trusted-header-lane",
                about: "service-b behind an edge that decided already: v1 90 / v2 10 keyed by \
                    x-user-id, a rule sending x-beta: 1 to v2, and a trusted lane in the \
                    x-canary-lane header (fallback stable: a lane naming no subset here goes to \
                    v1).",
                plugin_config: r#"{"routes":[{"name":"service-b","subsets":[{"name":"v1","weight":90},{"name":"v2","weight":10}],"stickiness":{"keys":[{"header":"x-user-id"}],"fallback":"stable"},"rules":[{"subset":"v2","match":{"headers":[{"name":"x-beta","exact":"1"}]}}],"lane":{"header":"x-canary-lane","trust":true}}]}"#,
                vectors: vec![
                    (
                        "the lane beats the hash",
                        vec![
                            (":authority", "service-b"),
                            (":path", "/"),
                            ("x-user-id", "carol"),
                            ("x-canary-lane", "v2"),
                        ],
                        None,
                    ),
                    (
                        "the lane beats a rule",
                        vec![
                            (":authority", "service-b"),
                            (":path", "/"),
                            ("x-beta", "1"),
                            ("x-canary-lane", "v1"),
                        ],
                        None,
                    ),
                    (
                        "the lane without a key",
                        vec![
                            (":authority", "service-b"),
                            (":path", "/"),
                            ("x-canary-lane", "v2"),
                        ],
                        None,
                    ),
                    (
                        "lane header name in mixed case",
                        vec![
                            (":authority", "service-b"),
                            (":path", "/"),
                            ("X-Canary-Lane", "v2"),
                        ],
                        None,
                    ),
                    (
                        "repeated lane header: the first value",
                        vec![
                            (":authority", "service-b"),
                            (":path", "/"),
                            ("x-canary-lane", "v2"),
                            ("x-canary-lane", "v1"),
                        ],
                        None,
                    ),
                    (
                        "a lane naming no subset here: stable",
                        vec![
                            (":authority", "service-b"),
                            (":path", "/"),
                            ("x-user-id", "carol"),
                            ("x-canary-lane", "v3"),
                        ],
                        None,
                    ),
                    (
                        "lane values are exact: V2 is no subset",
                        vec![
                            (":authority", "service-b"),
                            (":path", "/"),
                            ("x-canary-lane", "V2"),
                        ],
                        None,
                    ),
                    (
                        "an empty lane is no lane: hash",
                        vec![
                            (":authority", "service-b"),
                            (":path", "/"),
                            ("x-user-id", "carol"),
                            ("x-canary-lane", ""),
                        ],
                        Some("carol"),
                    ),
                    (
                        "no lane: the rule",
                        vec![
                            (":authority", "service-b"),
                            (":path", "/"),
                            ("x-user-id", "carol"),
                            ("x-beta", "1"),
                        ],
                        None,
                    ),
                    (
                        "no lane: hash",
                        vec![
                            (":authority", "service-b"),
                            (":path", "/"),
                            ("x-user-id", "user-3"),
                        ],
                        Some("user-3"),
                    ),
                    (
                        "no lane, no key: stable fallback",
                        vec![(":authority", "service-b"), (":path", "/")],
                        None,
                    ),
                ],
            },
            Spec {
                name: "trusted-baggage-lane",
                about: "service-c: v1 50 / v2 50 keyed by x-user-id, and a trusted lane in the \
                    W3C baggage member canary-lane (fallback decide: a lane naming no subset here \
                    is decided as if there were none).",
                plugin_config: r#"{"routes":[{"name":"service-c","subsets":[{"name":"v1","weight":50},{"name":"v2","weight":50}],"stickiness":{"keys":[{"header":"x-user-id"}],"fallback":"stable"},"lane":{"baggage":"canary-lane","trust":true,"fallback":"decide"}}]}"#,
                vectors: vec![
                    (
                        "the member among others, with properties and spaces",
                        vec![
                            (":authority", "service-c"),
                            (":path", "/"),
                            ("x-user-id", "carol"),
                            ("baggage", "userId=x;p=1, canary-lane = v2;prop, other=%20"),
                        ],
                        None,
                    ),
                    (
                        "the member in the second baggage header",
                        vec![
                            (":authority", "service-c"),
                            (":path", "/"),
                            ("baggage", "a=1,b=2"),
                            ("baggage", "canary-lane=v1"),
                        ],
                        None,
                    ),
                    (
                        "a percent-encoded value",
                        vec![
                            (":authority", "service-c"),
                            (":path", "/"),
                            ("baggage", "canary-lane=v%32"),
                        ],
                        None,
                    ),
                    (
                        "the first member of the name counts",
                        vec![
                            (":authority", "service-c"),
                            (":path", "/"),
                            ("baggage", "canary-lane=v1,canary-lane=v2"),
                        ],
                        None,
                    ),
                    (
                        "header name in mixed case",
                        vec![
                            (":authority", "service-c"),
                            (":path", "/"),
                            ("Baggage", "canary-lane=v2"),
                        ],
                        None,
                    ),
                    (
                        "a lane naming no subset here: decided as without one",
                        vec![
                            (":authority", "service-c"),
                            (":path", "/"),
                            ("x-user-id", "carol"),
                            ("baggage", "canary-lane=v9"),
                        ],
                        Some("carol"),
                    ),
                    (
                        "another member's name is not ours",
                        vec![
                            (":authority", "service-c"),
                            (":path", "/"),
                            ("x-user-id", "user-2"),
                            ("baggage", "canary-lanes=v2,lane=v2"),
                        ],
                        Some("user-2"),
                    ),
                    (
                        "an empty member is no lane",
                        vec![
                            (":authority", "service-c"),
                            (":path", "/"),
                            ("x-user-id", "user-3"),
                            ("baggage", "canary-lane="),
                        ],
                        Some("user-3"),
                    ),
                    (
                        "no baggage, no key: stable fallback",
                        vec![(":authority", "service-c"), (":path", "/")],
                        None,
                    ),
                ],
            },
            Spec {
                name: "three-subsets",
                about: "search: v1 60 / v2 24.5 / v3 15.5 (newest first: v3 owns buckets 0-1549, \
                    v2 1550-3999, v1 4000-9999), salt search-2024, keys x-user-id, then the sid \
                    cookie, stable fallback.",
                plugin_config: r#"{"routes":[{"name":"search","subsets":[{"name":"v1","weight":60},{"name":"v2","weight":24.5},{"name":"v3","weight":15.5}],"stickiness":{"keys":[{"header":"x-user-id"},{"cookie":"sid"}],"salt":"search-2024","fallback":"stable"}}]}"#,
                vectors: vec![
                    (
                        "hash: user-1",
                        vec![
                            (":authority", "search.example.com"),
                            (":path", "/q?term=a"),
                            ("x-user-id", "user-1"),
                        ],
                        Some("user-1"),
                    ),
                    (
                        "hash: user-2",
                        vec![
                            (":authority", "search.example.com"),
                            (":path", "/"),
                            ("x-user-id", "user-2"),
                        ],
                        Some("user-2"),
                    ),
                    (
                        "hash: user-3",
                        vec![
                            (":authority", "search.example.com"),
                            (":path", "/"),
                            ("x-user-id", "user-3"),
                        ],
                        Some("user-3"),
                    ),
                    (
                        "hash: user-4",
                        vec![
                            (":authority", "search.example.com"),
                            (":path", "/"),
                            ("x-user-id", "user-4"),
                        ],
                        Some("user-4"),
                    ),
                    (
                        "hash: user-5",
                        vec![
                            (":authority", "search.example.com"),
                            (":path", "/"),
                            ("x-user-id", "user-5"),
                        ],
                        Some("user-5"),
                    ),
                    (
                        "hash: user-6",
                        vec![
                            (":authority", "search.example.com"),
                            (":path", "/"),
                            ("x-user-id", "user-6"),
                        ],
                        Some("user-6"),
                    ),
                    (
                        "hash: user-7",
                        vec![
                            (":authority", "search.example.com"),
                            (":path", "/"),
                            ("x-user-id", "user-7"),
                        ],
                        Some("user-7"),
                    ),
                    (
                        "hash: user-8",
                        vec![
                            (":authority", "search.example.com"),
                            (":path", "/"),
                            ("x-user-id", "user-8"),
                        ],
                        Some("user-8"),
                    ),
                    (
                        "hash by the sid cookie",
                        vec![
                            (":authority", "search.example.com"),
                            (":path", "/"),
                            ("cookie", "sid=s-42"),
                        ],
                        Some("s-42"),
                    ),
                    (
                        "no key: stable fallback",
                        vec![
                            (":authority", "search.example.com"),
                            (":path", "/?sid=s-42"),
                        ],
                        None,
                    ),
                ],
            },
            Spec {
                name: "routes-by-host-and-path",
                about: "Three routes, first match wins: api (host api.example.com, path prefix \
                    /v1/; a 50 / b 50 keyed by x-user-id), web (hosts *.example.com and \
                    example.org; old 70 / new 30 keyed by the uid cookie) and admin (any host, \
                    path prefix /admin; blue 0 / green 100, so green is also its stable subset). \
                    All fall back to stable; some requests match no route.",
                plugin_config: r#"{"routes":[{"name":"api","match":{"hosts":["api.example.com"],"pathPrefix":"/v1/"},"subsets":[{"name":"a","weight":50},{"name":"b","weight":50}],"stickiness":{"keys":[{"header":"x-user-id"}],"fallback":"stable"}},{"name":"web","match":{"hosts":["*.example.com","example.org"]},"subsets":[{"name":"old","weight":70},{"name":"new","weight":30}],"stickiness":{"keys":[{"cookie":"uid"}],"fallback":"stable"}},{"name":"admin","match":{"pathPrefix":"/admin"},"subsets":[{"name":"blue","weight":0},{"name":"green","weight":100}],"stickiness":{"keys":[{"header":"x-user-id"}],"fallback":"stable"}}]}"#,
                vectors: vec![
                    (
                        "api: host and prefix",
                        vec![
                            (":authority", "api.example.com"),
                            (":path", "/v1/items"),
                            ("x-user-id", "carol"),
                        ],
                        Some("carol"),
                    ),
                    (
                        "api: host in mixed case, with a port and a query",
                        vec![
                            (":authority", "API.Example.com:8443"),
                            (":path", "/v1/items?page=2"),
                            ("x-user-id", "user-1"),
                        ],
                        Some("user-1"),
                    ),
                    (
                        "api: no key, stable fallback",
                        vec![(":authority", "api.example.com"), (":path", "/v1/items")],
                        None,
                    ),
                    (
                        "another prefix: web by the wildcard",
                        vec![
                            (":authority", "api.example.com"),
                            (":path", "/v2/items"),
                            ("cookie", "uid=user-2"),
                        ],
                        Some("user-2"),
                    ),
                    (
                        "the prefix is /v1/, not /v1: web, no cookie, stable",
                        vec![
                            (":authority", "api.example.com"),
                            (":path", "/v1?x=1"),
                            ("x-user-id", "carol"),
                        ],
                        None,
                    ),
                    (
                        "web by the wildcard, no cookie: stable",
                        vec![
                            (":authority", "shop.example.com"),
                            (":path", "/"),
                            ("x-user-id", "carol"),
                        ],
                        None,
                    ),
                    (
                        "web by the wildcard: hash",
                        vec![
                            (":authority", "a.b.example.com"),
                            (":path", "/"),
                            ("cookie", "uid=user-4"),
                        ],
                        Some("user-4"),
                    ),
                    (
                        "web by the exact host, ahead of admin",
                        vec![
                            (":authority", "example.org"),
                            (":path", "/admin/users"),
                            ("cookie", "uid=user-5"),
                        ],
                        Some("user-5"),
                    ),
                    (
                        "the wildcard needs a subdomain: no route",
                        vec![
                            (":authority", "example.com"),
                            (":path", "/"),
                            ("cookie", "uid=user-5"),
                        ],
                        None,
                    ),
                    (
                        "admin on any host: weight 0 owns no bucket",
                        vec![
                            (":authority", "other.net"),
                            (":path", "/admin/users"),
                            ("x-user-id", "carol"),
                        ],
                        Some("carol"),
                    ),
                    (
                        "admin: the prefix is a byte prefix",
                        vec![
                            (":authority", "other.net"),
                            (":path", "/administrator"),
                            ("x-user-id", "user-6"),
                        ],
                        Some("user-6"),
                    ),
                    (
                        "admin: no key, the first subset with a weight",
                        vec![(":authority", "other.net"), (":path", "/admin")],
                        None,
                    ),
                    (
                        "admin without an :authority",
                        vec![(":path", "/admin/x"), ("x-user-id", "user-7")],
                        Some("user-7"),
                    ),
                    (
                        "paths are case-sensitive: no route",
                        vec![(":authority", "other.net"), (":path", "/Admin")],
                        None,
                    ),
                    (
                        "neither host nor path: no route",
                        vec![
                            (":authority", "other.net"),
                            (":path", "/"),
                            ("x-user-id", "carol"),
                        ],
                        None,
                    ),
                ],
            },
        ]
    }

    fn json(value: impl serde::Serialize) -> String {
        serde_json::to_string(&value).unwrap()
    }

    /// The file's text: the generator's own layout, one header and one outcome per line.
    pub fn file() -> String {
        let mut out = String::from("{\n");
        out += &format!("  \"about\": {},\n", json(ABOUT));
        out += "  \"format\": [\n";
        let format: Vec<String> = FORMAT.iter().map(|l| format!("    {}", json(l))).collect();
        out += &format.join(",\n");
        out += "\n  ],\n";
        out += &format!("  \"produced\": {},\n", json(PRODUCED));
        out += &format!("  \"frozen\": {},\n", json(FROZEN));
        out += "  \"configs\": [\n";
        let groups: Vec<String> = specs().iter().map(group).collect();
        out += &groups.join(",\n");
        out += "\n  ]\n}\n";
        out
    }

    fn group(spec: &Spec) -> String {
        let config = Config::from_json(spec.plugin_config.as_bytes())
            .unwrap_or_else(|e| panic!("{}: {e}", spec.name));
        let mut out = String::from("    {\n");
        out += &format!("      \"name\": {},\n", json(spec.name));
        out += &format!("      \"about\": {},\n", json(spec.about));
        out += &format!("      \"pluginConfig\": {},\n", spec.plugin_config);
        out += "      \"vectors\": [\n";
        let vectors: Vec<String> = spec
            .vectors
            .iter()
            .map(|(name, headers, key)| vector(&config, spec.name, name, headers, *key))
            .collect();
        out += &vectors.join(",\n");
        out += "\n      ]\n    }";
        out
    }

    fn vector(
        config: &Config,
        group: &str,
        name: &str,
        headers: &[(&str, &str)],
        key: Option<&str>,
    ) -> String {
        let here = format!("{group} / {name}");
        let owned: Vec<(String, String)> = headers
            .iter()
            .map(|(n, v)| (n.to_string(), v.to_string()))
            .collect();
        let got = decide(config, &owned);
        // The hand-written key must be the one the core hashed or found in a users list.
        let uses_key = matches!(got.reason.as_deref(), Some("hash" | "user"));
        assert_eq!(
            uses_key,
            key.is_some(),
            "{here}: key given or missing: {got:?}"
        );
        if let (Some("hash"), Some(key)) = (got.reason.as_deref(), key) {
            let pairs = headers
                .iter()
                .map(|(n, v)| (n.as_bytes(), v.as_bytes()))
                .collect();
            let route = plan(config, &Request::new(pairs), &NoDraws)
                .decision
                .map(|d| &config.routes[d.route])
                .unwrap();
            assert_eq!(
                got.bucket,
                Some(u64::from(route.bucket_of(key.as_bytes()))),
                "{here}"
            );
        }
        let headers: Vec<String> = headers.iter().map(|(n, v)| json([n, v])).collect();
        let mut lines = vec![
            format!("          \"name\": {}", json(name)),
            format!("          \"headers\": [{}]", headers.join(", ")),
        ];
        if let Some(key) = key {
            lines.push(format!("          \"key\": {}", json(key)));
        }
        lines.push(format!(
            "          \"expect\": {{\"route\": {}, \"subset\": {}, \"reason\": {}, \"bucket\": {}, \"rule\": {}}}",
            json(&got.route),
            json(&got.subset),
            json(&got.reason),
            json(got.bucket),
            json(got.rule)
        ));
        format!("        {{\n{}\n        }}", lines.join(",\n"))
    }
}
