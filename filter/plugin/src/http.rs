//! One request: decide, write the routing header, count.

use sticky_canary_core::{decide, Decision};

use crate::abi::{self, LogLevel};
use crate::host::EnvoyRequestHeaders;
use crate::log::{enabled, log};
use crate::root::Active;
use crate::vm::VmState;

pub fn on_request_headers(vm: &VmState, active: &Active) -> Option<Decision> {
    let config = &active.config;
    let decision = decide(config, &EnvoyRequestHeaders, || vm.next_random());
    let header = config.routing_header.as_str();
    let value = decision.and_then(|d| subset_value(active, d.route, d.subset));
    // Replacing or removing also drops a routing header forged by the client.
    let _ = match value {
        Some(value) => abi::replace_header(abi::MAP_REQUEST_HEADERS, header, value),
        None => abi::remove_header(abi::MAP_REQUEST_HEADERS, header),
    };
    // Envoy 1.40 re-matches the route after any request header change by itself; newer Envoys
    // may leave that to this call (the forged-header tests prove routing follows the filter).
    vm.clear_route_cache();
    active.counters.count(decision.as_ref());
    if enabled(vm.log_level(), LogLevel::Debug) {
        log(LogLevel::Debug, &describe(active, decision.as_ref()));
    }
    decision
}

/// Echoes the chosen subset on the response (`exposeSubset`).
pub fn on_response_headers(active: &Active, (route, subset): (u32, u32)) {
    if let Some(value) = subset_value(active, route as usize, subset as usize) {
        let _ = abi::replace_header(
            abi::MAP_RESPONSE_HEADERS,
            &active.config.routing_header,
            value,
        );
    }
}

fn subset_value(active: &Active, route: usize, subset: usize) -> Option<&[u8]> {
    active
        .subset_values
        .get(route)
        .and_then(|subsets| subsets.get(subset))
        .map(Vec::as_slice)
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
