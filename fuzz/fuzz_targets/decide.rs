//! The request plan on arbitrary request data (authority, path with query, key header, cookies
//! in one or two headers, user agent, rule header, token, lane, names in any case) under configs
//! that use every feature: never a panic, always an index the plugin can use, the documented
//! bucket for hash decisions, the rule the decision records, the same answer twice, a tripped
//! guard moving only what it must, and ops that leave the routing header with exactly the
//! subset. An id that `assign` issues is decided again, sent back as its cookie, to the same
//! subset.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::{arbitrary, fuzz_target};
use sticky_canary_core::{
    plan, Assigned, Config, Decision, Inputs, Op, Plan, Reason, Request, Secret,
};

/// At least 32 bytes, as `assign.signed` needs.
const COOKIE_KEY: &[u8] = b"fuzz-cookie-key-of-at-least-32-bytes";

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
    // cookie key `COOKIE_KEY`), a users rule that can only match an id, and a second, unsigned route.
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
                    Secret::new(Some(COOKIE_KEY)),
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
    /// A second `cookie` header, after the first.
    more_cookies: Option<&'a [u8]>,
    user_agent: Option<&'a [u8]>,
    canary: Option<&'a [u8]>,
    token: Option<&'a [u8]>,
    /// Sent as the `x-canary-lane` header and as the `baggage` header.
    lane: Option<&'a [u8]>,
    /// Header names in upper case, as a host that keeps the client's casing hands them over.
    shout: bool,
}

/// The fuzzer's randomness and id, and whether every guard has tripped.
struct Draw {
    random: u32,
    id: [u8; 16],
    tripped: bool,
}

impl Inputs for Draw {
    fn tripped(&self, _route: usize) -> bool {
        self.tripped
    }
    fn random(&self) -> u32 {
        self.random
    }
    fn new_id(&self) -> [u8; 16] {
        self.id
    }
}

type Pairs = Vec<(Vec<u8>, Vec<u8>)>;

fn request(pairs: &Pairs) -> Request<'_> {
    Request::new(
        pairs
            .iter()
            .map(|(n, v)| (n.as_slice(), v.as_slice()))
            .collect(),
    )
}

fn values<'p>(pairs: &'p Pairs, name: &str) -> Vec<&'p [u8]> {
    pairs
        .iter()
        .filter(|(n, _)| n.eq_ignore_ascii_case(name.as_bytes()))
        .map(|(_, v)| v.as_slice())
        .collect()
}

/// The request's headers after the plan's ops, as the host would leave them.
fn after(pairs: &Pairs, plan: &Plan<'_>) -> Pairs {
    let mut out = pairs.clone();
    for op in &plan.ops {
        let name = match op {
            Op::Set(name, _) | Op::Remove(name) => *name,
        };
        out.retain(|(n, _)| !n.eq_ignore_ascii_case(name.as_bytes()));
        if let Op::Set(name, value) = op {
            out.push((name.as_bytes().to_vec(), value.to_vec()));
        }
    }
    out
}

fn decide(config: &Config, pairs: &Pairs, draw: &Draw) -> Option<Decision> {
    plan(config, &request(pairs), draw).decision
}

