//! The per-request decision: content rules first, then the stickiness key's bucket, then the
//! route's fallback; a trusted lane before all but `requireToken` rules; a tripped guard last.
//! Callers reach it through [`crate::plan`], which also says what the request leaves with.

use std::borrow::Cow;
use std::cell::OnceCell;

use crate::assign::{NewId, ID_BYTES};
use crate::config::{Condition, Config, Fallback, KeySource, LaneFallback, Route, Rule};
use crate::hash::BUCKETS;
use crate::request::Request;

/// Why a subset was chosen; one metric per route, subset and reason.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Reason {
    /// A rule's `match` conditions held.
    Rule,
    /// The stickiness key is in a rule's `users`.
    User,
    /// The stickiness key's bucket.
    Hash,
    /// No stickiness key: the route's fallback.
    Fallback,
    /// The route's guard has tripped: the stable subset instead of the guarded one.
    Guard,
    /// A trusted incoming lane (`lane.trust: true`), or its `fallback: stable`.
    Lane,
}

impl Reason {
    pub const ALL: [Reason; 6] = [
        Reason::Rule,
        Reason::User,
        Reason::Hash,
        Reason::Fallback,
        Reason::Guard,
        Reason::Lane,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Reason::Rule => "rule",
            Reason::User => "user",
            Reason::Hash => "hash",
            Reason::Fallback => "fallback",
            Reason::Guard => "guard",
            Reason::Lane => "lane",
        }
    }

    pub fn index(self) -> usize {
        self as usize
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Decision {
    pub route: usize,
    pub subset: usize,
    pub reason: Reason,
    /// The bucket used, for `hash` and `random` fallback decisions.
    pub bucket: Option<u16>,
    /// The index in the route's `rules` of the rule that chose the subset.
    pub rule: Option<usize>,
    /// The route's assigned id (`stickiness.assign`), for the response and the `header` option.
    pub assigned: Assigned,
    /// The user is in the route's mirror sample and not served by the mirror subset.
    pub mirror: bool,
}

/// Where the request's key stands with the route's `assign`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Assigned {
    /// No id of this route: it does not assign, or the key came from another source.
    Other,
    /// The visitor sent the id cookie (verified, when signed): nothing to issue.
    Sent,
    /// A new id was issued for this request; the response must hand it over.
    Issued(NewId),
}

/// What a request's decision draws on besides the request: the guards' state, randomness and the
/// schedules' clock.
pub trait Inputs {
    /// Whether the guard of route `route` (an index) has tripped.
    fn tripped(&self, route: usize) -> bool;
    /// A number for the `random` fallback; asked at most once, and only by that fallback.
    fn random(&self) -> u32;
    /// The 128 random bits of an id `assign` issues; asked at most once, only when one is.
    fn new_id(&self) -> [u8; ID_BYTES];
    /// The subset owning `bucket` on route `route` (an index) under its `schedule` now; asked
    /// only for a route with a schedule. `None` (what inputs without a clock answer): the
    /// route's own weights.
    fn scheduled(&self, _route: usize, _bucket: u16) -> Option<usize> {
        None
    }
}

/// Inputs with fixed values, for tools and tests that decide without a host: no guard has
/// tripped, `random` is `random`, every new id is `id`, and no clock: a schedule's route has its
/// own weights, as before its start ([`crate::schedule::At`] puts a time around it).
#[derive(Clone, Copy, Debug, Default)]
pub struct Fixed {
    pub random: u32,
    pub id: [u8; ID_BYTES],
}

impl Inputs for Fixed {
    fn tripped(&self, _route: usize) -> bool {
        false
    }

    fn random(&self) -> u32 {
        self.random
    }

    fn new_id(&self) -> [u8; ID_BYTES] {
        self.id
    }
}

/// A decision, and the id the visitor sent when it verified (for `assign.header`).
pub(crate) struct Decided<'r> {
    pub decision: Decision,
    pub sent_id: Option<&'r [u8]>,
}

