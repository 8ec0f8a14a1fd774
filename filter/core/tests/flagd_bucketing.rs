#![cfg(not(target_arch = "wasm32"))]
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
//! `stickiness.bucketing.flagd`: the subset is the variant flagd's `fractional` operator gives
//! the same targeting key, the subsets in the order listed being the rule's variants in the same
//! order; the decision's bucket is flagd's bucket on a total weight of 10000.
//!
//! Vectors are flagd's own expected results (`tests/data/flagd-fractional.json`, sources,
//! commits and licences in it). The `murmur3` crate is the oracle for the rest.

use std::io::Cursor;

use proptest::prelude::*;
use serde_json::{json, Value};
use sticky_canary_core::{flagd_bucket, plan, Config, Decision, Fixed, Reason, Request, BUCKETS};

const VECTORS: &str = include_str!("data/flagd-fractional.json");

/// A route with flagd bucketing on `flag_key`; `subsets` listed as the flag lists its variants,
/// weights in percents.
fn route(flag_key: &str, subsets: &[(&str, f64)]) -> Config {
    let subsets: Vec<_> = subsets
        .iter()
        .map(|(name, weight)| json!({"name": name, "weight": weight}))
        .collect();
    let config = json!({"routes": [{
        "name": "flags",
        "subsets": subsets,
        "stickiness": {
            "keys": [{"header": "x-user-id"}],
            "bucketing": {"flagd": {"flagKey": flag_key}},
        },
    }]});
    Config::from_json(config.to_string().as_bytes()).unwrap()
}

fn decide(config: &Config, user: &str) -> Decision {
    let request = Request::new(vec![
        (b":authority".as_slice(), b"flags.example.com".as_slice()),
        (b":path".as_slice(), b"/".as_slice()),
        (b"x-user-id".as_slice(), user.as_bytes()),
    ]);
    plan(config, &request, &Fixed::default()).decision.unwrap()
}

fn subset_of(config: &Config, user: &str) -> String {
    config.routes[0].subsets[decide(config, user).subset]
        .name
        .clone()
}

fn murmur3(input: &str) -> u32 {
    murmur3::murmur3_32(&mut Cursor::new(input.as_bytes()), 0).unwrap()
}

/// flagd's bucket of `flag_key + key` on `total`, from the oracle's hash.
fn oracle_bucket(flag_key: &str, key: &str, total: u64) -> u64 {
    (u64::from(murmur3(&format!("{flag_key}{key}"))) * total) >> 32
}

/// The variant flagd picks: the first whose running weight passes the bucket.
fn oracle_variant(flag_key: &str, key: &str, weights: &[u64]) -> usize {
    let bucket = oracle_bucket(flag_key, key, weights.iter().sum());
    let mut end = 0;
    weights
        .iter()
        .position(|w| {
            end += w;
            bucket < end
        })
        .unwrap()
}

struct Case {
    name: String,
    flag_key: String,
    key: String,
    /// `(variant, weight as the flag writes it)`, in the flag's order.
    weights: Vec<(String, u64)>,
    variant: String,
}

fn cases() -> Vec<Case> {
    let doc: Value = serde_json::from_str(VECTORS).unwrap();
    doc["cases"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| Case {
            name: c["case"].as_str().unwrap().to_string(),
            flag_key: c["flagKey"].as_str().unwrap().to_string(),
            key: c["key"].as_str().unwrap().to_string(),
            weights: c["weights"]
                .as_array()
                .unwrap()
                .iter()
                .map(|w| (w[0].as_str().unwrap().to_string(), w[1].as_u64().unwrap()))
                .collect(),
            variant: c["variant"].as_str().unwrap().to_string(),
        })
        .collect()
}

#[test]
fn flagds_own_vectors_pick_the_same_subset() {
    let cases = cases();
    assert_eq!(cases.len(), 30);
    for case in cases {
        let total: u64 = case.weights.iter().map(|(_, w)| w).sum();
        let subsets: Vec<(&str, f64)> = case
            .weights
            .iter()
            .map(|(name, w)| (name.as_str(), (w * 100) as f64 / total as f64))
            .collect();
        // flagd hashes flagKey and key joined with nothing between, so where flagd hashed the
        // key alone (its rule's own bucketing expression) the key's first character stands in
        // for the flagKey, which must not be empty here.
        let (flag_key, key) = if case.flag_key.is_empty() {
            case.key.split_at(1)
        } else {
            (case.flag_key.as_str(), case.key.as_str())
        };
        let config = route(flag_key, &subsets);
        let decision = decide(&config, key);
        assert_eq!(
            config.routes[0].subsets[decision.subset].name, case.variant,
            "{}",
            case.name
        );
        assert_eq!(decision.reason, Reason::Hash, "{}", case.name);
        assert_eq!(
            decision.bucket,
            Some(oracle_bucket(&case.flag_key, &case.key, 10_000) as u16),
            "{}",
            case.name
        );
    }
}

