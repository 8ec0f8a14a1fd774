//! `which`: the subset one request gets, and why, from the core's own request plan.

use serde_json::{json, Value};
use sticky_canary_core::config::{Bucketing, Fallback, KeySource, LaneCarrier, Route};
use sticky_canary_core::schedule::At;
use sticky_canary_core::{plan, Assigned, Config, Decision, Fixed, Reason, BUCKETS};

use crate::{schedule, table};

/// A request described on the command line.
#[derive(Clone, Debug, Default, clap::Args)]
pub struct Request {
    /// The stickiness key (user id), put where the matched route reads its first key (unless
    /// the request already carries it there).
    #[arg(long)]
    pub user: Option<String>,
    #[arg(long = "header", value_name = "NAME=VALUE", value_parser = key_value)]
    pub headers: Vec<(String, String)>,
    #[arg(long = "cookie", value_name = "NAME=VALUE", value_parser = key_value)]
    pub cookies: Vec<(String, String)>,
    #[arg(long = "query", value_name = "NAME=VALUE", value_parser = key_value)]
    pub query: Vec<(String, String)>,
    #[arg(long)]
    pub host: Option<String>,
    #[arg(long)]
    pub path: Option<String>,
    #[arg(long)]
    pub user_agent: Option<String>,
}

/// The answer for one request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Answer {
    /// `None`: no route matched, the request passes unchanged.
    pub route: Option<String>,
    /// `None` for a random fallback: any subset, by weight, per request.
    pub subset: Option<String>,
    pub reason: Option<Reason>,
    /// The index of the rule that decided, for `rule` and `user`.
    pub rule: Option<usize>,
    pub bucket: Option<u16>,
    /// Unleash's value (1 to 100) and groupId, for a hashed key on a route with unleash bucketing.
    pub unleash: Option<(u8, String)>,
    /// flagd's bucket (of [`BUCKETS`]) and flagKey, for a hashed key on a route with flagd
    /// bucketing.
    pub flagd: Option<(u16, String)>,
    pub fallback: Option<&'static str>,
    /// What the filter does with the lane, on a route with `lane`.
    pub lane: Option<String>,
    /// Whether the request is marked for mirroring, on a route with `mirror`.
    pub mirror: Option<String>,
    /// Where the route's schedule stands at the time asked: words and JSON.
    pub schedule: Option<(String, Value)>,
}

/// Header list as the host would hand it to the plugin.
struct Headers(Vec<(String, Vec<u8>)>);

impl Headers {
    /// The decision the plugin would make at `at_ms`, with no guard tripped and no override
    /// token.
    fn decide(&self, config: &Config, at_ms: u64) -> Option<Decision> {
        let pairs = self
            .0
            .iter()
            .map(|(name, value)| (name.as_bytes(), value.as_slice()))
            .collect();
        plan(
            config,
            &sticky_canary_core::Request::new(pairs),
            &At::new(config, at_ms, Fixed::default()),
        )
        .decision
    }
}

fn pairs(list: &[(String, String)], separator: &str) -> String {
    list.iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(separator)
}

impl Request {
    fn headers(&self) -> Headers {
        let mut out: Vec<(String, Vec<u8>)> = Vec::new();
        let mut path = self.path.clone().unwrap_or_else(|| "/".into());
        if !self.query.is_empty() {
            path.push(if path.contains('?') { '&' } else { '?' });
            path.push_str(&pairs(&self.query, "&"));
        }
        out.push((":path".into(), path.into_bytes()));
        if let Some(host) = &self.host {
            out.push((":authority".into(), host.clone().into_bytes()));
        }
        if !self.cookies.is_empty() {
            out.push(("cookie".into(), pairs(&self.cookies, "; ").into_bytes()));
        }
        if let Some(ua) = &self.user_agent {
            out.push(("user-agent".into(), ua.clone().into_bytes()));
        }
        for (name, value) in &self.headers {
            out.push((name.to_ascii_lowercase(), value.clone().into_bytes()));
        }
        Headers(out)
    }

