#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
//! The decision with `lane` and `mirror`: what a trusted lane decides and what it does not, and
//! which users the mirror sample holds, user by user against the hashing contract.

mod common;

use common::{decide, Given, Headers};
use serde_json::{json, Value};
use sticky_canary_core::{bucket, plan, Config, Decision, Op, Reason};

fn request(headers: &[(&str, &str)]) -> Headers {
    headers
        .iter()
        .fold(Headers::to("servicea.com", "/"), |r, (name, value)| {
            r.with(name, value)
        })
}

/// service-b: v1 90 / v2 10 keyed by x-user-id, a rule sending `x-beta: 1` to v1, a tester rule
/// (`requireToken`) sending `x-qa: 1` to v2, and `extra` merged into the route.
fn route(extra: Value) -> Config {
    let mut route = json!({
        "name": "service-b",
        "subsets": [{"name": "v1", "weight": 90}, {"name": "v2", "weight": 10}],
        "stickiness": {"keys": [{"header": "x-user-id"}]},
        "rules": [
            {"subset": "v1", "match": {"headers": [{"name": "x-beta", "exact": "1"}]}},
            {"subset": "v2", "requireToken": true, "match": {"headers": [{"name": "x-qa", "exact": "1"}]}}
        ]
    });
    for (k, v) in extra.as_object().unwrap() {
        route[k] = v.clone();
    }
    let document = json!({"routes": [route]}).to_string();
    let token = sticky_canary_core::Secret::new(Some(b"s3cret-token-value"));
    Config::from_json_with_token(document.as_bytes(), token).unwrap()
}

/// No random fallback here: every request has a key or a lane, or falls back to stable.
fn decided(config: &Config, headers: &[(&str, &str)]) -> Decision {
    decide(config, &request(headers), &Given::nothing()).unwrap()
}

fn named(config: &Config, d: &Decision) -> (String, Reason) {
    (config.routes[0].subsets[d.subset].name.clone(), d.reason)
}

/// The first user ids `user-N` that hashing puts on `subset` of service-b.
fn users_on(config: &Config, subset: &str, count: usize) -> Vec<String> {
    (0..)
        .map(|i| format!("user-{i}"))
        .filter(|u| named(config, &decided(config, &[("x-user-id", u)])).0 == subset)
        .take(count)
        .collect()
}

#[test]
fn a_trusted_lane_beats_hashing_and_rules_but_not_a_tester_with_the_token() {
    for lane in [
        json!({"header": "x-lane", "trust": true}),
        json!({"baggage": "lane", "trust": true}),
    ] {
        let config = route(json!({"lane": lane}));
        let carry = |value: &str| -> (&'static str, String) {
            if lane.get("header").is_some() {
                ("x-lane", value.to_string())
            } else {
                (
                    "baggage",
                    format!("userId=x;p=1, lane = {value};prop, other=%20"),
                )
            }
        };
        for user in users_on(&config, "v1", 20) {
            let (name, value) = carry("v2");
            let d = decided(&config, &[("x-user-id", &user), (name, &value)]);
            assert_eq!(named(&config, &d), ("v2".into(), Reason::Lane), "{user}");
            assert_eq!(d.bucket, None);
            let d = decided(
                &config,
                &[("x-user-id", &user), (name, &value), ("x-beta", "1")],
            );
            assert_eq!(named(&config, &d), ("v2".into(), Reason::Lane), "a rule");
        }
        for user in users_on(&config, "v2", 20) {
            let (name, value) = carry("v1");
            let d = decided(&config, &[("x-user-id", &user), (name, &value)]);
            assert_eq!(named(&config, &d), ("v1".into(), Reason::Lane));
            let with_token = [
                ("x-user-id", user.as_str()),
                (name, value.as_str()),
                ("x-qa", "1"),
                ("x-canary-token", "s3cret-token-value"),
            ];
            let d = decided(&config, &with_token);
            assert_eq!(
                named(&config, &d),
                ("v2".into(), Reason::Rule),
                "the tester"
            );
            let d = decided(&config, &with_token[..3]);
            assert_eq!(named(&config, &d), ("v1".into(), Reason::Lane), "no token");
        }
        // No key at all: the lane still decides.
        let (name, value) = carry("v2");
        let d = decided(&config, &[(name, &value)]);
        assert_eq!(named(&config, &d), ("v2".into(), Reason::Lane));
    }
}