#[test]
fn flagds_buckets_of_100_are_ours_divided_by_100() {
    let doc: Value = serde_json::from_str(VECTORS).unwrap();
    let cases = doc["buckets_of_100"]["cases"].as_array().unwrap();
    assert_eq!(cases.len(), 2);
    for c in cases {
        let (flag_key, key) = (c["flagKey"].as_str().unwrap(), c["key"].as_str().unwrap());
        let expected = c["bucket"].as_u64().unwrap();
        assert_eq!(
            u64::from(flagd_bucket(flag_key.as_bytes(), key.as_bytes())) / 100,
            expected,
            "{key}"
        );
    }
}

#[test]
fn the_hash_edges_land_on_both_sides_of_the_half() {
    // flagd-testbed chose these keys so that the hash is 0, just below 2^31, 2^31 and 2^32 - 1.
    assert_eq!(flagd_bucket(b"", b"ejOoVL"), 0);
    assert_eq!(flagd_bucket(b"", b"SI7p-"), 4999);
    assert_eq!(flagd_bucket(b"", b"6LvT0"), 5000);
    assert_eq!(flagd_bucket(b"", b"ceQdGm"), 9999);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(500))]

    #[test]
    fn the_bucket_matches_the_oracle(flag_key in "[A-Za-z0-9._-]{1,24}", key in "\\PC{0,40}") {
        prop_assert_eq!(
            u64::from(flagd_bucket(flag_key.as_bytes(), key.as_bytes())),
            oracle_bucket(&flag_key, &key, 10_000)
        );
    }

    /// Any split of whole percents, zeros included: the subset is flagd's variant for the same
    /// weights written as flagd integers, and the same for the weights in hundredths.
    #[test]
    fn the_subset_is_flagds_variant(
        cuts in prop::collection::vec(0u64..=100, 2), key in "[a-z0-9@.]{1,24}",
    ) {
        let (low, high) = (cuts[0].min(cuts[1]), cuts[0].max(cuts[1]));
        let weights = [low, high - low, 100 - high];
        let config = route(
            "my-flag",
            &[("v1", weights[0] as f64), ("v2", weights[1] as f64), ("v3", weights[2] as f64)],
        );
        let expected = oracle_variant("my-flag", &key, &weights);
        let hundredths: Vec<u64> = weights.iter().map(|w| w * 100).collect();
        prop_assert_eq!(oracle_variant("my-flag", &key, &hundredths), expected);
        prop_assert_eq!(decide(&config, &key).subset, expected);
    }
}

/// Which subset index each of `keys` gets under these weights (percents).
fn assignments(weights: &[f64], keys: &[String]) -> Vec<usize> {
    let names = ["v1", "v2", "v3"];
    let subsets: Vec<(&str, f64)> = names.iter().copied().zip(weights.iter().copied()).collect();
    let config = route("checkout-redesign", &subsets);
    keys.iter().map(|k| decide(&config, k).subset).collect()
}

#[test]
fn a_ramp_moves_users_only_forward_and_exactly_the_weight_moved() {
    let keys: Vec<String> = (0..20_000).map(|i| format!("user-{i}")).collect();
    let ramp = [[90.0, 10.0], [50.0, 50.0], [0.0, 100.0]];
    let steps: Vec<Vec<usize>> = ramp.iter().map(|w| assignments(w, &keys)).collect();
    for (step, pair) in steps.windows(2).enumerate() {
        let (before, after) = (&pair[0], &pair[1]);
        let back = (0..keys.len()).filter(|&i| after[i] < before[i]).count();
        assert_eq!(back, 0, "step {step} moved users back");
        // v1 owns flagd buckets [0, w1): exactly the keys in [w1_after, w1_before) move.
        let (from, to) = (ramp[step + 1][0] as u64 * 100, ramp[step][0] as u64 * 100);
        let moving = keys
            .iter()
            .filter(|k| (from..to).contains(&oracle_bucket("checkout-redesign", k, 10_000)))
            .count();
        let moved = (0..keys.len()).filter(|&i| after[i] != before[i]).count();
        assert_eq!(moved, moving, "step {step}");
        assert!(moved > 0);
    }
    assert!(steps[2].iter().all(|&s| s == 1));
}