    /// This request with `user` where `source` reads it.
    fn with_key(&self, source: &KeySource) -> Request {
        let mut request = self.clone();
        let Some(user) = self.user.clone() else {
            return request;
        };
        match source {
            KeySource::Header(name) => request.headers.push((name.clone(), user)),
            KeySource::Cookie(name) => request
                .cookies
                .push((String::from_utf8_lossy(name).into_owned(), user)),
            KeySource::Query(name) => request
                .query
                .push((String::from_utf8_lossy(name).into_owned(), user)),
        }
        request
    }
}

/// Decides `request` under `config` exactly as the plugin would at `at_ms` (Unix milliseconds;
/// with no override token set, no guard tripped).
pub fn which(config: &Config, request: &Request, at_ms: u64) -> Answer {
    // Routes are matched on host and path only, so the key's place is known before deciding.
    let Some(first) = request.headers().decide(config, at_ms) else {
        return Answer {
            route: None,
            subset: None,
            reason: None,
            rule: None,
            bucket: None,
            unleash: None,
            flagd: None,
            fallback: None,
            lane: None,
            mirror: None,
            schedule: None,
        };
    };
    let route_index = first.route;
    let request = match config.routes.get(route_index).and_then(|r| r.keys.first()) {
        Some(source) => request.with_key(source),
        None => request.clone(),
    };
    let decision = request.headers().decide(config, at_ms).unwrap_or(first);
    let rule = decision.rule;
    let route = config.routes.get(route_index);
    // A keyless request on an assigning route is hashed by a new random id: any subset, by
    // weight, like a random fallback (then sticky by its cookie).
    let random = (route.is_some_and(|r| r.fallback == Fallback::Random)
        && decision.reason == Reason::Fallback)
        || matches!(decision.assigned, Assigned::Issued(_));
    Answer {
        route: route.map(|r| r.name.clone()),
        subset: if random {
            None
        } else {
            route
                .and_then(|r| r.subsets.get(decision.subset))
                .map(|s| s.name.clone())
        },
        reason: Some(decision.reason),
        rule,
        bucket: if random { None } else { decision.bucket },
        // The bucket of an unleash route is `(value - 1) * 100`, so the value comes back exactly.
        unleash: match (
            route.map(|r| &r.bucketing),
            decision.reason,
            decision.bucket,
        ) {
            (Some(Bucketing::Unleash { group_id }), Reason::Hash, Some(bucket)) => Some((
                (bucket / 100 + 1) as u8,
                String::from_utf8_lossy(group_id).into_owned(),
            )),
            _ => None,
        },
        // The bucket of a flagd route is flagd's own, on a total weight of 10000.
        flagd: match (
            route.map(|r| &r.bucketing),
            decision.reason,
            decision.bucket,
        ) {
            (Some(Bucketing::Flagd { flag_key }), Reason::Hash, Some(bucket)) => {
                Some((bucket, String::from_utf8_lossy(flag_key).into_owned()))
            }
            _ => None,
        },
        fallback: match (decision.reason, route.map(|r| r.fallback)) {
            (Reason::Fallback, Some(Fallback::Random)) => Some("random"),
            (Reason::Fallback, Some(Fallback::Stable)) => Some("stable"),
            _ => None,
        },
        lane: route.and_then(|r| lane_outcome(r, decision.subset, decision.reason, random)),
        mirror: route.and_then(|r| mirror_outcome(r, decision.subset, decision.mirror)),
        schedule: route.and_then(|r| {
            let position = schedule::position(r, r.schedule.as_ref()?, at_ms);
            Some((position.human(), position.json(r)))
        }),
    }
}

fn subset_name(route: &Route, subset: usize) -> &str {
    route.subsets.get(subset).map_or("?", |s| s.name.as_str())
}

fn lane_outcome(route: &Route, subset: usize, reason: Reason, random: bool) -> Option<String> {
    let lane = route.lane.as_ref()?;
    if lane.trust {
        return Some(if reason == Reason::Lane {
            "followed; passed on unchanged".to_string()
        } else {
            "none that decides here; passed on unchanged".to_string()
        });
    }
    let subset = if random {
        "<the subset drawn>"
    } else {
        subset_name(route, subset)
    };
    Some(match &lane.carrier {
        LaneCarrier::Header(name) => format!("writes {name}: {subset}"),
        LaneCarrier::Baggage(key) => format!(
            "writes baggage member {}={subset}",
            String::from_utf8_lossy(key)
        ),
    })
}

