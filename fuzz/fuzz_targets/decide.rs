//! The decision on arbitrary request data (authority, path with query, key header, cookie, user
//! agent, rule header) under configs that use every feature: never a panic, always an index the
//! plugin can use, the documented bucket for hash decisions, and the same answer twice. An id
//! that `assign` issues is decided again, sent back as its cookie, to the same subset.
#![no_main]

use std::collections::HashMap;
use std::sync::OnceLock;

use libfuzzer_sys::{arbitrary, fuzz_target};
use sticky_canary_core::{
    decide_with_ids, guard_step_back, Assigned, Config, Reason, RequestHeaders, Secret,
};

const CONFIGS: &[&str] = &[
    // Every matcher kind, both rule kinds, three key sources, random fallback.
    r#"{"routingHeader":"X-Canary-Subset","exposeSubset":true,"routes":[{"name":"service-a","match":{"hosts":["servicea.com","*.svc.cluster.local"],"pathPrefix":"/"},"subsets":[{"name":"v1","weight":90},{"name":"v2","weight":10}],"stickiness":{"keys":[{"header":"x-user-id"},{"cookie":"uid"},{"query":"uid"}],"salt":"service-a","fallback":"random"},"rules":[{"subset":"v2","users":["alice","bob"]},{"subset":"v2","match":{"headers":[{"name":"x-canary","exact":"true"}],"cookies":[{"name":"beta","regex":"^(1|yes)$"}],"query":[{"name":"version","exact":"v2"}],"path":{"prefix":"/api/v2"},"os":["iOS","Android"]}}]}]}"#,
    // Several routes, zero weights, stable fallback, suffix/contains/present/ignoreCase matchers.
    r#"{"routes":[{"name":"api","match":{"pathPrefix":"/api"},"subsets":[{"name":"v1","weight":0},{"name":"v2","weight":33.33},{"name":"v3","weight":66.67}],"stickiness":{"keys":[{"query":"uid"},{"cookie":"uid"}],"fallback":"stable"},"rules":[{"subset":"v1","match":{"headers":[{"name":"x-canary","suffix":"ON","ignoreCase":true}],"path":{"contains":"%"}}},{"subset":"v3","users":["\u00ff","a b"],"match":{"cookies":[{"name":"beta","present":false}]}}]},{"name":"any","subsets":[{"name":"only","weight":100}],"stickiness":{"keys":[{"header":"x-user-id"}],"salt":"s"},"rules":[{"subset":"only","match":{"query":[{"name":"v","regex":"(?i)^\\w+$"}],"os":["Windows","macOS","Linux"]}}]}]}"#,
    // Override rules behind the shared secret (the target compiles every config with the token
    // "s3cret"), one of them renamed to another header.
    r#"{"tokenHeader":"x-canary-token","routes":[{"name":"qa","subsets":[{"name":"v1","weight":99.99},{"name":"v2","weight":0.01}],"stickiness":{"keys":[{"header":"x-user-id"},{"cookie":"uid"}]},"guard":{"subset":"v2","maxErrorRate":0.05},"rules":[{"subset":"v2","requireToken":true,"match":{"headers":[{"name":"x-canary","present":true}]}},{"subset":"v2","requireToken":true,"users":["qa-1","\u0000"]},{"subset":"v1","requireToken":false,"match":{"cookies":[{"name":"uid","prefix":"x"}]}}]}]}"#,
    // Unleash's gradual-rollout bucketing in place of the default contract.
    r#"{"routes":[{"name":"unleash","subsets":[{"name":"off","weight":70},{"name":"on","weight":30}],"stickiness":{"keys":[{"header":"x-user-id"},{"cookie":"uid"}],"bucketing":{"unleash":{"groupId":"feature-x"}}}}]}"#,
    // Anonymous visitors get a signed id cookie (the target compiles every config with the
    // cookie key "k3y"), a users rule that can only match an id, and a second, unsigned route.
    r#"{"routes":[{"name":"signed","match":{"pathPrefix":"/s"},"subsets":[{"name":"v1","weight":80},{"name":"v2","weight":20}],"stickiness":{"keys":[{"header":"x-user-id"},{"cookie":"canary-uid"}],"assign":{"cookie":"canary-uid","maxAge":60,"header":"x-canary-uid","signed":true,"secure":true,"sameSite":"None"}},"rules":[{"subset":"v2","users":["AAAAAAAAAAAAAAAAAAAAAA"]}]},{"name":"plain","subsets":[{"name":"v1","weight":50},{"name":"v2","weight":50}],"stickiness":{"keys":[{"cookie":"uid"},{"query":"uid"}],"assign":{"cookie":"uid","maxAge":1}}}]}"#,
    // A trusted baggage lane (stable fallback) behind a token rule, and a mirror sample.
    r#"{"routes":[{"name":"inner","subsets":[{"name":"v1","weight":80},{"name":"v2","weight":20}],"stickiness":{"keys":[{"header":"x-user-id"}]},"lane":{"baggage":"canary-lane","trust":true},"mirror":{"subset":"v2","percent":12.34,"header":"x-canary-mirror"},"rules":[{"subset":"v2","requireToken":true,"match":{"headers":[{"name":"x-canary","present":true}]}}]}]}"#,
    // A trusted header lane that falls back to the route's own decision; an edge lane and a
    // mirror to the stable subset on another route.
    r#"{"routes":[{"name":"inner-h","match":{"pathPrefix":"/h"},"subsets":[{"name":"v1","weight":50},{"name":"v2","weight":50}],"stickiness":{"keys":[{"header":"x-user-id"}]},"lane":{"header":"x-canary-lane","trust":true,"fallback":"decide"}},{"name":"edge","subsets":[{"name":"v1","weight":50},{"name":"v2","weight":50}],"stickiness":{"keys":[{"header":"x-user-id"},{"cookie":"uid"}]},"lane":{"header":"x-canary-lane"},"mirror":{"subset":"v1","percent":100,"header":"x-canary-mirror"}}]}"#,
    // No route matches some hosts at all.
    r#"{"routes":[{"name":"exact-host","match":{"hosts":["a.example.com","[::1]"]},"subsets":[{"name":"v1","weight":50},{"name":"v2","weight":50}],"stickiness":{"keys":[{"cookie":"uid"}]}}]}"#,
];

