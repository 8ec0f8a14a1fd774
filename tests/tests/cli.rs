//! The CLI answers what the plugin does in real Envoy: `which` for 1,000 users under the
//! example's config, and `diff` of the example's ramp against the moves an ECDS push makes.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeSet;
use std::time::Duration;

use sticky_canary_cli::input::{load, Found};
use sticky_canary_cli::which::{which, Request};
use sticky_canary_e2e::{repo_root, Client, Delivery, Envoy};

fn example(file: &str) -> Found {
    load(&repo_root().join(file), None).unwrap()
}

fn users() -> Vec<String> {
    (0..1000).map(|i| format!("cli-user-{i}")).collect()
}

fn served(client: &mut Client, users: &[String]) -> Vec<String> {
    users
        .iter()
        .map(|id| {
            client
                .get(
                    "/",
                    &[("x-user-id", id.as_bytes()), ("host", b"servicea.com")],
                )
                .served_by()
                .to_string()
        })
        .collect()
}

fn predicted(found: &Found, users: &[String]) -> Vec<String> {
    let config = found.compile(None).unwrap();
    users
        .iter()
        .map(|id| {
            let request = Request {
                user: Some(id.clone()),
                host: Some("servicea.com".into()),
                ..Request::default()
            };
            which(&config, &request, sticky_canary_cli::schedule::now_ms())
                .subset
                .unwrap()
        })
        .collect()
}

#[test]
fn which_agrees_with_the_plugin_for_1000_users() {
    let found = example("examples/servicea/wasmplugin.yaml");
    let envoy = Envoy::start(Delivery::Inline, &found.json);
    let users = users();
    let got = served(&mut envoy.front(), &users);
    let want = predicted(&found, &users);
    for ((id, got), want) in users.iter().zip(&got).zip(&want) {
        assert_eq!(got, want, "user {id}");
    }
    assert!(got.iter().any(|s| s == "v1") && got.iter().any(|s| s == "v2"));
}

#[test]
fn diff_names_exactly_the_moves_an_ecds_push_makes() {
    let (at_50, at_90) = (
        example("examples/servicea/wasmplugin.yaml"),
        example("examples/servicea/slider/wasmplugin-10-90.yaml"),
    );
    let users = users();
    let mut envoy = Envoy::start(Delivery::Ecds, &at_50.json);
    let before = served(&mut envoy.front(), &users);
    let accepted = envoy.ecds_stat("update_success");
    envoy.push_ecds(&at_90.json);
    envoy.wait_for(
        "the 10/90 push to be accepted",
        Duration::from_secs(30),
        |e| e.ecds_stat("update_success") > accepted,
    );
    let after = served(&mut envoy.front(), &users);

    let diff =
        sticky_canary_cli::diff::diff(&at_50.compile(None).unwrap(), &at_90.compile(None).unwrap());
    let route = &diff.routes[0];
    let listed: BTreeSet<(String, String)> = route
        .moves
        .iter()
        .map(|m| (m.from.clone(), m.to.clone()))
        .collect();
    assert_eq!(
        listed,
        BTreeSet::from([("v1".to_string(), "v2".to_string())])
    );
    assert_eq!(route.moves[0].buckets, 4000.0);

    let observed: BTreeSet<(String, String)> = before
        .iter()
        .zip(&after)
        .filter(|(b, a)| b != a)
        .map(|(b, a)| (b.clone(), a.clone()))
        .collect();
    assert_eq!(observed, listed);
    // Each user moved exactly when the CLI says their subset changes.
    assert_eq!(before, predicted(&at_50, &users));
    assert_eq!(after, predicted(&at_90, &users));
}

/// Unleash bucketing in real Envoy: the users of Unleash's client specification land where an
/// Unleash rollout of groupId AB12A puts them, and `which` predicts all 1,000 users.
#[test]
fn unleash_bucketing_in_envoy_follows_the_rollout_and_which() {
    let config = r#"{"routingHeader": "x-canary-subset", "routes": [{"name": "service-a",
        "match": {"hosts": ["servicea.com"]},
        "subsets": [{"name": "v1", "weight": 50}, {"name": "v2", "weight": 50}],
        "stickiness": {"keys": [{"header": "x-user-id"}],
                       "bucketing": {"unleash": {"groupId": "AB12A"}}}}]}"#;
    let found = Found {
        json: config.to_string(),
        manifest: None,
        manifest_errors: Vec::new(),
    };
    let envoy = Envoy::start(Delivery::Inline, config);
    let mut client = envoy.front();
    // specifications/03-gradual-rollout-user-id-strategy.json: at 50 %, 122 is in and 155 out.
    let spec_users = ["122".to_string(), "155".to_string()];
    assert_eq!(served(&mut client, &spec_users), ["v2", "v1"]);
    let users = users();
    let got = served(&mut client, &users);
    let want = predicted(&found, &users);
    for ((id, got), want) in users.iter().zip(&got).zip(&want) {
        assert_eq!(got, want, "user {id}");
    }
    // Not the default contract's split: the same users under salt `service-a` land elsewhere.
    let default = predicted(&example("examples/servicea/wasmplugin.yaml"), &users);
    assert_ne!(got, default);
}

/// flagd bucketing in real Envoy: flagd-testbed's `fractional-flag-shorthand` (heads 1, tails 1,
/// no bucketing expression) gives jon@company.com heads and jane@company.com tails, the subsets
/// standing for the variants in the flag's order; `which` predicts all 1,000 users.
#[test]
fn flagd_bucketing_in_envoy_follows_fractional_and_which() {
    let config = r#"{"routingHeader": "x-canary-subset", "routes": [{"name": "service-a",
        "match": {"hosts": ["servicea.com"]},
        "subsets": [{"name": "v1", "weight": 50}, {"name": "v2", "weight": 50}],
        "stickiness": {"keys": [{"header": "x-user-id"}],
                       "bucketing": {"flagd": {"flagKey": "fractional-flag-shorthand"}}}}]}"#;
    let found = Found {
        json: config.to_string(),
        manifest: None,
        manifest_errors: Vec::new(),
    };
    let envoy = Envoy::start(Delivery::Inline, config);
    let mut client = envoy.front();
    let testbed_users = [
        "jon@company.com".to_string(),
        "jane@company.com".to_string(),
    ];
    assert_eq!(served(&mut client, &testbed_users), ["v1", "v2"]);
    let users = users();
    let got = served(&mut client, &users);
    let want = predicted(&found, &users);
    for ((id, got), want) in users.iter().zip(&got).zip(&want) {
        assert_eq!(got, want, "user {id}");
    }
    let default = predicted(&example("examples/servicea/wasmplugin.yaml"), &users);
    assert_ne!(got, default);
}
