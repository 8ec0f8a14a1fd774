#![cfg(not(target_arch = "wasm32"))]
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
//! What a weight change does to users, for any number of subsets: the exact guarantee the README
//! states, checked bucket by bucket on layouts compiled from real pluginConfig documents.
//!
//! With `S[i]` = the weight of subset `i` plus every subset listed after it (newer), in buckets:
//! - no bucket moves to an older subset if and only if no `S[i]` decreases, which is exactly
//!   "weight moved only from older subsets to newer ones";
//! - then subset `i` hands to newer subsets exactly `min(w[i], S'[i+1] - S[i+1])` of its buckets
//!   (its lowest), and the buckets that change are the sum of that over the subsets; weight moved
//!   to the next subset in the list moves exactly that many buckets.

mod common;

use common::strategies::weights;
use proptest::prelude::*;
use sticky_canary_core::{Config, BUCKETS};

/// The compiled layout of a route with these weights (hundredths of a percent), written the way
/// an admin writes them: percents with up to two decimals.
fn owners(weights: &[u16]) -> Vec<usize> {
    let subsets: Vec<String> = weights
        .iter()
        .enumerate()
        .map(|(i, w)| {
            format!(
                r#"{{"name":"v{}","weight":{}.{:02}}}"#,
                i + 1,
                w / 100,
                w % 100
            )
        })
        .collect();
    let json = format!(
        r#"{{"routes":[{{"name":"r","subsets":[{}],"stickiness":{{"keys":[{{"header":"x-user-id"}}]}}}}]}}"#,
        subsets.join(",")
    );
    let config = Config::from_json(json.as_bytes()).unwrap_or_else(|e| panic!("{json}: {e}"));
    let route = &config.routes[0];
    let compiled: Vec<u16> = route.subsets.iter().map(|s| s.weight).collect();
    assert_eq!(compiled, weights, "weights are stored exactly: {json}");
    (0..BUCKETS as u16)
        .map(|b| route.layout.subset_for(b))
        .collect()
}

/// `S[i]` for every `i`, and `S[n] = 0`.
fn newer_sums(weights: &[u16]) -> Vec<u32> {
    let mut sums = vec![0u32; weights.len() + 1];
    for i in (0..weights.len()).rev() {
        sums[i] = sums[i + 1] + u32::from(weights[i]);
    }
    sums
}

/// 2 to 6 weights, and the same after 1 to 5 moves, each taking a share of one subset's weight
/// (possibly all, possibly none) and giving it to a newer one.
fn ramp() -> impl Strategy<Value = (Vec<u16>, Vec<u16>)> {
    let moves = prop::collection::vec((any::<usize>(), any::<usize>(), 0.0..=1.0f64), 1..=5);
    ((2usize..=6).prop_flat_map(weights), moves).prop_map(|(before, moves)| {
        let n = before.len();
        let mut after = before.clone();
        for (from, to, share) in moves {
            let from = from % (n - 1);
            let to = from + 1 + to % (n - 1 - from);
            let amount = (f64::from(after[from]) * share).round() as u16;
            after[from] -= amount;
            after[to] += amount;
        }
        (before, after)
    })
}

/// Two unrelated weight lists of the same length, 2 to 6.
fn any_change() -> impl Strategy<Value = (Vec<u16>, Vec<u16>)> {
    (2usize..=6).prop_flat_map(|n| (weights(n), weights(n)))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    #[test]
    fn moving_weight_to_newer_subsets_moves_users_only_forward_and_exactly_this_many(
        (before, after) in ramp()
    ) {
        let (old, new) = (owners(&before), owners(&after));
        let (s, s_after) = (newer_sums(&before), newer_sums(&after));
        let mut handed = vec![0u32; before.len()];
        for b in 0..BUCKETS as usize {
            prop_assert!(
                new[b] >= old[b],
                "bucket {b} moved back from subset {} to {} ({before:?} -> {after:?})",
                old[b], new[b]
            );
            if new[b] != old[b] {
                handed[old[b]] += 1;
            }
        }
        let n = before.len();
        // Per subset, so the total of changed buckets is pinned too. The newest hands none.
        let expected: Vec<u32> = (0..n)
            .map(|i| match i + 1 < n {
                true => u32::from(before[i]).min(s_after[i + 1] - s[i + 1]),
                false => 0,
            })
            .collect();
        prop_assert_eq!(&handed, &expected, "{:?} -> {:?}", before, after);
        // The users who leave a subset are its lowest buckets.
        for i in 0..n {
            let range = s[i + 1] as usize..s[i] as usize;
            let leaving = range.clone().filter(|&b| new[b] != old[b]);
            prop_assert!(
                leaving.eq(range.start..range.start + expected[i] as usize),
                "subset {i} of {before:?} -> {after:?}"
            );
        }
    }

    #[test]
    fn weight_moved_to_the_next_subset_moves_exactly_that_many_users(
        (before, from, share) in (2usize..=6)
            .prop_flat_map(|n| (weights(n), 0..n - 1, 0.0..=1.0f64))
    ) {
        let amount = (f64::from(before[from]) * share).round() as u16;
        let mut after = before.clone();
        after[from] -= amount;
        after[from + 1] += amount;
        let (old, new) = (owners(&before), owners(&after));
        let changed = (0..BUCKETS as usize).filter(|&b| new[b] != old[b]).count();
        prop_assert_eq!(changed, usize::from(amount), "{:?} -> {:?}", before, after);
    }

    #[test]
    fn any_weight_change_moves_someone_back_exactly_when_a_newer_sum_shrinks(
        (before, after) in any_change()
    ) {
        let (old, new) = (owners(&before), owners(&after));
        let moved_back = (0..BUCKETS as usize).any(|b| new[b] < old[b]);
        let shrinks = newer_sums(&before)
            .iter()
            .zip(newer_sums(&after))
            .any(|(s, s_after)| s_after < *s);
        prop_assert_eq!(moved_back, shrinks, "{:?} -> {:?}", before, after);
    }
}

/// The README's example: 10 points of weight move, 20 % of users change subset.
#[test]
fn seventy_twenty_ten_to_sixty_twenty_twenty() {
    let (old, new) = (owners(&[7000, 2000, 1000]), owners(&[6000, 2000, 2000]));
    let count = |from: usize, to: usize| {
        (0..BUCKETS as usize)
            .filter(|&b| old[b] == from && new[b] == to)
            .count()
    };
    assert_eq!(count(1, 2), 1000, "half of v2's users go to v3");
    assert_eq!(count(0, 1), 1000, "a seventh of v1's users go to v2");
    assert_eq!(
        (0..BUCKETS as usize).filter(|&b| old[b] != new[b]).count(),
        2000
    );
}