/// Decides for one request. `None`: no route matches.
pub(crate) fn decide<'r>(
    config: &'r Config,
    request: &'r Request<'r>,
    inputs: &(impl Inputs + ?Sized),
) -> Option<Decided<'r>> {
    let (route_index, route) = config
        .routes
        .iter()
        .enumerate()
        .find(|(_, route)| route_matches(route, request))?;

    let found = stickiness_key(route, request);
    let issued = match &found {
        None if route.assign.is_some() => Some(NewId::from_random(inputs.new_id())),
        _ => None,
    };
    let (key, assigned, sent_id) = match (found, &issued) {
        (Some(Key::Assigned(id)), _) => (Some(Cow::Borrowed(id)), Assigned::Sent, Some(id)),
        (Some(Key::Other(key)), _) => (Some(key), Assigned::Other, None),
        (None, Some(id)) => (
            Some(Cow::Borrowed(id.as_bytes())),
            Assigned::Issued(*id),
            None,
        ),
        (None, None) => (None, Assigned::Other, None),
    };
    // A route without a schedule reads its compiled layout; one with a schedule, the layout the
    // last tick computed.
    let place = |bucket: u16| match route.schedule {
        None => route.layout.subset_for(bucket),
        Some(_) => inputs
            .scheduled(route_index, bucket)
            .unwrap_or_else(|| route.layout.subset_for(bucket)),
    };
    let chosen = choose(config, route, key.as_deref(), request, place, || {
        inputs.random()
    });
    let mirror = route.mirror.as_ref().is_some_and(|mirror| {
        mirror.subset != chosen.subset && key.as_deref().is_some_and(|key| mirror.samples(key))
    });
    let decision = Decision {
        route: route_index,
        subset: chosen.subset,
        reason: chosen.reason,
        bucket: chosen.bucket,
        rule: chosen.rule,
        assigned,
        mirror,
    };
    Some(Decided {
        decision: guard_step_back(route, decision, inputs),
        sent_id,
    })
}

struct Chosen {
    subset: usize,
    reason: Reason,
    bucket: Option<u16>,
    rule: Option<usize>,
}

/// The subset for a request the route matched, why, the bucket used and the deciding rule.
fn choose(
    config: &Config,
    route: &Route,
    key: Option<&[u8]>,
    request: &Request<'_>,
    place: impl Fn(u16) -> usize,
    random: impl FnOnce() -> u32,
) -> Chosen {
    let by = |subset, reason, bucket| Chosen {
        subset,
        reason,
        bucket,
        rule: None,
    };
    let by_rule = |index: usize, rule: &Rule| Chosen {
        subset: rule.subset,
        reason: rule_reason(rule),
        bucket: None,
        rule: Some(index),
    };
    let token_presented = OnceCell::new();
    let token = || *token_presented.get_or_init(|| presents_token(config, request));

    // The edge decided for the whole chain, so a trusted lane goes before rules; only a tester
    // presenting the token still reaches any subset here.
    if let Some(lane) = route.lane.as_ref().filter(|lane| lane.trust) {
        for (i, rule) in route.rules.iter().enumerate() {
            if rule.require_token && token() && rule_matches(rule, key, request) {
                return by_rule(i, rule);
            }
        }
        if let Some(value) = crate::lane::read(lane, request) {
            let named = route
                .subsets
                .iter()
                .position(|s| s.name.as_bytes() == &*value);
            match (named, lane.fallback) {
                (Some(subset), _) => return by(subset, Reason::Lane, None),
                (None, LaneFallback::Stable) => return by(route.stable_subset, Reason::Lane, None),
                (None, LaneFallback::Decide) => {}
            }
        }
    }

    for (i, rule) in route.rules.iter().enumerate() {
        if rule.require_token && !token() {
            continue;
        }
        if rule_matches(rule, key, request) {
            return by_rule(i, rule);
        }
    }

    if let Some(key) = key {
        let b = route.bucket_of(key);
        return by(place(b), Reason::Hash, Some(b));
    }

    match route.fallback {
        Fallback::Stable => by(route.stable_subset, Reason::Fallback, None),
        Fallback::Random => {
            let b = (random() % BUCKETS) as u16;
            by(place(b), Reason::Fallback, Some(b))
        }
    }
}