#[test]
fn a_lane_naming_no_subset_here_goes_to_stable_or_is_decided_as_without_a_lane() {
    let stable = route(json!({"lane": {"header": "x-lane", "trust": true}}));
    let decide_here =
        route(json!({"lane": {"header": "x-lane", "trust": true, "fallback": "decide"}}));
    let none = route(json!({}));
    for user in users_on(&none, "v2", 20) {
        for lane in ["v3", "V2", "v2 ", "%76%32"] {
            let headers = [("x-user-id", user.as_str()), ("x-lane", lane)];
            let d = decided(&stable, &headers);
            assert_eq!(named(&stable, &d), ("v1".into(), Reason::Lane), "{lane:?}");
            let d = decided(&decide_here, &headers);
            assert_eq!(
                named(&decide_here, &d),
                ("v2".into(), Reason::Hash),
                "{lane:?}"
            );
            assert_eq!(d, decided(&none, &headers));
        }
        // An absent or empty lane is no lane: the route decides as it would without one.
        for headers in [
            vec![("x-user-id", user.as_str())],
            vec![("x-user-id", user.as_str()), ("x-lane", "")],
        ] {
            assert_eq!(decided(&stable, &headers), decided(&none, &headers));
        }
        let d = decided(&stable, &[("x-user-id", &user), ("x-beta", "1")]);
        assert_eq!(named(&stable, &d), ("v1".into(), Reason::Rule));
    }
    // The baggage value is percent-decoded: v%32 is v2.
    let baggage = route(json!({"lane": {"baggage": "lane", "trust": true}}));
    let d = decided(&baggage, &[("baggage", "lane=v%32")]);
    assert_eq!(named(&baggage, &d), ("v2".into(), Reason::Lane));
}

#[test]
fn an_untrusted_lane_is_ignored_by_the_decision() {
    let config = route(json!({"lane": {"header": "x-lane"}}));
    let none = route(json!({}));
    for user in users_on(&none, "v1", 20) {
        let headers = [("x-user-id", user.as_str()), ("x-lane", "v2")];
        assert_eq!(decided(&config, &headers), decided(&none, &headers));
    }
}

#[test]
fn the_mirror_sample_is_the_contract_bucket_under_the_mirror_salt() {
    let config = route(json!({"mirror": {"subset": "v2", "percent": 25.5, "header": "x-mirror"}}));
    let (mut sampled, mut on_v2) = (0, 0);
    for i in 0..4000 {
        let user = format!("u{i}");
        let d = decided(&config, &[("x-user-id", &user)]);
        let in_sample = bucket(b"service-b:mirror", user.as_bytes()) < 2550;
        let served_by_v2 = named(&config, &d).0 == "v2";
        assert_eq!(d.mirror, in_sample && !served_by_v2, "{user}");
        sampled += usize::from(in_sample);
        on_v2 += usize::from(served_by_v2 && in_sample);
    }
    assert!((900..=1140).contains(&sampled), "{sampled} of 4000 sampled");
    assert!(
        on_v2 > 0,
        "some sampled users are served by v2 and not marked"
    );
    // No key: nobody to sample.
    let keyless = route(json!({
        "mirror": {"subset": "v2", "percent": 100, "header": "x-mirror"},
        "stickiness": {"keys": [{"header": "x-user-id"}], "fallback": "stable"}
    }));
    assert!(!decided(&keyless, &[]).mirror);
    // 100 % marks every user not on v2, 0 % none; a salt of its own moves the sample.
    let all = route(json!({"mirror": {"subset": "v2", "percent": 100, "header": "x-mirror"}}));
    let nobody = route(json!({"mirror": {"subset": "v2", "percent": 0, "header": "x-mirror"}}));
    for user in users_on(&config, "v1", 50) {
        assert!(decided(&all, &[("x-user-id", &user)]).mirror);
        assert!(!decided(&nobody, &[("x-user-id", &user)]).mirror);
    }
    let salted = route(json!({
        "mirror": {"subset": "v1", "percent": 50, "header": "x-mirror"},
        "stickiness": {"keys": [{"header": "x-user-id"}], "salt": "pepper"}
    }));
    for user in users_on(&salted, "v2", 50) {
        let expected = bucket(b"pepper:mirror", user.as_bytes()) < 5000;
        assert_eq!(decided(&salted, &[("x-user-id", &user)]).mirror, expected);
    }
}