#[test]
fn with_three_subsets_a_ramp_stays_forward_but_shifts_the_middle() {
    // 70/20/10 -> 60/20/20: 10 % of the weight moves, and v2's range slides up by 10 %, so the
    // keys in v1's old top tenth go to v2 and those in v2's old top tenth go to v3.
    let keys: Vec<String> = (0..20_000).map(|i| format!("user-{i}")).collect();
    let before = assignments(&[70.0, 20.0, 10.0], &keys);
    let after = assignments(&[60.0, 20.0, 20.0], &keys);
    let mut moves = [[0usize; 3]; 3];
    for (b, a) in before.iter().zip(&after) {
        moves[*b][*a] += 1;
    }
    assert_eq!(moves[1][0] + moves[2][0] + moves[2][1], 0, "{moves:?}");
    let in_range = |lo: u64, hi: u64| {
        keys.iter()
            .filter(|k| (lo..hi).contains(&oracle_bucket("checkout-redesign", k, 10_000)))
            .count()
    };
    assert_eq!(moves[0][1], in_range(6000, 7000));
    assert_eq!(moves[1][2], in_range(8000, 9000));
    assert_eq!(moves[0][2], 0);
}

#[test]
fn the_layout_gives_the_first_listed_subset_the_low_buckets() {
    let config = route("f", &[("v1", 87.5), ("v2", 0.0), ("v3", 12.5)]);
    assert_eq!(
        config.routes[0].layout.ranges(),
        vec![(0, 0, 8750), (2, 8750, BUCKETS as u16)]
    );
}

#[test]
fn bad_flagd_bucketing_is_refused_with_the_field_path() {
    let halves = json!([{"name": "v1", "weight": 50}, {"name": "v2", "weight": 50}]);
    let keys = json!([{"header": "x-user-id"}]);
    let error = |stickiness: Value| {
        let config =
            json!({"routes": [{"name": "flags", "subsets": halves, "stickiness": stickiness}]});
        Config::from_json(config.to_string().as_bytes())
            .unwrap_err()
            .to_string()
    };
    let table = [
        (
            json!({"keys": keys, "bucketing": {"flagd": {"flagKey": ""}}}),
            "routes[0].stickiness.bucketing.flagd.flagKey: must not be empty: the key of the flagd flag (or the seed its fractional rule puts before the key)",
        ),
        (
            json!({"keys": keys, "bucketing": {"unleash": {"groupId": "f"}, "flagd": {"flagKey": "f"}}}),
            "routes[0].stickiness.bucketing: names both unleash and flagd: keep one",
        ),
        (
            json!({"keys": keys, "salt": "s", "bucketing": {"flagd": {"flagKey": "f"}}}),
            "routes[0].stickiness.salt: flagd bucketing hashes flagKey, not the salt: remove salt",
        ),
        (
            json!({"keys": keys, "bucketing": {}}),
            "routes[0].stickiness.bucketing: must name a bucketing: unleash or flagd",
        ),
        (
            json!({"keys": keys, "bucketing": {"flagd": {}}}),
            "routes[0].stickiness.bucketing.flagd: missing field `flagKey` at line 1 column",
        ),
        (
            json!({"keys": keys, "bucketing": {"flagd": {"flagkey": "f"}}}),
            "routes[0].stickiness.bucketing.flagd.flagkey: unknown field `flagkey`, expected `flagKey` at line 1 column",
        ),
        (
            json!({"keys": keys, "bucketing": {"flagd": {"flagKey": 7}}}),
            "routes[0].stickiness.bucketing.flagd.flagKey: invalid type: integer `7`, expected a string at line 1 column",
        ),
        (
            json!({"keys": keys, "bucketing": {"flagsmith": {}}}),
            "routes[0].stickiness.bucketing.flagsmith: unknown field `flagsmith`, expected `unleash` or `flagd` at line 1 column",
        ),
    ];
    for (stickiness, expected) in table {
        let got = error(stickiness);
        // serde's errors end in a column number that depends on the document's layout.
        if expected.ends_with(" column") {
            assert!(got.starts_with(expected), "{got}");
        } else {
            assert_eq!(got, expected);
        }
    }
}

#[test]
fn flagd_takes_weights_with_decimals() {
    // flagd's weights are whole numbers, and hundredths of a percent are: 87.5/12.5 is 8750/1250.
    let config = route("f", &[("v1", 87.5), ("v2", 12.5)]);
    let key = (0..100_000)
        .map(|i| format!("user-{i}"))
        .find(|k| (8750..8800).contains(&oracle_bucket("f", k, 10_000)))
        .unwrap();
    assert_eq!(subset_of(&config, &key), "v2");
    assert_eq!(oracle_variant("f", &key, &[7, 1]), 1);
}