fn rule_reason(rule: &Rule) -> Reason {
    if rule.users.is_some() {
        Reason::User
    } else {
        Reason::Rule
    }
}

/// The route's guard, when it watches the chosen subset and has tripped: the request goes to
/// the route's stable subset instead (reason `guard`, bucket kept), unless a `requireToken` rule
/// chose it, so that testers still reach the canary. Stickiness is untouched: once the guard
/// re-arms the same users return.
fn guard_step_back(route: &Route, decision: Decision, inputs: &(impl Inputs + ?Sized)) -> Decision {
    let guarded = route
        .guard
        .as_ref()
        .is_some_and(|g| g.subset == decision.subset);
    let by_token_rule = decision
        .rule
        .and_then(|i| route.rules.get(i))
        .is_some_and(|rule| rule.require_token);
    if !guarded || by_token_rule || !inputs.tripped(decision.route) {
        return decision;
    }
    Decision {
        subset: route.stable_subset,
        reason: Reason::Guard,
        // A user the mirror sampled is not marked when the stable subset is the mirror's.
        mirror: decision.mirror
            && route
                .mirror
                .as_ref()
                .is_some_and(|m| m.subset != route.stable_subset),
        ..decision
    }
}

fn route_matches(route: &Route, request: &Request<'_>) -> bool {
    if !route.hosts.is_empty() {
        let Some(host) = request.host_name() else {
            return false;
        };
        if !route.hosts.iter().any(|pattern| pattern.matches(host)) {
            return false;
        }
    }
    match &route.path_prefix {
        None => true,
        Some(prefix) => request.path().is_some_and(|path| path.starts_with(prefix)),
    }
}

/// Whether the request carries the override token (the first value of the token header).
fn presents_token(config: &Config, request: &Request<'_>) -> bool {
    match (&config.token, request.header(&config.token_header)) {
        (Some(secret), Some(presented)) => secret.matches(presented),
        _ => false,
    }
}

/// A stickiness key, and whether it is the route's `assign` id.
enum Key<'r> {
    Assigned(&'r [u8]),
    Other(Cow<'r, [u8]>),
}

/// The first key source that is present and non-empty. A header, cookie or unescaped query value
/// is borrowed from the request, not copied. The `assign` cookie counts only if it verifies, and
/// its key is the id part: of several cookies of that name (other Path or Domain, an old copy
/// after a key rotation), the first that verifies.
fn stickiness_key<'r>(route: &'r Route, request: &'r Request<'r>) -> Option<Key<'r>> {
    route.keys.iter().find_map(|source| {
        let value = match source {
            KeySource::Header(name) => request.header(name).map(Cow::Borrowed),
            KeySource::Cookie(name) => match &route.assign {
                Some(assign) if assign.cookie == *name => {
                    return request
                        .cookies(name)
                        .find_map(|v| assign.verified(v))
                        .map(Key::Assigned);
                }
                _ => request.cookie(name).map(Cow::Borrowed),
            },
            KeySource::Query(name) => request.query(name),
        };
        value.filter(|v| !v.is_empty()).map(Key::Other)
    })
}

fn rule_matches(rule: &Rule, key: Option<&[u8]>, request: &Request<'_>) -> bool {
    if let Some(users) = &rule.users {
        let listed =
            key.is_some_and(|key| users.binary_search_by(|u| u.as_slice().cmp(key)).is_ok());
        if !listed {
            return false;
        }
    }
    rule.conditions.iter().all(|condition| match condition {
        Condition::Header(name, m) => m.matches(request.header(name)),
        Condition::Cookie(name, m) => m.matches(request.cookie(name)),
        Condition::Query(name, m) => m.matches(request.query(name).as_deref()),
        Condition::Path(m) => m.matches(request.path()),
        Condition::Os(list) => request.os().is_some_and(|os| list.contains(&os)),
    })
}