fuzz_target!(|input: Input<'_>| {
    let configs = configs();
    let config = &configs[usize::from(input.config) % configs.len()];
    let mut pairs: Pairs = Vec::new();
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
        ("cookie", input.more_cookies),
    ] {
        if let Some(value) = value {
            let name = match input.shout && !name.starts_with(':') {
                true => name.to_ascii_uppercase(),
                false => name.to_string(),
            };
            pairs.push((name.into_bytes(), value.to_vec()));
        }
    }
    let armed = Draw {
        random: input.random,
        id: input.id,
        tripped: false,
    };
    let tripped = Draw {
        tripped: true,
        ..armed
    };

    let snapshot = request(&pairs);
    let planned = plan(config, &snapshot, &armed);
    let first = planned.decision;
    assert_eq!(
        first,
        decide(config, &pairs, &armed),
        "the plan is a function of the request"
    );

    // The routing header leaves with exactly the subset, or not at all; every op names a header
    // the configuration owns, or the baggage.
    let out = after(&pairs, &planned);
    let routed = first.map(|d| config.routes[d.route].subsets[d.subset].name.as_bytes());
    assert_eq!(values(&out, &config.routing_header), Vec::from_iter(routed));
    for op in &planned.ops {
        let name = match op {
            Op::Set(name, _) | Op::Remove(name) => *name,
        };
        assert!(
            name == "baggage" || config.owned.headers.iter().any(|h| h.name == name),
            "an op on {name}, which the configuration does not own"
        );
    }
    // The plan is idempotent: the request it leaves with is decided the same and needs no op.
    let left_with = request(&out);
    let replanned = plan(config, &left_with, &armed);
    assert_eq!(
        replanned.decision, first,
        "the ops changed what the decision reads"
    );
    assert_eq!(
        replanned.ops,
        vec![],
        "the plan on its own result still changes headers"
    );

    // A tripped guard moves only decisions for its subset that no token rule made, to the
    // stable one, keeping the bucket.
    let guarded = decide(config, &pairs, &tripped);
    match (first, guarded) {
        (Some(d), Some(g)) => {
            let route = &config.routes[d.route];
            let by_token = d.rule.is_some_and(|i| route.rules[i].require_token);
            let moves = route
                .guard
                .as_ref()
                .is_some_and(|guard| guard.subset == d.subset && !by_token);
            if moves {
                assert_ne!(route.stable_subset, d.subset);
                assert_eq!(
                    (g.route, g.subset, g.reason, g.bucket, g.rule, g.assigned),
                    (
                        d.route,
                        route.stable_subset,
                        Reason::Guard,
                        d.bucket,
                        d.rule,
                        d.assigned
                    )
                );
            } else {
                assert_eq!(g, d);
            }
        }
        (d, g) => assert_eq!(d, g),
    }

    let Some(d) = first else {
        assert_eq!(planned.response, None);
        return;
    };
    let route = &config.routes[d.route];
    let subset = &route.subsets[d.subset];
    match d.assigned {
        Assigned::Other => {}
        Assigned::Sent => assert!(
            !values(&pairs, "cookie").is_empty(),
            "an id sent without a cookie"
        ),
        Assigned::Issued(id) => {
            let assign = route
                .assign
                .as_ref()
                .expect("only assigning routes issue ids");
            assert_eq!(planned.response.and_then(|r| r.issued), Some(id));
            // The visitor sends the id back (and nothing else that could key it).
            let mut back: Pairs = pairs
                .iter()
                .filter(|(n, _)| {
                    !n.eq_ignore_ascii_case(b"x-user-id") && !n.eq_ignore_ascii_case(b"cookie")
                })
                .cloned()
                .collect();
            let mut cookie = assign.cookie.clone();
            cookie.push(b'=');
            cookie.extend(assign.cookie_value(&id));
            back.push((b"cookie".to_vec(), cookie));
            let returned = decide(config, &back, &armed).expect("the same route matches");
            assert_eq!(
                returned.assigned,
                Assigned::Sent,
                "the issued cookie verifies"
            );
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
            assert!(
                !values(&pairs, "cookie").is_empty(),
                "a user without a key was sampled"
            );
        }
    }
    // The rule the decision records chose it, and only rule decisions record one.
    match (d.reason, d.rule) {
        (Reason::Rule | Reason::User, Some(i)) => {
            let rule = &route.rules[i];
            assert_eq!(rule.subset, d.subset);
            assert_eq!(d.reason == Reason::User, rule.users.is_some());
            if rule.require_token {
                assert_eq!(
                    input.token,
                    Some(&b"s3cret"[..]),
                    "a token rule applied without the token"
                );
            }
        }
        (reason, rule) => assert!(
            !matches!(reason, Reason::Rule | Reason::User) && rule.is_none(),
            "reason {reason:?} with rule {rule:?}"
        ),
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
        Reason::Guard => panic!("no guard has tripped"),
        Reason::Rule | Reason::User => {}
    }
});
