//! A tripped guard (`Inputs::tripped`): what it changes in a decision, and what it leaves alone.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use common::{decide, Given, Headers};
use sticky_canary_core::{Config, Decision, Reason, Secret};

/// servicea.com `/` unless the headers name another `:path`.
fn request(headers: &[(&str, &str)]) -> Headers {
    headers
        .iter()
        .fold(Headers::to("servicea.com", "/"), |r, (name, value)| {
            r.with(name, value)
        })
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
    let armed = Given::nothing().random(|| 1);
    let plain = decide(config, &r, &armed).unwrap();
    let tripped = Given::nothing().random(|| 1).tripped(|route| route == 1);
    let guarded = decide(config, &r, &tripped).unwrap();
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
    assert_eq!(
        (plain.subset, plain.reason, plain.rule),
        (2, Reason::Rule, Some(1))
    );
    assert_eq!((guarded.subset, guarded.reason), (1, Reason::Guard));

    let (plain, guarded) = both(&config, &[("x-user-id", "alice")]);
    assert_eq!(
        (plain.subset, plain.reason, plain.rule),
        (2, Reason::User, Some(2))
    );
    assert_eq!((guarded.subset, guarded.reason), (1, Reason::Guard));

    let token = [
        ("x-debug", "1"),
        ("x-canary-token", "s3cret"),
        ("x-canary", "true"),
    ];
    let (plain, guarded) = both(&config, &token);
    assert_eq!(
        (plain.subset, plain.reason, plain.rule),
        (2, Reason::Rule, Some(0))
    );
    assert_eq!(guarded, plain, "the token rule still reaches v3");

    // The wrong token: the token rule does not apply, the plain rule does, and is stepped back.
    let wrong = [
        ("x-debug", "1"),
        ("x-canary-token", "guess"),
        ("x-canary", "true"),
    ];
    let (plain, guarded) = both(&config, &wrong);
    assert_eq!(
        (plain.subset, plain.reason, plain.rule),
        (2, Reason::Rule, Some(1))
    );
    assert_eq!((guarded.subset, guarded.reason), (1, Reason::Guard));
}

#[test]
fn only_the_tripped_route_is_affected() {
    let config = config();
    let r = request(&[(":path", "/other"), ("x-user-id", "user-1")]);
    let plain = decide(&config, &r, &Given::nothing()).unwrap();
    assert_eq!(plain.route, 0);
    let all_tripped = Given::nothing().tripped(|_| true);
    assert_eq!(decide(&config, &r, &all_tripped), Some(plain));
}

/// Issue 18 §4: on a trusted-lane route token rules are tried before the lane and before the
/// other rules, so a token rule can choose the canary while an earlier plain rule also matches.
/// The exemption follows the rule that chose, not the first rule in list order that matches.
#[test]
fn a_token_rule_on_a_trusted_lane_route_keeps_its_exemption_when_an_earlier_plain_rule_matches() {
    let config = Config::from_json_with_token(
        br#"{"routes":[{"name":"service-b","subsets":[{"name":"v1","weight":60},{"name":"v2","weight":40},{"name":"v3","weight":0}],
            "stickiness":{"keys":[{"header":"x-user-id"}],"fallback":"stable"},
            "lane":{"header":"x-lane","trust":true},
            "guard":{"subset":"v3","maxErrorRate":0.05},
            "rules":[{"subset":"v3","match":{"headers":[{"name":"x-canary","exact":"true"}]}},
                     {"subset":"v3","requireToken":true,"match":{"headers":[{"name":"x-debug","present":true}]}}]}]}"#,
        Secret::new(Some(b"s3cret")),
    )
    .unwrap();
    let tripped = Given::nothing().tripped(|route| route == 0);
    let tester = [
        ("x-canary", "true"),
        ("x-debug", "1"),
        ("x-canary-token", "s3cret"),
    ];
    for lane in [None, Some("v2"), Some("v1")] {
        let mut request = request(&tester);
        if let Some(lane) = lane {
            request = request.with("x-lane", lane);
        }
        let plain = decide(&config, &request, &Given::nothing()).unwrap();
        assert_eq!(
            (plain.subset, plain.reason, plain.rule),
            (2, Reason::Rule, Some(1)),
            "lane {lane:?}: the token rule chose v3"
        );
        let guarded = decide(&config, &request, &tripped).unwrap();
        assert_eq!(guarded, plain, "lane {lane:?}: the tester still reaches v3");
    }

    // Control: the plain rule alone chooses v3 (no lane, no token) and is stepped back.
    let plain_rule = request(&[("x-canary", "true")]);
    let plain = decide(&config, &plain_rule, &Given::nothing()).unwrap();
    assert_eq!((plain.subset, plain.rule), (2, Some(0)));
    let guarded = decide(&config, &plain_rule, &tripped).unwrap();
    assert_eq!((guarded.subset, guarded.reason), (0, Reason::Guard));
    // Without the token the lane decides, and the plain rule never runs.
    let no_token = request(&[("x-canary", "true"), ("x-debug", "1"), ("x-lane", "v2")]);
    let lane = decide(&config, &no_token, &tripped).unwrap();
    assert_eq!(
        (lane.subset, lane.reason, lane.rule),
        (1, Reason::Lane, None)
    );
}
