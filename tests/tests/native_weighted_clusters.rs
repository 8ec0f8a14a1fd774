//! What Envoy does on its own, without the filter: `weighted_clusters` with `use_hash_policy`
//! (Envoy 1.36+) and a route `hash_policy` on `x-user-id` picks the cluster from the hash of the
//! user, so a user stays on one version while the weights stay. This pins what happens to users
//! when the weights change over three versions (README, "When you don't need this filter").
//!
//! One Envoy serves every step of the ramp at once, a route per step: the pick depends only on
//! the request's hash and the route's weights (Envoy 1.40
//! source/common/router/weighted_cluster_specifier.cc: the hash stands in for the random value,
//! taken modulo the total weight, and the clusters own consecutive ranges in list order), so a
//! route per step sees what an RDS push of those weights would.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeMap;

use serde_json::{json, Value};
use sticky_canary_e2e::upstream::{Behaviour, Upstream};
use sticky_canary_e2e::{subset_of, Delivery, EnvoyOptions};

const USERS: usize = 1000;
/// The ramp: v1 (stable) hands weight to v2 and v3.
const RAMP: [(&str, [u32; 3]); 3] = [
    ("/80-10-10", [80, 10, 10]),
    ("/60-20-20", [60, 20, 20]),
    ("/34-33-33", [34, 33, 33]),
];
/// 80/10/10 written with another total: the same shares.
const SAME_SHARES: (&str, [u32; 3]) = ("/8-1-1", [8, 1, 1]);
/// 80/10/10 on another route, as another service's would be.
const OTHER_ROUTE: (&str, [u32; 3]) = ("/other-service", [80, 10, 10]);

fn route(prefix: &str, weights: [u32; 3]) -> Value {
    json!({
        "match": {"prefix": prefix},
        "route": {
            "weighted_clusters": {
                "clusters": [
                    {"name": "service-a-v1", "weight": weights[0]},
                    {"name": "service-a-v2", "weight": weights[1]},
                    {"name": "service-a-v3", "weight": weights[2]},
                ],
                "use_hash_policy": true,
            },
            "hash_policy": [{"header": {"header_name": "x-user-id"}}],
        },
    })
}

/// `(from, to)` -> how many users changed from one subset to the other.
fn moves(before: &[String], after: &[String]) -> BTreeMap<(String, String), usize> {
    let mut moves = BTreeMap::new();
    for (from, to) in before.iter().zip(after) {
        if from != to {
            *moves.entry((from.clone(), to.clone())).or_default() += 1;
        }
    }
    moves
}

fn counted(pairs: &[(&str, &str, usize)]) -> BTreeMap<(String, String), usize> {
    pairs
        .iter()
        .map(|(from, to, n)| ((from.to_string(), to.to_string()), *n))
        .collect()
}

fn shares(served: &[String]) -> BTreeMap<String, usize> {
    let mut shares = BTreeMap::new();
    for subset in served {
        *shares.entry(subset.clone()).or_default() += 1;
    }
    shares
}

