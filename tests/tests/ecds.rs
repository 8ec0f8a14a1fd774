//! Config delivered the way Istio delivers a WasmPlugin: ECDS from a watched file. Ramping moves
//! users only forward with no failed request; a rejected push keeps the old config serving.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::thread;
use std::time::Duration;

use sticky_canary_e2e::bad_configs::{bad_configs, BadConfig};
use sticky_canary_e2e::traffic::{Recorded, Traffic};
use sticky_canary_e2e::{expected_subset, service_a_config, Client, Delivery, Envoy};

const ECDS_STATS: &str =
    "extension_config_discovery.http_filter.extensions.istio.io/wasmplugin/default.sticky-canary.";

fn user(i: usize) -> String {
    format!("ramp-user-{i}")
}

fn oracle(config: &str, id: &str) -> String {
    expected_subset(config, "/", &[("x-user-id", id.as_bytes())]).unwrap()
}

fn background_users() -> Vec<String> {
    (0..500).map(|i| format!("bg-{i}")).collect()
}

fn assert_no_failures(recorded: &Recorded) {
    let failures = &recorded.failures;
    assert!(
        !recorded.served.is_empty() && failures.is_empty(),
        "{} of {} requests failed: {:?}",
        failures.len(),
        recorded.served.len() + failures.len(),
        &failures[..failures.len().min(5)]
    );
}

/// Waits until a user whom `new` moves from v1 to v2 is served by v2: the workers route with it.
fn wait_until_routing_follows(
    envoy: &Envoy,
    client: &mut Client,
    users: &[String],
    old: &str,
    new: &str,
) {
    let mover = users
        .iter()
        .find(|id| oracle(old, id) == "v1" && oracle(new, id) == "v2")
        .unwrap();
    envoy.wait_for(
        "workers to route with the new config",
        Duration::from_secs(10),
        |_| {
            client
                .get("/", &[("x-user-id", mover.as_bytes())])
                .served_by()
                == "v2"
        },
    );
}

fn subsets_of(client: &mut Client, users: &[String]) -> Vec<String> {
    users
        .iter()
        .map(|id| {
            client
                .get("/", &[("x-user-id", id.as_bytes())])
                .served_by()
                .to_string()
        })
        .collect()
}

#[test]
fn ramping_the_canary_moves_users_only_forward_without_failing_a_request() {
    let (at_10, at_50) = (service_a_config(10), service_a_config(50));
    let mut envoy = Envoy::start(Delivery::Ecds, &at_10);
    let mut client = envoy.front();
    let users: Vec<String> = (0..600).map(user).collect();
    let before = subsets_of(&mut client, &users);
    for (id, got) in users.iter().zip(&before) {
        assert_eq!(*got, oracle(&at_10, id), "user {id} before the ramp");
    }

    let traffic = Traffic::start(envoy.front_port(), background_users());
    let accepted = envoy.stat(&format!("{ECDS_STATS}update_success"));
    envoy.push_ecds(&at_50);
    envoy.wait_for(
        "the 50 % config to be accepted",
        Duration::from_secs(15),
        |e| e.stat(&format!("{ECDS_STATS}update_success")) > accepted,
    );
    wait_until_routing_follows(&envoy, &mut client, &users, &at_10, &at_50);
    thread::sleep(Duration::from_millis(300));
    let recorded = traffic.finish();

    let after = subsets_of(&mut client, &users);
    let mut moved = 0;
    for ((id, old), new) in users.iter().zip(&before).zip(&after) {
        assert!(
            !(old == "v2" && new == "v1"),
            "user {id} moved back from v2 to v1"
        );
        assert_eq!(*new, oracle(&at_50, id), "user {id} after the ramp");
        moved += usize::from(old != new);
    }
    let expected_moved = users
        .iter()
        .filter(|id| oracle(&at_10, id) != oracle(&at_50, id))
        .count();
    assert_eq!(moved, expected_moved);
    assert!(
        moved > 150,
        "only {moved} of 600 users moved from 10 % to 50 %"
    );
    assert_no_failures(&recorded);
    assert_eq!(envoy.stat(&format!("{ECDS_STATS}update_rejected")), 0);
}