#[test]
fn a_tripped_guard_sends_the_lane_to_stable_and_never_marks_a_mirror_to_it() {
    let config = route(json!({
        "lane": {"header": "x-lane", "trust": true},
        "guard": {"subset": "v2", "maxErrorRate": 0.05},
        "mirror": {"subset": "v1", "percent": 100, "header": "x-mirror"}
    }));
    for user in users_on(&config, "v1", 10) {
        let headers = request(&[("x-user-id", &user), ("x-lane", "v2")]);
        let open = decide(&config, &headers, &Given::nothing()).unwrap();
        assert_eq!(named(&config, &open), ("v2".into(), Reason::Lane));
        assert!(open.mirror, "every user not on v1 is marked at 100 %");
        let tripped = decide(&config, &headers, &Given::nothing().tripped(|_| true)).unwrap();
        assert_eq!(named(&config, &tripped), ("v1".into(), Reason::Guard));
        assert!(!tripped.mirror, "served by the mirror subset: not marked");
    }
}

/// A decision as the subset's name and the reason.
type Named<'c> = (&'c str, Reason);

/// What requests leave with, op by op: every header the configuration writes gets the value the
/// decision gives it or goes, on the lane's route, on another route and on none; a client's
/// lane passes only where a route trusts it.
#[test]
fn owned_headers_leave_with_the_decision_or_not_at_all() {
    let config = Config::from_json(
        json!({"routes": [
            {"name": "edge", "match": {"hosts": ["edge.com"]},
             "subsets": [{"name": "v1", "weight": 100}, {"name": "v2", "weight": 0}],
             "stickiness": {"keys": [{"header": "x-user-id"}]},
             "lane": {"header": "x-canary-lane"},
             "mirror": {"subset": "v2", "percent": 100, "header": "x-canary-mirror"}},
            {"name": "inner", "match": {"hosts": ["inner.com"]},
             "subsets": [{"name": "v1", "weight": 100}, {"name": "v2", "weight": 0}],
             "stickiness": {"keys": [{"header": "x-user-id"}]},
             "lane": {"baggage": "canary-lane", "trust": true}},
            {"name": "bag", "match": {"hosts": ["bag.com"]},
             "subsets": [{"name": "v1", "weight": 100}, {"name": "v2", "weight": 0}],
             "stickiness": {"keys": [{"header": "x-user-id"}]},
             "lane": {"baggage": "canary-lane"}}
        ]})
        .to_string()
        .as_bytes(),
    )
    .unwrap();
    let forged = |host: &str, baggage: &str| {
        Headers::to(host, "/")
            .with("x-user-id", "u1")
            .with("X-Canary-Subset", "v2")
            .with("x-canary-lane", "v2")
            .also("X-Canary-Lane", "v2")
            .with("x-canary-mirror", "v9")
            .with("baggage", baggage)
    };
    let set = |name: &'static str, value: &'static str| Op::Set(name, value.as_bytes().into());
    let cases: Vec<(&str, Headers, Option<Named>, Vec<Op<'static>>)> = vec![
        (
            "the lane's route writes its lane and the mark, strips a baggage lane",
            forged("edge.com", "canary-lane=v2,k=1"),
            Some(("v1", Reason::Hash)),
            vec![
                set("x-canary-subset", "v1"),
                set("x-canary-lane", "v1"),
                set("x-canary-mirror", "v2"),
                set("baggage", "k=1"),
            ],
        ),
        (
            "no route: every owned header and member goes",
            forged("other.com", "k=1, canary%2Dlane=v2;p, canary-lane = v2"),
            None,
            vec![
                Op::Remove("x-canary-subset"),
                Op::Remove("x-canary-lane"),
                Op::Remove("x-canary-mirror"),
                set("baggage", "k=1"),
            ],
        ),
        (
            "a route trusting the baggage lane keeps it, but not another route's header lane; \
             the routing header already holds the subset, once: no op",
            forged("inner.com", "canary%2Dlane=v2,k=1"),
            Some(("v2", Reason::Lane)),
            vec![Op::Remove("x-canary-lane"), Op::Remove("x-canary-mirror")],
        ),
        (
            "an untrusted baggage lane is written over every spelling of its key",
            forged("bag.com", "canary%2Dlane=v2,k=1,canary-lane=v2"),
            Some(("v1", Reason::Hash)),
            vec![
                set("x-canary-subset", "v1"),
                Op::Remove("x-canary-lane"),
                Op::Remove("x-canary-mirror"),
                set("baggage", "canary-lane=v1,k=1"),
            ],
        ),
    ];
    for (name, headers, decided, ops) in cases {
        let request = headers.request();
        let planned = plan(&config, &request, &Given::nothing());
        let got = planned.decision.map(|d| {
            (
                config.routes[d.route].subsets[d.subset].name.as_str(),
                d.reason,
            )
        });
        assert_eq!(got, decided, "{name}");
        assert_eq!(planned.ops, ops, "{name}");
        assert!(!planned.lane_dropped, "{name}");
    }
}
