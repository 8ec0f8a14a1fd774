#![cfg(not(target_arch = "wasm32"))]
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
//! `stickiness.bucketing.unleash`: the subset is the one an Unleash gradual rollout of the same
//! groupId and percentage gives, bit for bit; the default bucketing is untouched (golden.rs).
//!
//! Vectors are the expected results of Unleash's public client specification
//! (github.com/Unleash/client-specification): `specifications/03-gradual-rollout-user-id-strategy.json`
//! at b5df3a0d480a122ca689ba92784b8ed2ee08f64d and `specifications/10-flexible-rollout-strategy.json`
//! at 0c6bd1b0748cb4dcfa32d6f565bd57e87143dd37. The `murmur3` crate is the oracle for the rest.

mod common;

use std::io::Cursor;

use common::{decide, Given, Headers};
use proptest::prelude::*;
use serde_json::json;
use sticky_canary_core::{unleash_normalized, Config};

/// A route whose subsets are listed stable first, weights in whole percents.
fn route(group_id: &str, subsets: &[(&str, u32)]) -> Config {
    let subsets: Vec<_> = subsets
        .iter()
        .map(|(name, weight)| json!({"name": name, "weight": weight}))
        .collect();
    let config = json!({"routes": [{
        "name": "flags",
        "match": {"hosts": ["flags.example.com"]},
        "subsets": subsets,
        "stickiness": {
            "keys": [{"header": "x-user-id"}],
            "bucketing": {"unleash": {"groupId": group_id}},
        },
    }]});
    Config::from_json(config.to_string().as_bytes()).unwrap()
}

fn subset_of(config: &Config, user: &str) -> String {
    let request = Headers::to("flags.example.com", "/").with("x-user-id", user);
    let d = decide(config, &request, &Given::nothing()).unwrap();
    config.routes[0].subsets[d.subset].name.clone()
}

fn oracle(group_id: &str, key: &str) -> u8 {
    let input = format!("{group_id}:{key}");
    (murmur3::murmur3_32(&mut Cursor::new(input.as_bytes()), 0).unwrap() % 100 + 1) as u8
}

#[test]
fn the_client_specifications_rollouts() {
    // (groupId, rollout percent, userId, enabled) from the two specification files.
    let cases = [
        ("AB12A", 50, "122", true),
        ("AB12A", 50, "155", false),
        ("AB12A", 100, "123", true),
        ("AB12A", 0, "122", false),
        ("Feature.flexibleRollout.10", 10, "174", true),
        ("Feature.flexibleRollout.10", 10, "499", false),
        ("Feature.flexibleRollout.userId.55", 55, "25", true),
        ("Feature.flexibleRollout.sessionId.42", 42, "147", true),
    ];
    for (group_id, rollout, user, enabled) in cases {
        let config = route(group_id, &[("off", 100 - rollout), ("on", rollout)]);
        let expected = if enabled { "on" } else { "off" };
        assert_eq!(
            subset_of(&config, user),
            expected,
            "{group_id} at {rollout}% for {user}"
        );
        assert_eq!(
            u32::from(unleash_normalized(group_id.as_bytes(), user.as_bytes())) <= rollout,
            enabled
        );
    }
}

#[test]
fn the_normalized_values_of_the_specification_users() {
    // Pinned so a change shows as a number, not only as a flipped boolean.
    assert_eq!(unleash_normalized(b"AB12A", b"122"), oracle("AB12A", "122"));
    assert_eq!(unleash_normalized(b"AB12A", b"122"), 23);
    assert_eq!(unleash_normalized(b"AB12A", b"155"), 100);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(500))]

    #[test]
    fn normalized_matches_the_oracle(group_id in "[A-Za-z0-9._-]{1,24}", key in "\\PC{0,40}") {
        prop_assert_eq!(unleash_normalized(group_id.as_bytes(), key.as_bytes()), oracle(&group_id, &key));
    }

    /// Newest subset owns 1..=w_newest, the next older the following values, stable the top.
    #[test]
    fn newest_first_ranges_over_normalized_values(
        a in 0u32..=100, b in 0u32..=100, key in "[a-z0-9]{1,16}",
    ) {
        let (newest, middle) = (a.min(b), a.max(b) - a.min(b));
        let stable = 100 - newest - middle;
        let config = route("my-feature", &[("v1", stable), ("v2", middle), ("v3", newest)]);
        let value = u32::from(oracle("my-feature", &key));
        let expected = if value <= newest {
            "v3"
        } else if value <= newest + middle {
            "v2"
        } else {
            "v1"
        };
        prop_assert_eq!(subset_of(&config, &key), expected);
    }
}

#[test]
fn bad_unleash_bucketing_is_refused_with_the_field_path() {
    let with = |subsets: serde_json::Value, stickiness: serde_json::Value| {
        let config =
            json!({"routes": [{"name": "flags", "subsets": subsets, "stickiness": stickiness}]});
        Config::from_json(config.to_string().as_bytes())
            .unwrap_err()
            .to_string()
    };
    let halves = json!([{"name": "v1", "weight": 50}, {"name": "v2", "weight": 50}]);
    let keys = json!([{"header": "x-user-id"}]);
    assert_eq!(
        with(
            json!([{"name": "v1", "weight": 87.5}, {"name": "v2", "weight": 12.5}]),
            json!({"keys": keys, "bucketing": {"unleash": {"groupId": "f"}}})
        ),
        "routes[0].subsets[0].weight: 87.5 is not a whole percent, which unleash bucketing needs"
    );
    assert_eq!(
        with(halves.clone(), json!({"keys": keys, "bucketing": {"unleash": {"groupId": ""}}})),
        "routes[0].stickiness.bucketing.unleash.groupId: must not be empty: Unleash's groupId (usually the feature name)"
    );
    assert_eq!(
        with(
            halves.clone(),
            json!({"keys": keys, "salt": "s", "bucketing": {"unleash": {"groupId": "f"}}})
        ),
        "routes[0].stickiness.salt: unleash bucketing hashes groupId, not the salt: remove salt"
    );
    assert_eq!(
        with(halves.clone(), json!({"keys": keys, "bucketing": {}})),
        "routes[0].stickiness.bucketing: must name a bucketing: unleash"
    );
    let unknown = with(
        halves.clone(),
        json!({"keys": keys, "bucketing": {"unleash": {"groupID": "f"}}}),
    );
    assert!(
        unknown.starts_with("routes[0].stickiness.bucketing.unleash.groupID: unknown field `groupID`, expected `groupId`"),
        "{unknown}"
    );
    let unknown = with(
        halves,
        json!({"keys": keys, "bucketing": {"flagsmith": {}}}),
    );
    assert!(
        unknown.starts_with("routes[0].stickiness.bucketing.flagsmith: unknown field `flagsmith`, expected `unleash`"),
        "{unknown}"
    );
}