#[test]
fn envoy_hash_split_ramps_forward_reshuffles_on_a_new_total_and_picks_the_same_users_on_every_route(
) {
    let v3 = Upstream::start("v3", Behaviour::Answer);
    let socket = v3.socket().to_path_buf();
    let mut routes: Vec<Value> = RAMP.iter().map(|(p, w)| route(p, *w)).collect();
    routes.push(route(SAME_SHARES.0, SAME_SHARES.1));
    routes.push(route(OTHER_ROUTE.0, OTHER_ROUTE.1));
    let envoy = EnvoyOptions::scenario(Delivery::Inline, "{}")
        .edit_bootstrap(move |bootstrap, _| {
            bootstrap.add_pipe_cluster("service-a-v3", &socket);
            bootstrap.set_front_routes_without_filters(routes.clone());
        })
        .start();
    let mut client = envoy.front();
    let users: Vec<String> = (0..USERS).map(|i| format!("user-{i}")).collect();
    let mut serve = |path: &str| -> Vec<String> {
        users
            .iter()
            .map(|user| {
                let response = client.get(path, &[("x-user-id", user.as_bytes())]);
                assert_eq!(response.status, 200, "{user} on {path}");
                response.served_by().to_string()
            })
            .collect()
    };
    let steps: Vec<Vec<String>> = RAMP.iter().map(|(path, _)| serve(path)).collect();
    let filter_steps: Vec<Vec<String>> = RAMP
        .iter()
        .map(|(_, weights)| {
            let config = filter_config(*weights);
            users.iter().map(|u| subset_of(&config, u)).collect()
        })
        .collect();
    let same_shares = serve(SAME_SHARES.0);
    let other_route = serve(OTHER_ROUTE.0);

    // Sticky while the weights stay: every user again, same answer.
    for (step, (path, _)) in steps.iter().zip(RAMP) {
        assert_eq!(&serve(path), step, "{path} asked twice");
    }
    // The split follows the weights.
    let split: Vec<BTreeMap<String, usize>> = steps.iter().map(|s| shares(s)).collect();
    assert_eq!(
        split,
        [
            [("v1", 793), ("v2", 84), ("v3", 123)],
            [("v1", 578), ("v2", 215), ("v3", 207)],
            [("v1", 328), ("v2", 331), ("v3", 341)],
        ]
        .map(|step| step.map(|(s, n)| (s.to_string(), n)).into_iter().collect())
    );

    // Nobody goes back to v1; v2's users go on to v3 (at the first step every one of them: the
    // clusters own consecutive ranges of the hash in list order, so growing v3 pushes v2's range
    // up into v1's).
    assert_eq!(
        moves(&steps[0], &steps[1]),
        counted(&[("v1", "v2", 215), ("v2", "v3", 84)])
    );
    assert_eq!(
        moves(&steps[1], &steps[2]),
        counted(&[("v1", "v2", 250), ("v2", "v3", 134)])
    );
    assert_eq!(
        moves(&steps[0], &steps[2]),
        counted(&[("v1", "v2", 331), ("v1", "v3", 134), ("v2", "v3", 84)])
    );
    // Stepping back is a rollback: users return to older versions.
    assert_eq!(
        moves(&steps[1], &steps[0]),
        counted(&[("v2", "v1", 215), ("v3", "v2", 84)])
    );

    // The pick is the hash modulo the total weight: the same shares written with another total
    // move a third of the users, some of them back to v1.
    assert_eq!(shares(&same_shares), shares_of(&[812, 93, 95]));
    assert_eq!(
        moves(&steps[0], &same_shares),
        counted(&[
            ("v1", "v2", 68),
            ("v1", "v3", 80),
            ("v2", "v1", 66),
            ("v2", "v3", 7),
            ("v3", "v1", 101),
            ("v3", "v2", 14),
        ])
    );
    // The filter's hashing contract on the same ramp (the oracle, no Envoy): the same kinds of
    // move, forward only, with v2's users going on to v3.
    assert_eq!(
        moves(&filter_steps[0], &filter_steps[1]),
        counted(&[("v1", "v2", 183), ("v2", "v3", 104)])
    );
    assert_eq!(
        moves(&filter_steps[1], &filter_steps[2]),
        counted(&[("v1", "v2", 254), ("v2", "v3", 124)])
    );
    // No salt: every route hashing the same header at the same weights picks the same users.
    assert_eq!(other_route, steps[0]);
}

/// The filter's route over the same versions and weights (for the oracle).
fn filter_config(weights: [u32; 3]) -> String {
    json!({"routes": [{
        "name": "service-a",
        "subsets": [
            {"name": "v1", "weight": weights[0]},
            {"name": "v2", "weight": weights[1]},
            {"name": "v3", "weight": weights[2]},
        ],
        "stickiness": {"keys": [{"header": "x-user-id"}]},
    }]})
    .to_string()
}

fn shares_of(counts: &[usize; 3]) -> BTreeMap<String, usize> {
    ["v1", "v2", "v3"]
        .iter()
        .zip(counts)
        .map(|(s, n)| (s.to_string(), *n))
        .collect()
}