fn configs() -> &'static [Config] {
    static COMPILED: OnceLock<Vec<Config>> = OnceLock::new();
    COMPILED.get_or_init(|| {
        CONFIGS
            .iter()
            .map(|json| {
                Config::from_json_with_secrets(
                    json.as_bytes(),
                    Secret::new(Some(b"s3cret")),
                    Secret::new(Some(b"k3y")),
                )
                .expect("fuzz config is valid")
            })
            .collect()
    })
}

#[derive(arbitrary::Arbitrary, Debug)]
struct Input<'a> {
    config: u8,
    random: u32,
    id: [u8; 16],
    authority: Option<&'a [u8]>,
    path: Option<&'a [u8]>,
    user_id: Option<&'a [u8]>,
    cookie: Option<&'a [u8]>,
    user_agent: Option<&'a [u8]>,
    canary: Option<&'a [u8]>,
    token: Option<&'a [u8]>,
    /// Sent as the `x-canary-lane` header and as the `baggage` header.
    lane: Option<&'a [u8]>,
}

struct Headers(HashMap<&'static str, Vec<u8>>);

impl RequestHeaders for Headers {
    fn header(&self, name: &str) -> Option<Vec<u8>> {
        self.0.get(name).cloned()
    }
}

fuzz_target!(|input: Input<'_>| {
    let configs = configs();
    let config = &configs[usize::from(input.config) % configs.len()];
    let mut headers = HashMap::new();
    for (name, value) in [
        (":authority", input.authority),
        (":path", input.path),
        ("x-user-id", input.user_id),
        ("cookie", input.cookie),
        ("user-agent", input.user_agent),
        ("x-canary", input.canary),
        ("x-canary-token", input.token),
        ("x-canary-lane", input.lane),
        ("baggage", input.lane),
    ] {
        if let Some(value) = value {
            headers.insert(name, value.to_vec());
        }
    }
    let request = Headers(headers);

    let decide = |request: &Headers| {
        decide_with_ids(config, request, || input.random, || input.id)
    };
    let first = decide(&request);
    let again = decide(&request);
    assert_eq!(first, again, "the decision is a function of the request");
    // A tripped guard moves only decisions for its subset, to the stable one, keeping the bucket.
    let guarded = first.map(|d| guard_step_back(config, &request, d, |_| true));
    match (first, guarded) {
        (Some(d), Some(g)) if g != d => {
            let route = &config.routes[d.route];
            let guard = route.guard.as_ref().expect("only a guard moves a decision");
            assert_eq!(d.subset, guard.subset);
            assert_eq!(
                (g.route, g.subset, g.reason, g.bucket),
                (d.route, route.stable_subset, Reason::Guard, d.bucket)
            );
        }
        (d, g) => assert_eq!(d, g),
    }
    let Some(d) = first else { return };
    let route = &config.routes[d.route];
    let subset = &route.subsets[d.subset];
    match d.assigned {
        Assigned::Other => {}
        Assigned::Sent => assert!(request.0.contains_key("cookie"), "an id sent without a cookie"),
        Assigned::Issued(id) => {
            let assign = route.assign.as_ref().expect("only assigning routes issue ids");
            // The visitor sends the id back (and nothing else that could key it).
            let mut back = request.0.clone();
            back.remove("x-user-id");
            let mut cookie = assign.cookie.clone();
            cookie.push(b'=');
            cookie.extend(assign.cookie_value(&id));
            back.insert("cookie", cookie);
            let returned = decide(&Headers(back)).expect("the same route matches");
            assert_eq!(returned.assigned, Assigned::Sent, "the issued cookie verifies");
            assert_eq!(
                (returned.route, returned.subset, returned.bucket),
                (d.route, d.subset, d.bucket)
            );
        }
    }
    if d.mirror {
        let mirror = route
            .mirror
            .as_ref()
            .expect("a mirror mark on a route with mirror");
        assert_ne!(mirror.subset, d.subset, "never mirrored to its own subset");
        let key = input.user_id.filter(|k| !k.is_empty());
        // Only header keys in the mirroring configs: a cookie key is checked for presence.
        if let Some(key) = key {
            assert!(sticky_canary_core::bucket(&mirror.salt, key) < mirror.threshold);
        } else {
            assert!(input.cookie.is_some(), "a user without a key was sampled");
        }
    }
    match d.reason {
        Reason::Hash => {
            let b = d.bucket.expect("a hash decision has a bucket");
            assert!(u32::from(b) < sticky_canary_core::BUCKETS);
            assert_eq!(route.layout.subset_for(b), d.subset);
            assert!(
                subset.weight > 0,
                "hashing never picks a subset without weight"
            );
        }
        Reason::Fallback => assert!(subset.weight > 0),
        Reason::Lane => {
            let lane = route
                .lane
                .as_ref()
                .expect("reason lane on a route with a lane");
            assert!(lane.trust, "only a trusted lane decides");
            assert!(input.lane.is_some_and(|l| !l.is_empty()), "no lane came in");
        }
        Reason::Guard => panic!("decide alone never gives reason guard"),
        Reason::Rule | Reason::User => {
            assert!(!route.rules.is_empty());
            let needs_token = route.rules.iter().all(|r| r.require_token);
            if needs_token {
                assert_eq!(
                    input.token,
                    Some(&b"s3cret"[..]),
                    "a token rule applied without the token"
                );
            }
        }
    }
});
