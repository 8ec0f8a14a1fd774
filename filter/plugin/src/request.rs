//! One request: read its headers in one host call, plan it in the core, execute the plan, count.
//! No policy lives here: what each header becomes is the plan's.

use sticky_canary_core::{plan, Decision, Inputs, Op, Request, ResponsePlan};

use crate::configuration::Configuration;
use crate::entropy::Entropy;
use crate::header_map;
use crate::host::{Host, Map};

/// What a request's plan draws on: the guards and schedules of its configuration and the VM's
/// entropy.
struct Draws<'a, H> {
    host: &'a H,
    entropy: &'a Entropy,
    configuration: &'a Configuration,
}

impl<H: Host> Inputs for Draws<'_, H> {
    fn tripped(&self, route: usize) -> bool {
        self.configuration.guards.tripped(route)
    }

    fn random(&self) -> u32 {
        self.entropy.next_random()
    }

    fn new_id(&self) -> [u8; 16] {
        self.entropy.new_id(self.host)
    }

    fn scheduled(&self, route: usize, bucket: u16) -> Option<usize> {
        self.configuration.schedules.subset_for(route, bucket)
    }
}

/// Decides one request under `configuration` and leaves its headers as the plan says; returns
/// what its response needs, if anything.
pub fn on_request_headers(
    host: &impl Host,
    entropy: &Entropy,
    configuration: &Configuration,
) -> Option<ResponsePlan> {
    let map = host.header_pairs(Map::Request);
    let request = Request::new(header_map::pairs(&map));
    let config = &configuration.config;
    let draws = Draws {
        host,
        entropy,
        configuration,
    };
    let plan = plan(config, &request, &draws);
    // The module declares ABI 0.2.1, for which Envoy re-matches the route after a filter changed
    // a request header; a module declaring a newer ABI would have to ask (`clear_route_cache`).
    for op in &plan.ops {
        match op {
            Op::Set(name, value) => host.set_header(Map::Request, name, value),
            Op::Remove(name) => host.remove_header(Map::Request, name),
        }
    }
    let counters = &configuration.counters;
    if let Some(d) = plan.decision {
        if plan.lane_dropped {
            counters.count_lane_dropped(d.route);
        }
        if d.mirror {
            counters.count_mirrored(d.route);
        }
    }
    counters.count(plan.decision.as_ref());
    if log::log_enabled!(log::Level::Debug) {
        log::debug!("{}", describe(configuration, plan.decision.as_ref()));
    }
    plan.response
}

fn describe(configuration: &Configuration, decision: Option<&Decision>) -> String {
    let Some(d) = decision else {
        return "sticky-canary: no route matched, headers the filter owns removed".to_string();
    };
    let route = configuration.config.routes.get(d.route);
    let subset = route.and_then(|r| r.subsets.get(d.subset));
    let bucket = d.bucket.map_or_else(|| "-".to_string(), |b| b.to_string());
    let issued = match d.assigned {
        sticky_canary_core::Assigned::Issued(_) => ", new id issued",
        _ => "",
    };
    format!(
        "sticky-canary: route {} -> subset {} (reason {}, bucket {bucket}{issued})",
        route.map_or("?", |r| r.name.as_str()),
        subset.map_or("?", |s| s.name.as_str()),
        d.reason.as_str(),
    )
}
