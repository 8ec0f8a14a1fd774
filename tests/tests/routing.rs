//! Routing in the real Envoy follows the filter's decision (inline pluginConfig).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use sticky_canary_e2e::{
    expected_subset, service_a_config, service_a_json, users_on, Delivery, Envoy,
};

fn user(i: usize) -> String {
    format!("user-{i:05}")
}

#[test]
fn distinct_users_split_by_weight_and_each_is_served_by_the_chosen_subset() {
    let config = service_a_config(10);
    let envoy = Envoy::start(Delivery::Inline, &config);
    let mut client = envoy.front();
    let users = 2000;
    let mut on_v2 = 0;
    for i in 0..users {
        let id = user(i);
        let response = client.get("/", &[("x-user-id", id.as_bytes())]);
        assert_eq!(response.status, 200);
        let expected = expected_subset(&config, "/", &[("x-user-id", id.as_bytes())]).unwrap();
        assert_eq!(response.served_by(), expected, "user {id}");
        assert_eq!(
            response.received_subset(),
            Some(expected.as_str()),
            "user {id}"
        );
        assert_eq!(
            response.body,
            if expected == "v1" { b"A\n" } else { b"B\n" }
        );
        on_v2 += usize::from(expected == "v2");
    }
    let share = on_v2 as f64 * 100.0 / users as f64;
    assert!(
        (8.0..=12.0).contains(&share),
        "v2 got {share:.2} % of {users} users, want 10 ± 2"
    );
}

#[test]
fn a_user_gets_the_same_subset_every_time() {
    let config = service_a_config(50);
    let envoy = Envoy::start(Delivery::Inline, &config);
    let mut client = envoy.front();
    for i in 0..200 {
        let id = user(i);
        let first = client
            .get("/", &[("x-user-id", id.as_bytes())])
            .served_by()
            .to_string();
        for _ in 0..4 {
            let again = client.get("/", &[("x-user-id", id.as_bytes())]);
            assert_eq!(again.served_by(), first, "user {id} changed subset");
        }
        // The same user through the cookie and the query parameter lands on the same subset.
        let cookie = format!("theme=dark; uid={id}");
        assert_eq!(
            client
                .get("/", &[("cookie", cookie.as_bytes())])
                .served_by(),
            first
        );
        assert_eq!(
            client.get(&format!("/page?uid={id}"), &[]).served_by(),
            first
        );
    }
}

#[test]
fn a_forged_routing_header_is_overwritten_in_both_directions() {
    let config = service_a_config(50);
    let envoy = Envoy::start(Delivery::Inline, &config);
    let mut client = envoy.front();
    for (subset, forged) in [("v1", "v2"), ("v2", "v1")] {
        for id in users_on(&config, subset, 20) {
            let id = id.as_bytes();
            let forgeries: [&[(&str, &[u8])]; 4] = [
                &[("x-user-id", id), ("x-canary-subset", forged.as_bytes())],
                &[("x-user-id", id), ("X-Canary-Subset", forged.as_bytes())],
                &[
                    ("x-user-id", id),
                    ("x-canary-subset", forged.as_bytes()),
                    ("x-canary-subset", forged.as_bytes()),
                ],
                &[("x-user-id", id), ("x-canary-subset", b"v3")],
            ];
            for headers in forgeries {
                let response = client.get("/", headers);
                assert_eq!(response.served_by(), subset);
                assert_eq!(response.received_subset(), Some(subset));
            }
        }
    }
}

#[test]
fn requests_without_a_key_fall_back_randomly_by_weight_or_to_the_stable_subset() {
    let random = service_a_config(30);
    let envoy = Envoy::start(Delivery::Inline, &random);
    let mut client = envoy.front();
    let requests = 1000;
    let on_v2 = (0..requests)
        .filter(|_| {
            let response = client.get("/", &[]);
            assert_eq!(response.received_subset(), Some(response.served_by()));
            response.served_by() == "v2"
        })
        .count();
    let share = on_v2 as f64 * 100.0 / requests as f64;
    assert!(
        (24.0..=36.0).contains(&share),
        "random fallback sent {share:.1} % to v2, want 30 ± 6"
    );
    drop(envoy);

    let mut stable = service_a_json(30);
    stable["routes"][0]["stickiness"]["fallback"] = "stable".into();
    let stable = stable.to_string();
    let envoy = Envoy::start(Delivery::Inline, &stable);
    let mut client = envoy.front();
    for _ in 0..200 {
        let response = client.get("/", &[("x-user-id", b"")]);
        assert_eq!(response.served_by(), "v1");
        assert_eq!(response.received_subset(), Some("v1"));
    }
    drop(envoy);

    // After a full cutover the stable fallback follows it: the first subset with a weight.
    let mut cut_over = service_a_json(100);
    cut_over["routes"][0]["stickiness"]["fallback"] = "stable".into();
    let envoy = Envoy::start(Delivery::Inline, &cut_over.to_string());
    let mut client = envoy.front();
    for _ in 0..50 {
        assert_eq!(client.get("/", &[]).served_by(), "v2");
    }
}

#[test]
fn a_key_cookie_in_a_second_cookie_header_decides_over_http1() {
    // service-a reads x-user-id, then the uid cookie, then the query: with only a cookie, the
    // uid in the second `Cookie` header is the key. The filter reads the whole header map, so a
    // browser extension or proxy that splits cookies into several headers changes nothing.
    let config = service_a_config(50);
    let envoy = Envoy::start(Delivery::Inline, &config);
    let mut client = envoy.front();
    let (mut checked, mut on_v2) = (0, 0);
    for i in 0..200 {
        let id = user(i);
        let second = format!("uid={id}");
        let response = client.get(
            "/",
            &[("cookie", b"theme=dark"), ("cookie", second.as_bytes())],
        );
        let expected = expected_subset(&config, "/", &[("cookie", second.as_bytes())]).unwrap();
        assert_eq!(response.served_by(), expected, "user {id}");
        checked += 1;
        on_v2 += usize::from(expected == "v2");
    }
    // Both subsets were seen, so the cookie decided (a missed key would take one fallback).
    assert!(
        checked == 200 && on_v2 > 50 && on_v2 < 150,
        "v2 got {on_v2} of 200"
    );
}
