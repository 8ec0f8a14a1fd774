//! One counter per route, subset and decision reason, plus one for requests no route matched.
//! Counter ids are defined once per configuration; a request adds to exactly one of them.

use sticky_canary_core::{Config, Decision, Reason};

use crate::abi;

pub struct Counters {
    /// Indexed by `(route offset + subset) * reasons + reason`.
    decided: Vec<Option<u32>>,
    route_offsets: Vec<usize>,
    unrouted: Option<u32>,
}

/// The counter's name as defined in Envoy: `/stats` shows it as `wasmcustom.<name>`; with the
/// `stats_tags` of `envoy/local/envoy.yaml`, `/stats/prometheus` shows
/// `sticky_canary_requests_total{route="...",subset="...",reason="..."}`.
pub fn decided_name(route: &str, subset: &str, reason: Reason) -> String {
    format!(
        "sticky_canary.requests_total.route.{route}.subset.{subset}.reason.{}",
        reason.as_str()
    )
}

pub const UNROUTED_NAME: &str = "sticky_canary.unrouted_total";

impl Counters {
    pub fn define(config: &Config) -> Self {
        let mut decided = Vec::new();
        let mut route_offsets = Vec::with_capacity(config.routes.len());
        for route in &config.routes {
            route_offsets.push(decided.len() / Reason::ALL.len());
            for subset in &route.subsets {
                for reason in Reason::ALL {
                    decided.push(define(&decided_name(&route.name, &subset.name, reason)));
                }
            }
        }
        Counters {
            decided,
            route_offsets,
            unrouted: define(UNROUTED_NAME),
        }
    }

    pub fn count(&self, decision: Option<&Decision>) {
        let id = match decision {
            None => self.unrouted,
            Some(d) => self
                .route_offsets
                .get(d.route)
                .map(|offset| (offset + d.subset) * Reason::ALL.len() + d.reason.index())
                .and_then(|slot| self.decided.get(slot).copied().flatten()),
        };
        if let Some(id) = id {
            // A counter that fails to move is no reason to fail a request.
            let _ = abi::increment_counter(id, 1);
        }
    }
}

fn define(name: &str) -> Option<u32> {
    abi::define_counter(name).ok()
}
