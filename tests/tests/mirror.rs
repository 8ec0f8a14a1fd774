//! Sticky mirroring in real Envoy (`envoy/mirror/envoy.yaml`): the filter marks a sample of users
//! chosen by the hashing contract, the route table mirrors their requests to v2, and v2's
//! upstream (the test's own, recording each request) sees exactly those users, on every round,
//! while every request is still served by its own subset.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeSet;
use std::time::Duration;

use serde_json::json;
use sticky_canary_core::bucket;
use sticky_canary_e2e::bootstrap::Step::Key;
use sticky_canary_e2e::bootstrap::MIRROR_BOOTSTRAP;
use sticky_canary_e2e::envoy::EnvoyOptions;
use sticky_canary_e2e::subset_of;
use sticky_canary_e2e::upstream::{Behaviour, Request, Upstream};

const USERS: usize = 200;
const ROUNDS: usize = 3;
/// 40 % of users, in hundredths: the contract's bucket under `service-a:mirror` below this.
const THRESHOLD: u16 = 4000;
/// Generous: mirrored copies are sent in the background on a loaded 2-core machine.
const SETTLE: Duration = Duration::from_secs(60);

fn config() -> String {
    json!({"routes": [{
        "name": "service-a",
        "subsets": [{"name": "v1", "weight": 70}, {"name": "v2", "weight": 30}],
        "stickiness": {"keys": [{"header": "x-user-id"}]},
        "mirror": {"subset": "v2", "percent": 40, "header": "x-canary-mirror"}
    }]})
    .to_string()
}

/// `(user, round)` of a request, from its path `/<user>/<round>`.
fn request_of(recorded: &Request) -> (String, usize) {
    let path = recorded.request_line.split(' ').nth(1).unwrap();
    let (user, round) = path.trim_start_matches('/').split_once('/').unwrap();
    (user.to_string(), round.parse().unwrap())
}

fn is_copy(recorded: &Request) -> bool {
    recorded.header("host") == Some("servicea.com-shadow")
}

#[test]
fn the_mirror_upstream_receives_exactly_the_sampled_users_on_every_round() {
    let config = config();
    let v2 = Upstream::start("v2", Behaviour::Answer);
    let socket = v2.socket().to_path_buf();
    let envoy = EnvoyOptions::listeners(MIRROR_BOOTSTRAP, &[("front", &config)])
        .edit_bootstrap(move |bootstrap, _| {
            let doc = &mut bootstrap.0;
            doc.sequence(&[Key("static_resources"), Key("listeners")])
                .retain(|l| l["name"] != "service-a-v2");
            bootstrap.point_cluster_at_pipe("service-a-v2", &socket);
        })
        .start();
    let mut client = envoy.front();

    let users: Vec<String> = (0..USERS).map(|i| format!("user-{i}")).collect();
    let mut served_by_v2 = BTreeSet::new();
    let mut mirrored = BTreeSet::new();
    let mut sampled_on_v2 = 0;
    for round in 0..ROUNDS {
        for user in &users {
            let subset = subset_of(&config, user);
            let sampled = bucket(b"service-a:mirror", user.as_bytes()) < THRESHOLD;
            // Every other round forges the mark: it never makes a user sampled.
            let forged: &[(&str, &[u8])] = if round % 2 == 1 {
                &[("x-canary-mirror", b"v2")]
            } else {
                &[]
            };
            let mut headers = vec![("x-user-id", user.as_bytes())];
            headers.extend_from_slice(forged);
            let response = client.get(&format!("/{user}/{round}"), &headers);
            assert_eq!(response.status, 200);
            assert_eq!(response.served_by(), subset, "{user} round {round}");
            assert_eq!(response.received_subset(), Some(subset.as_str()));
            if subset == "v2" {
                served_by_v2.insert((user.clone(), round));
                sampled_on_v2 += usize::from(sampled && round == 0);
            } else if sampled {
                mirrored.insert((user.clone(), round));
            }
        }
    }
    let per_round = mirrored.len() / ROUNDS;
    assert!(
        (40..=120).contains(&per_round) && sampled_on_v2 > 0,
        "{per_round} users mirrored per round, {sampled_on_v2} sampled users on v2"
    );

    // Everything Envoy sent to v2 has arrived: its count and the upstream's agree.
    let total = served_by_v2.len() + mirrored.len();
    envoy.wait_for("the mirrored copies", SETTLE, |envoy| {
        envoy.stat("cluster.service-a-v2.upstream_rq_total") as usize >= total
            && v2.received().len() >= total
    });
    let received = v2.received();
    assert_eq!(received.len(), total);
    assert_eq!(
        envoy.stat("cluster.service-a-v2.upstream_rq_total") as usize,
        total
    );
    let copies: BTreeSet<(String, usize)> = received
        .iter()
        .filter(|r| is_copy(r))
        .map(request_of)
        .collect();
    let served: BTreeSet<(String, usize)> = received
        .iter()
        .filter(|r| !is_copy(r))
        .map(request_of)
        .collect();
    assert_eq!(copies, mirrored, "the mirrored requests, user by user");
    assert_eq!(served, served_by_v2, "the requests v2 served");
    // A copy carries the mark the route table matched, and the subset that served the original.
    for copy in received.iter().filter(|r| is_copy(r)) {
        assert_eq!(copy.header("x-canary-mirror"), Some("v2"));
        assert_eq!(copy.header("x-canary-subset"), Some("v1"));
    }
    for original in received.iter().filter(|r| !is_copy(r)) {
        assert_eq!(
            original.header("x-canary-mirror"),
            None,
            "v2 users are never marked"
        );
    }
    // The filter counts what it marked; counts reach Envoy on its 1 s tick.
    let counter = "wasmcustom.sticky_canary.mirrored_total.route.service-a";
    envoy.wait_for("the marks to be counted", SETTLE, |envoy| {
        envoy.stat(counter) as usize >= mirrored.len()
    });
    assert_eq!(envoy.stat(counter) as usize, mirrored.len());
}
