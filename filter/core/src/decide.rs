//! The per-request decision: content rules first, then the stickiness key's bucket, then the
//! route's fallback. A trusted lane comes before all but `requireToken` rules.

use std::cell::OnceCell;

use std::borrow::Cow;

use crate::assign::{NewId, ID_BYTES};
use crate::config::{Condition, Config, Fallback, KeySource, LaneFallback, Route, Rule};
use crate::hash::BUCKETS;
use crate::request::{RequestHeaders, RequestView};

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

/// What a decision draws at random: a `random` fallback's number or a new id (never both: a
/// route that assigns ids has a key for every request).
enum Draw {
    Fallback,
    Id,
}

enum Drawn {
    Fallback(u32),
    Id(NewId),
}

/// Decides for one request. `None`: no route matches and the request passes unchanged (apart
/// from a forged routing header being removed). `random` is called only by a `random` fallback,
/// or for a new id (`assign`), which then holds only its 32 bits: [`decide_with_ids`] is for
/// hosts that issue ids.
pub fn decide<H: RequestHeaders + ?Sized>(
    config: &Config,
    headers: &H,
    random: impl FnOnce() -> u32,
) -> Option<Decision> {
    decide_drawing(config, headers, |draw| {
        let number = random();
        match draw {
            Draw::Fallback => Drawn::Fallback(number),
            Draw::Id => {
                let mut bytes = [0u8; ID_BYTES];
                for (chunk, n) in bytes.chunks_mut(4).zip(0u32..) {
                    chunk.copy_from_slice(&number.rotate_left(n * 8).to_le_bytes());
                }
                Drawn::Id(NewId::from_random(bytes))
            }
        }
    })
}

/// [`decide`], with `new_id` giving the 128 random bits of an id `assign` issues. Each closure is
/// called at most once, and only when needed.
pub fn decide_with_ids<H: RequestHeaders + ?Sized>(
    config: &Config,
    headers: &H,
    random: impl FnOnce() -> u32,
    new_id: impl FnOnce() -> [u8; ID_BYTES],
) -> Option<Decision> {
    decide_drawing(config, headers, |draw| match draw {
        Draw::Fallback => Drawn::Fallback(random()),
        Draw::Id => Drawn::Id(NewId::from_random(new_id())),
    })
}

fn decide_drawing<H: RequestHeaders + ?Sized>(
    config: &Config,
    headers: &H,
    draw: impl FnOnce(Draw) -> Drawn,
) -> Option<Decision> {
    let request = RequestView::new(headers);
    let (route_index, route) = config
        .routes
        .iter()
        .enumerate()
        .find(|(_, route)| route_matches(route, &request))?;

    let found = stickiness_key(route, &request);
    let mut draw = Some(draw);
    let issued = if found.is_none() && route.assign.is_some() {
        match draw.take().map(|draw| draw(Draw::Id)) {
            Some(Drawn::Id(id)) => Some(id),
            _ => None,
        }
    } else {
        None
    };
    let (key, assigned) = match (found, &issued) {
        (Some((key, true)), _) => (Some(key), Assigned::Sent),
        (Some((key, false)), _) => (Some(key), Assigned::Other),
        (None, Some(id)) => (Some(Cow::Borrowed(id.as_bytes())), Assigned::Issued(*id)),
        (None, None) => (None, Assigned::Other),
    };
    let random = || match draw.take().map(|draw| draw(Draw::Fallback)) {
        Some(Drawn::Fallback(number)) => number,
        _ => 0,
    };
    let (subset, reason, bucket) = choose(config, route, key.as_deref(), &request, random);
    let mirror = route.mirror.as_ref().is_some_and(|mirror| {
        mirror.subset != subset && key.as_deref().is_some_and(|key| mirror.samples(key))
    });
    Some(Decision {
        route: route_index,
        subset,
        reason,
        bucket,
        assigned,
        mirror,
    })
}

