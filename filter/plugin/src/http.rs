//! One request: decide, write the routing header, the lane and the mirror mark, count. The
//! response side is `response.rs`.

use sticky_canary_core::config::{LaneCarrier, Route};
use sticky_canary_core::lane::{member_value, write_member, BaggageWrite, BAGGAGE_HEADER};
use sticky_canary_core::request::cookie_value;
use sticky_canary_core::{decide_with_ids, guard_step_back, Assigned, Decision, RequestHeaders};

use crate::active::Active;
use crate::host::{Host, Map};
use crate::vm::VmState;

/// The request headers as the core sees them, read from the host on demand.
struct HostRequestHeaders<'h, H>(&'h H);

impl<H: Host> RequestHeaders for HostRequestHeaders<'_, H> {
    fn header(&self, name: &str) -> Option<Vec<u8>> {
        self.0.header(Map::Request, name)
    }

    fn header_list(&self, name: &str) -> Option<Vec<u8>> {
        joined(self.0.header_values(Map::Request, name))
    }
}

/// Repeated header values as one list.
fn joined(values: Vec<Vec<u8>>) -> Option<Vec<u8>> {
    let mut values = values.into_iter();
    let mut list = values.next()?;
    for value in values {
        list.push(b',');
        list.extend_from_slice(&value);
    }
    Some(list)
}

pub fn on_request_headers(host: &impl Host, vm: &VmState, active: &Active) -> Option<Decision> {
    let config = &active.config;
    let headers = HostRequestHeaders(host);
    let decision = decide_with_ids(config, &headers, || vm.next_random(), || vm.new_id())
        .map(|d| guard_step_back(config, &headers, d, |route| active.guards.tripped(route)));
    let header = config.routing_header.as_str();
    // Replacing or removing also drops a routing header forged by the client. The module
    // declares ABI 0.2.1, for which Envoy re-matches the route after a filter changed a request
    // header; a module declaring a newer ABI would have to ask (`clear_route_cache`).
    let value = decision.and_then(|d| active.subset_value(d.route, d.subset));
    match value {
        Some(value) => host.set_header(Map::Request, header, value),
        None => host.remove_header(Map::Request, header),
    }
    // Like the routing header, a reason sent by the client never reaches the upstream.
    if let Some(reason_header) = &config.reason_header {
        match decision {
            Some(d) => host.set_header(Map::Request, reason_header, d.reason.as_str().as_bytes()),
            None => host.remove_header(Map::Request, reason_header),
        }
    }
    assign_header(host, active, decision.as_ref());
    let route = decision.and_then(|d| config.routes.get(d.route));
    if let (Some(d), Some(route), Some(value)) = (decision, route, value) {
        if route.lane.is_some() && !write_lane(host, route, value) {
            active.counters.count_lane_dropped(d.route);
        }
        if d.mirror {
            active.counters.count_mirrored(d.route);
        }
    }
    // Empty unless some route mirrors: then no other request keeps a mirror header.
    for name in &config.mirror_headers {
        let sampled = decision
            .filter(|d| d.mirror)
            .zip(route.and_then(|r| r.mirror.as_ref()))
            .filter(|(_, mirror)| mirror.header == *name)
            .and_then(|(d, mirror)| active.subset_value(d.route, mirror.subset));
        match sampled {
            Some(subset) => host.set_header(Map::Request, name, subset),
            None => host.remove_header(Map::Request, name),
        }
    }
    active.counters.count(decision.as_ref());
    if log::log_enabled!(log::Level::Debug) {
        log::debug!("{}", describe(active, decision.as_ref()));
    }
    decision
}

/// Writes the chosen subset (`value`) to the route's lane, unless the route trusts the incoming
/// one: then it is passed on as it came. `false`: the baggage had no room for the lane.
fn write_lane(host: &impl Host, route: &Route, value: &[u8]) -> bool {
    let Some(lane) = route.lane.as_ref().filter(|lane| !lane.trust) else {
        return true;
    };
    match &lane.carrier {
        LaneCarrier::Header(name) => host.set_header(Map::Request, name, value),
        LaneCarrier::Baggage(key) => {
            // Every baggage header: a rewrite replaces them all with one.
            let incoming = joined(host.header_values(Map::Request, BAGGAGE_HEADER));
            match write_member(incoming.as_deref(), key, value) {
                BaggageWrite::Set(baggage) => {
                    if incoming.as_deref() != Some(&baggage[..]) {
                        host.set_header(Map::Request, BAGGAGE_HEADER, &baggage);
                    }
                    return member_value(&baggage, key).is_some();
                }
                BaggageWrite::Remove => {
                    host.remove_header(Map::Request, BAGGAGE_HEADER);
                    return false;
                }
            }
        }
    }
    true
}

/// `assign.header`: the visitor's id (issued now, or sent and verified) travels upstream in it;
/// whatever the client sent there is replaced or removed.
fn assign_header(host: &impl Host, active: &Active, decision: Option<&Decision>) {
    let Some(d) = decision else {
        for header in &active.assign_headers {
            host.remove_header(Map::Request, header);
        }
        return;
    };
    let Some(assign) = active
        .config
        .routes
        .get(d.route)
        .and_then(|r| r.assign.as_ref())
    else {
        return;
    };
    let Some(header) = &assign.header else {
        return;
    };
    match d.assigned {
        Assigned::Issued(id) => host.set_header(Map::Request, header, id.as_bytes()),
        Assigned::Sent => {
            let cookies = host.header(Map::Request, "cookie");
            let sent = cookies
                .as_deref()
                .and_then(|c| cookie_value(c, &assign.cookie))
                .and_then(|v| assign.verified(v));
            match sent {
                Some(id) => host.set_header(Map::Request, header, id),
                None => host.remove_header(Map::Request, header),
            }
        }
        Assigned::Other => host.remove_header(Map::Request, header),
    }
}

fn describe(active: &Active, decision: Option<&Decision>) -> String {
    let Some(d) = decision else {
        return "sticky-canary: no route matched, routing header removed".to_string();
    };
    let route = active.config.routes.get(d.route);
    let subset = route.and_then(|r| r.subsets.get(d.subset));
    let bucket = d.bucket.map_or_else(|| "-".to_string(), |b| b.to_string());
    let issued = match d.assigned {
        Assigned::Issued(_) => ", new id issued",
        Assigned::Sent | Assigned::Other => "",
    };
    format!(
        "sticky-canary: route {} -> subset {} (reason {}, bucket {bucket}{issued})",
        route.map_or("?", |r| r.name.as_str()),
        subset.map_or("?", |s| s.name.as_str()),
        d.reason.as_str(),
    )
}
