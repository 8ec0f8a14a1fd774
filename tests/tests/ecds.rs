//! Config delivered the way Istio delivers a WasmPlugin: ECDS from a watched file. Ramping moves
//! users only forward with no failed request; a rejected push keeps the old config serving.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Duration;

use sticky_canary_e2e::bad_configs::{bad_configs, BadConfig};
use sticky_canary_e2e::ramp::{
    assert_all_under, assert_one_switch, push_while_flowing, ForwardOnly,
};
use sticky_canary_e2e::traffic::Traffic;
use sticky_canary_e2e::{service_a_config, subset_of, Client, Delivery, Envoy};

fn user(i: usize) -> String {
    format!("ramp-user-{i}")
}

fn background_users() -> Vec<String> {
    (0..500).map(|i| format!("bg-{i}")).collect()
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
    let mut forward = ForwardOnly::new(&["v1", "v2"], users.len());
    for (i, (id, got)) in users
        .iter()
        .zip(subsets_of(&mut client, &users))
        .enumerate()
    {
        assert_eq!(got, subset_of(&at_10, id), "user {id} before the ramp");
        forward.observe(i, &got).unwrap();
    }

    let background = background_users();
    let traffic = Traffic::start(&envoy, &background);
    let window = push_while_flowing(&mut envoy, &traffic, &background, (&at_10, &at_50), |e| {
        e.push_ecds(&at_50)
    });
    let recorded = traffic.finish();
    let switch = assert_one_switch(&recorded, &background, &at_10, &at_50, window);
    eprintln!(
        "{} requests during the ramp, switched at request {switch:?}",
        recorded.samples.len()
    );

    let mut moved = 0;
    for (i, (id, got)) in users
        .iter()
        .zip(subsets_of(&mut client, &users))
        .enumerate()
    {
        assert_eq!(got, subset_of(&at_50, id), "user {id} after the ramp");
        forward.observe(i, &got).unwrap();
        moved += usize::from(got != subset_of(&at_10, id));
    }
    assert!(
        moved > 150,
        "only {moved} of 600 users moved from 10 % to 50 %"
    );
    assert_eq!(envoy.ecds_stat("update_rejected"), 0);
}

#[test]
fn a_rejected_push_keeps_the_previous_config_serving() {
    let at_10 = service_a_config(10);
    let mut envoy = Envoy::start(Delivery::Ecds, &at_10);
    let mut client = envoy.front();
    let users: Vec<String> = (0..300).map(user).collect();

    let background = background_users();
    let traffic = Traffic::start(&envoy, &background);
    traffic.wait_until_answered(background.len());
    let bad = at_10.replace(r#""weight":90"#, r#""weight":95"#);
    assert_ne!(bad, at_10);
    envoy.push_ecds(&bad);
    envoy.wait_for(
        "the bad config to be rejected",
        Duration::from_secs(15),
        |e| e.ecds_stat("update_rejected") >= 1,
    );
    for (id, got) in users.iter().zip(subsets_of(&mut client, &users)) {
        assert_eq!(
            got,
            subset_of(&at_10, id),
            "user {id} after the rejected push"
        );
    }
    traffic.wait_until_answered(traffic.answered() + background.len());
    assert_all_under(&traffic.finish(), &background, &at_10);
    assert!(
        envoy.log().contains("sticky-canary: invalid pluginConfig: routes[0].subsets: weights must sum to 100, got 105 (v1=95, v2=10)"),
        "Envoy log lacks the one-line reason:\n{}",
        envoy.log()
    );
    assert_eq!(
        envoy.ecds_stat("update_success"),
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

    let background = background_users();
    let traffic = Traffic::start(&envoy, &background);
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
            |e| e.ecds_stat("update_rejected") as usize > round,
        );
        let line = format!("sticky-canary: invalid pluginConfig: {reason}");
        envoy.wait_for(
            &format!("the log line for `{name}`"),
            Duration::from_secs(15),
            |e| e.log().lines().any(|l| l.contains(&line)),
        );
        // The previous config still decides every user.
        for id in users.iter().step_by(20) {
            let response = client.get("/", &[("x-user-id", id.as_bytes())]);
            assert_eq!(
                response.served_by(),
                subset_of(&at_10, id),
                "user {id} after `{name}`"
            );
        }
    }
    assert_eq!(envoy.ecds_stat("update_rejected") as usize, bad.len());

    let at_30 = service_a_config(30);
    let window = push_while_flowing(&mut envoy, &traffic, &background, (&at_10, &at_30), |e| {
        e.push_ecds(&at_30)
    });
    let recorded = traffic.finish();
    assert_one_switch(&recorded, &background, &at_10, &at_30, window);
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
        recorded.samples.len()
    );
}

/// With no config accepted yet there is nothing to route by: Envoy answers 500 (documented for
/// admins in the README) until the first good push, after which requests are routed.
#[test]
fn a_first_config_that_is_rejected_fails_requests_until_a_good_one_arrives() {
    let bad = service_a_config(10).replace(r#""weight":10"#, r#""weight":20"#);
    let mut envoy = Envoy::start(Delivery::Ecds, &bad);
    assert_eq!(envoy.ecds_stat("update_rejected"), 1);
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
    assert_eq!(response.served_by(), subset_of(&good, "alice"));
}