/// The subset for a request the route matched, why, and the bucket used.
fn choose<H: RequestHeaders + ?Sized>(
    config: &Config,
    route: &Route,
    key: Option<&[u8]>,
    request: &RequestView<'_, H>,
    random: impl FnOnce() -> u32,
) -> (usize, Reason, Option<u16>) {
    let decision = |subset, reason, bucket| (subset, reason, bucket);
    let token_presented = OnceCell::new();
    let token = || *token_presented.get_or_init(|| presents_token(config, request));

    // The edge decided for the whole chain, so a trusted lane goes before rules; only a tester
    // presenting the token still reaches any subset here.
    if let Some(lane) = route.lane.as_ref().filter(|lane| lane.trust) {
        for rule in route.rules.iter().filter(|rule| rule.require_token) {
            if token() && rule_matches(rule, key, request) {
                return decision(rule.subset, rule_reason(rule), None);
            }
        }
        if let Some(value) = crate::lane::read(lane, request) {
            let named = route
                .subsets
                .iter()
                .position(|s| s.name.as_bytes() == &*value);
            match (named, lane.fallback) {
                (Some(subset), _) => return decision(subset, Reason::Lane, None),
                (None, LaneFallback::Stable) => {
                    return decision(route.stable_subset, Reason::Lane, None)
                }
                (None, LaneFallback::Decide) => {}
            }
        }
    }

    for rule in &route.rules {
        if rule.require_token && !token() {
            continue;
        }
        if rule_matches(rule, key, request) {
            return decision(rule.subset, rule_reason(rule), None);
        }
    }

    if let Some(key) = key {
        let b = route.bucket_of(key);
        return decision(route.layout.subset_for(b), Reason::Hash, Some(b));
    }

    match route.fallback {
        Fallback::Stable => decision(route.stable_subset, Reason::Fallback, None),
        Fallback::Random => {
            let b = (random() % BUCKETS) as u16;
            decision(route.layout.subset_for(b), Reason::Fallback, Some(b))
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

/// [`decide`], then the guard of the decision's route if `tripped(route index)` says it has
/// tripped: a decision for the guarded subset goes to the route's stable subset instead (reason
/// `guard`, bucket kept), unless a `requireToken` rule made it, so that testers still reach the
/// canary. Stickiness is untouched: once the guard re-arms the same users return.
pub fn decide_guarded<H: RequestHeaders + ?Sized>(
    config: &Config,
    headers: &H,
    random: impl FnOnce() -> u32,
    tripped: impl Fn(usize) -> bool,
) -> Option<Decision> {
    let decision = decide(config, headers, random)?;
    Some(guard_step_back(config, headers, decision, tripped))
}

/// A decision made without the guard, stepped back to the stable subset when the route's guard
/// watches the chosen subset and has tripped.
pub fn guard_step_back<H: RequestHeaders + ?Sized>(
    config: &Config,
    headers: &H,
    decision: Decision,
    tripped: impl Fn(usize) -> bool,
) -> Decision {
    let Some(route) = config.routes.get(decision.route) else {
        return decision;
    };
    let guarded = route
        .guard
        .as_ref()
        .is_some_and(|g| g.subset == decision.subset);
    if !guarded || !tripped(decision.route) {
        return decision;
    }
    let by_rule = matches!(decision.reason, Reason::Rule | Reason::User);
    if by_rule && made_by_token_rule(config, route, &RequestView::new(headers)) {
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

/// Whether the rule that decided this request (the first that holds, as in [`decide`]) is a
/// `requireToken` one. Only asked on a tripped guard's route, for a rule's decision.
fn made_by_token_rule<H: RequestHeaders + ?Sized>(
    config: &Config,
    route: &Route,
    request: &RequestView<'_, H>,
) -> bool {
    let key = stickiness_key(route, request);
    let token = OnceCell::new();
    route
        .rules
        .iter()
        .filter(|rule| {
            !rule.require_token || *token.get_or_init(|| presents_token(config, request))
        })
        .find(|rule| rule_matches(rule, key.as_ref().map(|(k, _)| k.as_ref()), request))
        .is_some_and(|rule| rule.require_token)
}

fn route_matches<H: RequestHeaders + ?Sized>(route: &Route, request: &RequestView<'_, H>) -> bool {
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
fn presents_token<H: RequestHeaders + ?Sized>(
    config: &Config,
    request: &RequestView<'_, H>,
) -> bool {
    match (&config.token, request.header(&config.token_header)) {
        (Some(secret), Some(presented)) => secret.matches(&presented),
        _ => false,
    }
}

/// The first key source that is present and non-empty, and whether it is the route's `assign`
/// cookie. A cookie or an unescaped query value is borrowed from the request's cached headers,
/// not copied. The `assign` cookie counts only if it verifies, and its key is the id part.
fn stickiness_key<'r, H: RequestHeaders + ?Sized>(
    route: &Route,
    request: &'r RequestView<'_, H>,
) -> Option<(Cow<'r, [u8]>, bool)> {
    route.keys.iter().find_map(|source| {
        let value = match source {
            KeySource::Header(name) => request.header(name).map(Cow::Owned),
            KeySource::Cookie(name) => {
                let value = request.cookie(name);
                match &route.assign {
                    Some(assign) if assign.cookie == *name => {
                        return value
                            .and_then(|v| assign.verified(v))
                            .map(|id| (Cow::Borrowed(id), true));
                    }
                    _ => value.map(Cow::Borrowed),
                }
            }
            KeySource::Query(name) => request.query(name),
        };
        value.filter(|v| !v.is_empty()).map(|v| (v, false))
    })
}

fn rule_matches<H: RequestHeaders + ?Sized>(
    rule: &Rule,
    key: Option<&[u8]>,
    request: &RequestView<'_, H>,
) -> bool {
    if let Some(users) = &rule.users {
        let listed =
            key.is_some_and(|key| users.binary_search_by(|u| u.as_slice().cmp(key)).is_ok());
        if !listed {
            return false;
        }
    }
    rule.conditions.iter().all(|condition| match condition {
        Condition::Header(name, m) => m.matches(request.header(name).as_deref()),
        Condition::Cookie(name, m) => m.matches(request.cookie(name)),
        Condition::Query(name, m) => m.matches(request.query(name).as_deref()),
        Condition::Path(m) => m.matches(request.path()),
        Condition::Os(list) => request.os().is_some_and(|os| list.contains(&os)),
    })
}
