//! One request: decide, write the routing header, count; and the response side of
//! `exposeSubset`.

use sticky_canary_core::{decide, Decision, RequestHeaders};

use crate::active::Active;
use crate::host::{Host, Map};
use crate::vm::VmState;

/// The request headers as the core sees them, read from the host on demand.
struct HostRequestHeaders<'h, H>(&'h H);

impl<H: Host> RequestHeaders for HostRequestHeaders<'_, H> {
    fn header(&self, name: &str) -> Option<Vec<u8>> {
        self.0.header(Map::Request, name)
    }
}

pub fn on_request_headers(host: &impl Host, vm: &VmState, active: &Active) -> Option<Decision> {
    let config = &active.config;
    let decision = decide(config, &HostRequestHeaders(host), || vm.next_random());
    let header = config.routing_header.as_str();
    // Replacing or removing also drops a routing header forged by the client. The module
    // declares ABI 0.2.1, for which Envoy re-matches the route after a filter changed a request
    // header; a module declaring a newer ABI would have to ask (`clear_route_cache`).
    match decision.and_then(|d| active.subset_value(d.route, d.subset)) {
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
    active.counters.count(decision.as_ref());
    if log::log_enabled!(log::Level::Debug) {
        log::debug!("{}", describe(active, decision.as_ref()));
    }
    decision
}

/// Echoes the chosen subset on the response (`exposeSubset`).
pub fn on_response_headers(host: &impl Host, active: &Active, route: usize, subset: usize) {
    if let Some(value) = active.subset_value(route, subset) {
        host.set_header(Map::Response, &active.config.routing_header, value);
    }
}

fn describe(active: &Active, decision: Option<&Decision>) -> String {
    let Some(d) = decision else {
        return "sticky-canary: no route matched, routing header removed".to_string();
    };
    let route = active.config.routes.get(d.route);
    let subset = route.and_then(|r| r.subsets.get(d.subset));
    let bucket = d.bucket.map_or_else(|| "-".to_string(), |b| b.to_string());
    format!(
        "sticky-canary: route {} -> subset {} (reason {}, bucket {bucket})",
        route.map_or("?", |r| r.name.as_str()),
        subset.map_or("?", |s| s.name.as_str()),
        d.reason.as_str(),
    )
}
