//! The per-request context: decide, write the routing header, count.

use std::rc::Rc;

use proxy_wasm::traits::{Context, HttpContext};
use proxy_wasm::types::{Action, LogLevel, MapType};
use sticky_canary_core::{decide, Decision};

use crate::host::EnvoyRequestHeaders;
use crate::log::{enabled, log};
use crate::root::Active;
use crate::vm::VmState;

pub struct StickyCanaryHttp {
    vm: Rc<VmState>,
    active: Option<Rc<Active>>,
    /// Set when `exposeSubset` asks to echo the choice on the response.
    chosen: Option<Decision>,
}

impl StickyCanaryHttp {
    pub fn new(vm: Rc<VmState>, active: Option<Rc<Active>>) -> Self {
        StickyCanaryHttp {
            vm,
            active,
            chosen: None,
        }
    }
}

impl Context for StickyCanaryHttp {}

impl HttpContext for StickyCanaryHttp {
    fn on_http_request_headers(&mut self, _num_headers: usize, _end_of_stream: bool) -> Action {
        let Some(active) = &self.active else {
            return Action::Continue;
        };
        let config = &active.config;
        let decision = decide(config, &EnvoyRequestHeaders, || self.vm.next_random());
        let header = config.routing_header.as_str();
        let value = decision.and_then(|d| {
            active
                .subset_values
                .get(d.route)
                .and_then(|subsets| subsets.get(d.subset))
        });
        // Replacing or removing also drops a routing header forged by the client.
        let _ = match value {
            Some(value) => proxy_wasm::hostcalls::set_map_value_bytes(
                MapType::HttpRequestHeaders,
                header,
                Some(value),
            ),
            None => proxy_wasm::hostcalls::remove_map_value(MapType::HttpRequestHeaders, header),
        };
        self.vm.clear_route_cache();
        active.counters.count(decision.as_ref());
        if enabled(self.vm.log_level(), LogLevel::Debug) {
            log(LogLevel::Debug, &describe(active, decision.as_ref()));
        }
        if config.expose_subset {
            self.chosen = decision;
        }
        Action::Continue
    }

    fn on_http_response_headers(&mut self, _num_headers: usize, _end_of_stream: bool) -> Action {
        if let (Some(active), Some(decision)) = (&self.active, self.chosen) {
            let value = active
                .subset_values
                .get(decision.route)
                .and_then(|subsets| subsets.get(decision.subset));
            if let Some(value) = value {
                let _ = proxy_wasm::hostcalls::set_map_value_bytes(
                    MapType::HttpResponseHeaders,
                    &active.config.routing_header,
                    Some(value),
                );
            }
        }
        Action::Continue
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