#[test]
fn a_rejected_push_keeps_the_previous_config_serving() {
    let at_10 = service_a_config(10);
    let mut envoy = Envoy::start(Delivery::Ecds, &at_10);
    let mut client = envoy.front();
    let users: Vec<String> = (0..300).map(user).collect();

    let traffic = Traffic::start(envoy.front_port(), background_users());
    let bad = at_10.replace(r#""weight":90"#, r#""weight":95"#);
    assert_ne!(bad, at_10);
    envoy.push_ecds(&bad);
    envoy.wait_for(
        "the bad config to be rejected",
        Duration::from_secs(15),
        |e| e.stat(&format!("{ECDS_STATS}update_rejected")) >= 1,
    );
    let after = subsets_of(&mut client, &users);
    for (id, got) in users.iter().zip(&after) {
        assert_eq!(
            *got,
            oracle(&at_10, id),
            "user {id} after the rejected push"
        );
    }
    let recorded = traffic.finish();
    assert_no_failures(&recorded);
    assert!(
        envoy.log().contains("sticky-canary: invalid pluginConfig: routes[0].subsets: weights must sum to 100, got 105 (v1=95, v2=10)"),
        "Envoy log lacks the one-line reason:\n{}",
        envoy.log()
    );
    assert_eq!(
        envoy.stat(&format!("{ECDS_STATS}update_success")),
        1,
        "only the initial config was accepted"
    );
}

/// An admin's mistakes pushed one after another while traffic flows: each is rejected with a
/// one-line error naming the field, none costs a request, the last good config keeps serving
/// throughout, and the next good push is taken.
#[test]
fn a_series_of_bad_pushes_costs_no_request() {
    let at_10 = service_a_config(10);
    let mut envoy = Envoy::start(Delivery::Ecds, &at_10);
    let mut client = envoy.front();
    let users: Vec<String> = (0..200).map(user).collect();
    let bad = bad_configs();

    let traffic = Traffic::start(envoy.front_port(), background_users());
    let rejected = |e: &Envoy| e.stat(&format!("{ECDS_STATS}update_rejected"));
    for (
        round,
        BadConfig {
            name,
            config,
            reason,
        },
    ) in bad.iter().enumerate()
    {
        envoy.push_ecds(config);
        envoy.wait_for(
            &format!("the push `{name}` to be rejected"),
            Duration::from_secs(15),
            |e| rejected(e) as usize > round,
        );
        let line = format!("sticky-canary: invalid pluginConfig: {reason}");
        envoy.wait_for(
            &format!("the log line for `{name}`"),
            Duration::from_secs(5),
            |e| e.log().lines().any(|l| l.contains(&line)),
        );
        // The previous config still decides every user.
        for id in users.iter().step_by(20) {
            let response = client.get("/", &[("x-user-id", id.as_bytes())]);
            assert_eq!(
                response.served_by(),
                oracle(&at_10, id),
                "user {id} after `{name}`"
            );
        }
    }
    assert_eq!(rejected(&envoy) as usize, bad.len());

    let at_30 = service_a_config(30);
    envoy.push_ecds(&at_30);
    envoy.wait_for("the good push to be taken", Duration::from_secs(15), |e| {
        e.stat(&format!("{ECDS_STATS}update_success")) >= 2
    });
    wait_until_routing_follows(&envoy, &mut client, &users, &at_10, &at_30);
    let recorded = traffic.finish();
    assert_no_failures(&recorded);
    let log = envoy.log();
    let invalid: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("invalid pluginConfig"))
        .collect();
    assert_eq!(
        invalid.len(),
        bad.len(),
        "one line per rejected push:\n{}",
        invalid.join("\n")
    );
    eprintln!(
        "{} bad pushes rejected; {} requests during them, none failed",
        bad.len(),
        recorded.served.len()
    );
}

/// With no config accepted yet there is nothing to route by: Envoy answers 500 (documented for
/// admins in the README) until the first good push, after which requests are routed.
#[test]
fn a_first_config_that_is_rejected_fails_requests_until_a_good_one_arrives() {
    let bad = service_a_config(10).replace(r#""weight":10"#, r#""weight":20"#);
    let mut envoy = Envoy::start(Delivery::Ecds, &bad);
    assert_eq!(envoy.stat(&format!("{ECDS_STATS}update_rejected")), 1);
    assert_eq!(
        envoy.front().get("/", &[("x-user-id", b"alice")]).status,
        500
    );

    let good = service_a_config(10);
    envoy.push_ecds(&good);
    envoy.wait_for("the good config to serve", Duration::from_secs(15), |e| {
        e.front().get("/", &[("x-user-id", b"alice")]).status == 200
    });
    let response = envoy.front().get("/", &[("x-user-id", b"alice")]);
    assert_eq!(response.served_by(), oracle(&good, "alice"));
}
