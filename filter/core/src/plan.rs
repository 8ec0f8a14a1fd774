//! The request plan: for one request, its decision and everything it leaves with. Every header
//! and baggage member the configuration owns ([`crate::config::Owned`]) leaves with the value the
//! decision gives it, or not at all: a client's value passes only through a route that trusts
//! its lane. The host reads the request once, executes the plan and holds no policy.

use std::borrow::Cow;

use crate::assign::NewId;
use crate::config::{Config, LaneCarrier, Role, Route};
use crate::decide::{decide, Assigned, Decision, Inputs};
use crate::lane::{rewrite, BaggageRule, BaggageWrite, BAGGAGE_HEADER};
use crate::request::Request;

/// What one request leaves with.
#[derive(Debug, PartialEq, Eq)]
pub struct Plan<'a> {
    /// `None`: no route matched.
    pub decision: Option<Decision>,
    /// Request header operations, in order; none where the request already holds the value.
    pub ops: Vec<Op<'a>>,
    /// The route's lane had no room in the baggage (W3C limits) and was left out.
    pub lane_dropped: bool,
    /// What the response headers need, when they need anything.
    pub response: Option<ResponsePlan>,
}

/// One change to a request header.
#[derive(Debug, PartialEq, Eq)]
pub enum Op<'a> {
    /// Replaces every value of the header with this one.
    Set(&'a str, Cow<'a, [u8]>),
    /// Removes every value of the header.
    Remove(&'a str),
}

/// What the response side does for a decided request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ResponsePlan {
    pub route: usize,
    pub subset: usize,
    /// Echo the subset in the response's routing header (`exposeSubset`).
    pub expose: bool,
    /// Count the response by subset and status class (`health`, a `guard`).
    pub health: bool,
    /// Hand this new id to the visitor in a `Set-Cookie`.
    pub issued: Option<NewId>,
}

/// An owned header's fate on this request.
enum Fate<'a> {
    Write(Cow<'a, [u8]>),
    Absent,
    /// A trusted lane: the incoming value passes.
    Keep,
}

/// Plans one request under its own plugin's configuration.
pub fn plan<'a>(
    config: &'a Config,
    request: &'a Request<'a>,
    inputs: &(impl Inputs + ?Sized),
) -> Plan<'a> {
    let decided = decide(config, request, inputs);
    let decision = decided.as_ref().map(|d| d.decision);
    let sent_id = decided.and_then(|d| d.sent_id);
    let chosen = decision.and_then(|d| Some((d, config.routes.get(d.route)?)));
    let subset_name = chosen.and_then(|(d, route)| {
        route
            .subsets
            .get(d.subset)
            .map(|s| Cow::Borrowed(s.name.as_bytes()))
    });

    let mut ops = Vec::new();
    for owned in &config.owned.headers {
        let name = owned.name.as_str();
        let fate = match (owned.role, chosen) {
            (_, None) => Fate::Absent,
            (Role::Routing, Some(_)) => subset_name.clone().map_or(Fate::Absent, Fate::Write),
            (Role::Reason, Some((d, _))) => {
                Fate::Write(Cow::Borrowed(d.reason.as_str().as_bytes()))
            }
            (Role::Lane, Some((_, route))) => match &route.lane {
                Some(lane) if matches!(&lane.carrier, LaneCarrier::Header(h) if h == name) => {
                    if lane.trust {
                        Fate::Keep
                    } else {
                        subset_name.clone().map_or(Fate::Absent, Fate::Write)
                    }
                }
                _ => Fate::Absent,
            },
            (Role::Mirror, Some((d, route))) => match &route.mirror {
                Some(mirror) if d.mirror && mirror.header == name => {
                    route.subsets.get(mirror.subset).map_or(Fate::Absent, |s| {
                        Fate::Write(Cow::Borrowed(s.name.as_bytes()))
                    })
                }
                _ => Fate::Absent,
            },
            (Role::Id, Some((d, route))) => {
                let ours = route.assign.as_ref().and_then(|a| a.header.as_deref()) == Some(name);
                match (ours, d.assigned) {
                    (true, Assigned::Issued(id)) => Fate::Write(Cow::Owned(id.as_bytes().to_vec())),
                    (true, Assigned::Sent) => {
                        sent_id.map_or(Fate::Absent, |id| Fate::Write(Cow::Borrowed(id)))
                    }
                    _ => Fate::Absent,
                }
            }
        };
        match fate {
            Fate::Write(value) if !request.has_only(name, &value) => ops.push(Op::Set(name, value)),
            Fate::Absent if request.header(name).is_some() => ops.push(Op::Remove(name)),
            Fate::Write(_) | Fate::Absent | Fate::Keep => {}
        }
    }

    let lane_dropped = match config.owned.baggage_keys.is_empty() {
        true => false,
        false => plan_baggage(
            config,
            request,
            chosen.map(|(_, r)| r),
            subset_name,
            &mut ops,
        ),
    };

    let response = chosen.and_then(|(d, route)| {
        let issued = match d.assigned {
            Assigned::Issued(id) => Some(id),
            Assigned::Sent | Assigned::Other => None,
        };
        let plan = ResponsePlan {
            route: d.route,
            subset: d.subset,
            expose: config.expose_subset,
            health: route.health,
            issued,
        };
        (plan.expose || plan.health || issued.is_some()).then_some(plan)
    });

    Plan {
        decision,
        ops,
        lane_dropped,
        response,
    }
}

/// The baggage header under the configuration's members: the deciding route's own lane written
/// (or, trusted, kept), every other member of ours removed. `true`: the lane did not fit.
fn plan_baggage<'a>(
    config: &'a Config,
    request: &'a Request<'a>,
    route: Option<&'a Route>,
    subset_name: Option<Cow<'a, [u8]>>,
    ops: &mut Vec<Op<'a>>,
) -> bool {
    let lane = route.and_then(|r| r.lane.as_ref());
    let key = lane.and_then(|lane| match &lane.carrier {
        LaneCarrier::Baggage(key) => Some((key.as_slice(), lane.trust)),
        LaneCarrier::Header(_) => None,
    });
    let (keep, write) = match key {
        Some((key, true)) => (Some(key), None),
        Some((key, false)) => (None, subset_name.as_deref().map(|value| (key, value))),
        None => (None, None),
    };
    let incoming = request.header_list(BAGGAGE_HEADER);
    if incoming.is_none() && write.is_none() {
        return false;
    }
    let rule = BaggageRule {
        owned: &config.owned.baggage_keys,
        keep,
        write,
    };
    let (result, written) = rewrite(incoming.as_deref(), &rule);
    match result {
        BaggageWrite::Set(value) if !request.has_only(BAGGAGE_HEADER, &value) => {
            ops.push(Op::Set(BAGGAGE_HEADER, Cow::Owned(value)));
        }
        BaggageWrite::Remove if incoming.is_some() => ops.push(Op::Remove(BAGGAGE_HEADER)),
        BaggageWrite::Set(_) | BaggageWrite::Remove => {}
    }
    write.is_some() && !written
}
