//! The per-request decision: content rules first, then the stickiness key's bucket, then the
//! route's fallback.

use std::cell::OnceCell;

use std::borrow::Cow;

use crate::assign::{NewId, ID_BYTES};
use crate::config::{Condition, Config, Fallback, KeySource, Route, Rule};
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
}

impl Reason {
    pub const ALL: [Reason; 4] = [Reason::Rule, Reason::User, Reason::Hash, Reason::Fallback];

    pub fn as_str(self) -> &'static str {
        match self {
            Reason::Rule => "rule",
            Reason::User => "user",
            Reason::Hash => "hash",
            Reason::Fallback => "fallback",
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
    let decision = |subset, reason, bucket| Decision {
        route: route_index,
        subset,
        reason,
        bucket,
        assigned,
    };

    let token_presented = OnceCell::new();
    for rule in &route.rules {
        if rule.require_token && !*token_presented.get_or_init(|| presents_token(config, &request))
        {
            continue;
        }
        if rule_matches(rule, key.as_deref(), &request) {
            let reason = if rule.users.is_some() {
                Reason::User
            } else {
                Reason::Rule
            };
            return Some(decision(rule.subset, reason, None));
        }
    }

    if let Some(key) = key {
        let b = route.bucket_of(&key);
        return Some(decision(route.layout.subset_for(b), Reason::Hash, Some(b)));
    }

    Some(match route.fallback {
        Fallback::Stable => decision(route.stable_subset, Reason::Fallback, None),
        Fallback::Random => {
            let number = match draw.map(|draw| draw(Draw::Fallback)) {
                Some(Drawn::Fallback(number)) => number,
                _ => 0,
            };
            let b = (number % BUCKETS) as u16;
            decision(route.layout.subset_for(b), Reason::Fallback, Some(b))
        }
    })
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
