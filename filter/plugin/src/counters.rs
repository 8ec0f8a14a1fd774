//! One counter per route, subset and decision reason, plus one for requests no route matched.
//! Counter ids are defined once per configuration; a request adds to exactly one of them.
//!
//! A request only adds to a count in the module's memory; [`Counters::flush`] hands the counts to
//! Envoy on the VM's tick. One host call per request would cost more than the rest of the
//! request's counting, so Envoy's counters lag the traffic by up to one tick.

use std::cell::Cell;

use sticky_canary_core::{Config, Decision, Reason};

use crate::abi;

struct Slot {
    id: u32,
    pending: Cell<i64>,
}

pub struct Counters {
    /// Indexed by `(route offset + subset) * reasons + reason`; `None` where Envoy refused the
    /// definition, so that counter is skipped.
    decided: Vec<Option<Slot>>,
    route_offsets: Vec<usize>,
    unrouted: Option<Slot>,
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
        let slot = match decision {
            None => self.unrouted.as_ref(),
            Some(d) => self
                .route_offsets
                .get(d.route)
                .map(|offset| (offset + d.subset) * Reason::ALL.len() + d.reason.index())
                .and_then(|index| self.decided.get(index))
                .and_then(Option::as_ref),
        };
        if let Some(slot) = slot {
            slot.pending.set(slot.pending.get() + 1);
        }
    }

    /// Adds what was counted since the last flush to Envoy's counters.
    pub fn flush(&self) {
        for slot in self.decided.iter().chain([&self.unrouted]).flatten() {
            let pending = slot.pending.take();
            if pending > 0 {
                // A counter that fails to move is no reason to fail anything; its count is lost.
                let _ = abi::increment_counter(slot.id, pending);
            }
        }
    }
}

fn define(name: &str) -> Option<Slot> {
    abi::define_counter(name).ok().map(|id| Slot {
        id,
        pending: Cell::new(0),
    })
}
