//! `decide_guarded`: what a tripped guard changes in a decision, and what it leaves alone.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::collections::HashMap;

use sticky_canary_core::{
    decide, decide_guarded, Config, Decision, Reason, RequestHeaders, Secret,
};

struct Headers(HashMap<String, Vec<u8>>);

impl RequestHeaders for Headers {
    fn header(&self, name: &str) -> Option<Vec<u8>> {
        self.0.get(name).cloned()
    }
}

fn request(headers: &[(&str, &str)]) -> Headers {
    let mut map: HashMap<String, Vec<u8>> = headers
        .iter()
        .map(|(n, v)| (n.to_string(), v.as_bytes().to_vec()))
        .collect();
    map.entry(":path".into()).or_insert_with(|| b"/".to_vec());
    map.entry(":authority".into())
        .or_insert_with(|| b"servicea.com".to_vec());
    Headers(map)
}

/// A route without a guard, then v1/v2/v3 by weight, guard on v3; a token rule, a plain rule and a users rule to v3.
fn config() -> Config {
    Config::from_json_with_token(
        br#"{"routes":[{"name":"other","match":{"pathPrefix":"/other"},"subsets":[{"name":"v1","weight":50},{"name":"v2","weight":50}],
            "stickiness":{"keys":[{"header":"x-user-id"}]}},
            {"name":"service-a","subsets":[{"name":"v1","weight":0},{"name":"v2","weight":60},{"name":"v3","weight":40}],
            "stickiness":{"keys":[{"header":"x-user-id"}],"fallback":"random"},
            "guard":{"subset":"v3","maxErrorRate":0.05},
            "rules":[{"subset":"v3","requireToken":true,"match":{"headers":[{"name":"x-debug","present":true}]}},
                     {"subset":"v3","match":{"headers":[{"name":"x-canary","exact":"true"}]}},
                     {"subset":"v3","users":["alice"]}]}]}"#,
        Secret::new(Some(b"s3cret")),
    )
    .unwrap()
}

fn both(config: &Config, headers: &[(&str, &str)]) -> (Decision, Decision) {
    let r = request(headers);
    let plain = decide(config, &r, || 1).unwrap();
    let guarded = decide_guarded(config, &r, || 1, |route| route == 1).unwrap();
    assert_eq!(
        decide_guarded(config, &r, || 1, |_| false),
        Some(plain),
        "an armed guard changes nothing"
    );
    (plain, guarded)
}

#[test]
fn hashed_users_of_the_guarded_subset_go_to_the_stable_subset_keeping_their_bucket() {
    let config = config();
    let (mut moved, mut kept) = (0, 0);
    for i in 0..2_000 {
        let user = format!("user-{i}");
        let (plain, guarded) = both(&config, &[("x-user-id", &user)]);
        assert_eq!(plain.reason, Reason::Hash);
        if plain.subset == 2 {
            // v2 is the stable subset: the first with a weight above 0.
            assert_eq!(
                guarded,
                Decision {
                    subset: 1,
                    reason: Reason::Guard,
                    ..plain
                },
                "{user}"
            );
            moved += 1;
        } else {
            assert_eq!(guarded, plain, "{user}");
            kept += 1;
        }
    }
    assert!(moved > 600 && kept > 1_000, "moved {moved}, kept {kept}");
}

#[test]
fn a_random_fallback_to_the_guarded_subset_goes_to_the_stable_subset() {
    let config = config();
    // Bucket 1 is in v3's range (the newest subset takes the low buckets).
    let (plain, guarded) = both(&config, &[]);
    assert_eq!((plain.subset, plain.reason), (2, Reason::Fallback));
    assert_eq!(
        (guarded.subset, guarded.reason, guarded.bucket),
        (1, Reason::Guard, plain.bucket)
    );
}

#[test]
fn plain_and_users_rules_are_stepped_back_but_token_rules_still_reach_the_canary() {
    let config = config();
    let (plain, guarded) = both(&config, &[("x-canary", "true")]);
    assert_eq!((plain.subset, plain.reason), (2, Reason::Rule));
    assert_eq!((guarded.subset, guarded.reason), (1, Reason::Guard));

    let (plain, guarded) = both(&config, &[("x-user-id", "alice")]);
    assert_eq!((plain.subset, plain.reason), (2, Reason::User));
    assert_eq!((guarded.subset, guarded.reason), (1, Reason::Guard));

    let token = [
        ("x-debug", "1"),
        ("x-canary-token", "s3cret"),
        ("x-canary", "true"),
    ];
    let (plain, guarded) = both(&config, &token);
    assert_eq!((plain.subset, plain.reason), (2, Reason::Rule));
    assert_eq!(guarded, plain, "the token rule still reaches v3");

    // The wrong token: the token rule does not apply, the plain rule does, and is stepped back.
    let wrong = [
        ("x-debug", "1"),
        ("x-canary-token", "guess"),
        ("x-canary", "true"),
    ];
    let (plain, guarded) = both(&config, &wrong);
    assert_eq!((plain.subset, plain.reason), (2, Reason::Rule));
    assert_eq!((guarded.subset, guarded.reason), (1, Reason::Guard));
}

#[test]
fn only_the_tripped_route_is_affected() {
    let config = config();
    let r = request(&[(":path", "/other"), ("x-user-id", "user-1")]);
    let plain = decide(&config, &r, || 0).unwrap();
    assert_eq!(plain.route, 0);
    assert_eq!(decide_guarded(&config, &r, || 0, |_| true), Some(plain));
}