fn mirror_outcome(route: &Route, subset: usize, marked: bool) -> Option<String> {
    let mirror = route.mirror.as_ref()?;
    let target = subset_name(route, mirror.subset);
    Some(if marked {
        format!("marked {}: {target} (in the sample)", mirror.header)
    } else if mirror.subset == subset {
        format!("not marked: served by {target}")
    } else {
        "not marked".to_string()
    })
}

impl Answer {
    /// Why, in words: `rule 1 (match)`, `rule 0 (users list)`, `hash`, `fallback (stable)`.
    pub fn reason_text(&self) -> String {
        match (self.reason, self.rule) {
            (Some(Reason::Rule), Some(n)) => format!("rule {n} (match)"),
            (Some(Reason::User), Some(n)) => format!("rule {n} (users list)"),
            (Some(Reason::Fallback), _) => {
                format!(
                    "fallback ({}): no stickiness key",
                    self.fallback.unwrap_or("?")
                )
            }
            (Some(reason), _) => reason.as_str().to_string(),
            (None, _) => "no route matched".to_string(),
        }
    }

    pub fn human(&self) -> String {
        let Some(route) = &self.route else {
            return "no route matched: the request passes unchanged\n".to_string();
        };
        let subset = self
            .subset
            .clone()
            .unwrap_or_else(|| "any (random by weight, per request)".into());
        let mut rows = vec![
            vec!["route".to_string(), route.clone()],
            vec!["subset".to_string(), subset],
            vec!["reason".to_string(), self.reason_text()],
        ];
        match (&self.unleash, &self.flagd, self.bucket) {
            (Some((value, group_id)), _, _) => rows.push(vec![
                "unleash".to_string(),
                format!("{value} of 100 (groupId {group_id})"),
            ]),
            (None, Some((bucket, flag_key)), _) => rows.push(vec![
                "flagd".to_string(),
                format!("bucket {bucket} of {BUCKETS} (flagKey {flag_key})"),
            ]),
            (None, None, Some(bucket)) => {
                rows.push(vec!["bucket".to_string(), format!("{bucket} of {BUCKETS}")])
            }
            (None, None, None) => {}
        }
        for (name, outcome) in [("lane", &self.lane), ("mirror", &self.mirror)] {
            if let Some(outcome) = outcome {
                rows.push(vec![name.to_string(), outcome.clone()]);
            }
        }
        if let Some((text, _)) = &self.schedule {
            rows.push(vec!["schedule".to_string(), text.clone()]);
        }
        table::render(&rows)
    }

    pub fn json(&self) -> Value {
        let mut out = json!({
            "route": self.route,
            "subset": self.subset,
            "reason": self.reason.map(Reason::as_str),
            "rule": self.rule,
            "fallback": self.fallback,
            "bucket": self.bucket,
            "buckets": BUCKETS,
        });
        if let (Some((value, group_id)), Some(map)) = (&self.unleash, out.as_object_mut()) {
            map.insert(
                "unleash".into(),
                json!({ "normalized": value, "group_id": group_id }),
            );
        }
        if let (Some((bucket, flag_key)), Some(map)) = (&self.flagd, out.as_object_mut()) {
            map.insert(
                "flagd".into(),
                json!({ "bucket": bucket, "total_weight": BUCKETS, "flag_key": flag_key }),
            );
        }
        for (name, outcome) in [("lane", &self.lane), ("mirror", &self.mirror)] {
            if let (Some(outcome), Some(map)) = (outcome, out.as_object_mut()) {
                map.insert(name.into(), json!(outcome));
            }
        }
        if let (Some((_, schedule)), Some(map)) = (&self.schedule, out.as_object_mut()) {
            map.insert("schedule".into(), schedule.clone());
        }
        out
    }
}

/// Splits `k=v` from the command line.
pub fn key_value(text: &str) -> Result<(String, String), String> {
    text.split_once('=')
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .ok_or_else(|| format!("expected NAME=VALUE, got {text:?}"))
}
