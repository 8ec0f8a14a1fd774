//! One counter per route, subset and decision reason, plus one for requests no route matched.
//! Counter ids are defined once per configuration; a request adds to exactly one of them. Routes
//! with `stickiness.assign` also count the ids they hand out.
//!
//! A request only adds to a count in the module's memory; [`Counters::flush`] hands the counts to
//! the host on the VM's tick. One host call per request would cost more than the rest of the
//! request's counting, so the host's counters lag the traffic by up to one tick.

use std::cell::Cell;

use sticky_canary_core::config::LaneCarrier;
use sticky_canary_core::{Config, Decision, Reason};

use crate::host::Host;

/// A counter the host defined, with what was counted since the last flush.
pub struct Slot {
    id: u32,
    pending: Cell<u64>,
}

impl Slot {
    /// `None` where the host refused the definition: that counter is skipped.
    pub fn define(host: &impl Host, name: &str) -> Option<Slot> {
        host.define_counter(name).map(|id| Slot {
            id,
            pending: Cell::new(0),
        })
    }

    pub fn add_one(&self) {
        self.add(1);
    }

    pub fn add(&self, count: u64) {
        self.pending.set(self.pending.get().saturating_add(count));
    }

    pub fn flush(&self, host: &impl Host) {
        let pending = self.pending.take();
        if pending > 0 {
            host.increment_counter(self.id, pending);
        }
    }
}

pub struct Counters {
    /// Indexed by `(route offset + subset) * reasons + reason`.
    decided: Vec<Option<Slot>>,
    route_offsets: Vec<usize>,
    unrouted: Option<Slot>,
    /// Per route; `None` for a route without `assign`.
    assigned: Vec<Option<Slot>>,
    /// Per route: requests marked for mirroring; defined only for routes with `mirror`.
    mirrored: Vec<Option<Slot>>,
    /// Per route: requests whose baggage had no room for the lane; only for baggage lanes.
    lane_dropped: Vec<Option<Slot>>,
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

/// Ids handed out in a `Set-Cookie` by a route with `stickiness.assign`; with the `stats_tags`
/// of `envoy/local/envoy.yaml`: `sticky_canary_assigned_total{route="..."}`.
pub fn assigned_name(route: &str) -> String {
    format!("sticky_canary.assigned_total.route.{route}")
}

pub const UNROUTED_NAME: &str = "sticky_canary.unrouted_total";

/// Requests of `route` marked for mirroring (`mirror`).
pub fn mirrored_name(route: &str) -> String {
    format!("sticky_canary.mirrored_total.route.{route}")
}

/// Requests of `route` whose baggage could not take the lane within the W3C limits.
pub fn lane_dropped_name(route: &str) -> String {
    format!("sticky_canary.lane_dropped_total.route.{route}")
}

/// Requests whose filter instance has no configuration in this VM. Envoy never creates a stream
/// for a plugin whose configuration failed, so anything but 0 here is a bug worth reporting.
pub const UNCONFIGURED_NAME: &str = "sticky_canary.unconfigured_total";

/// Streams Envoy created for the filter whose request headers never reached it: a filter before
/// it answered them (RBAC, ext_authz, JWT, a CORS preflight). Counted when their slot is taken by
/// a newer stream, or after a minute.
pub const NOT_REACHED_NAME: &str = "sticky_canary.not_reached_total";

impl Counters {
    pub fn define(host: &impl Host, config: &Config) -> Self {
        let mut decided = Vec::new();
        let mut route_offsets = Vec::with_capacity(config.routes.len());
        for route in &config.routes {
            route_offsets.push(decided.len() / Reason::ALL.len());
            for subset in &route.subsets {
                for reason in Reason::ALL {
                    let name = decided_name(&route.name, &subset.name, reason);
                    decided.push(Slot::define(host, &name));
                }
            }
        }
        let assigned = config
            .routes
            .iter()
            .map(|route| {
                route
                    .assign
                    .as_ref()
                    .and_then(|_| Slot::define(host, &assigned_name(&route.name)))
            })
            .collect();
        let mirrored = config
            .routes
            .iter()
            .map(|r| {
                r.mirror
                    .as_ref()
                    .and_then(|_| Slot::define(host, &mirrored_name(&r.name)))
            })
            .collect();
        let lane_dropped = config
            .routes
            .iter()
            .map(|r| {
                let baggage = r
                    .lane
                    .as_ref()
                    .is_some_and(|l| !l.trust && matches!(l.carrier, LaneCarrier::Baggage(_)));
                if baggage {
                    Slot::define(host, &lane_dropped_name(&r.name))
                } else {
                    None
                }
            })
            .collect();
        Counters {
            decided,
            route_offsets,
            unrouted: Slot::define(host, UNROUTED_NAME),
            assigned,
            mirrored,
            lane_dropped,
        }
    }

    pub fn count_mirrored(&self, route: usize) {
        if let Some(slot) = self.mirrored.get(route).and_then(Option::as_ref) {
            slot.add_one();
        }
    }

    pub fn count_lane_dropped(&self, route: usize) {
        if let Some(slot) = self.lane_dropped.get(route).and_then(Option::as_ref) {
            slot.add_one();
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
            slot.add_one();
        }
    }

    /// One id handed out by this route.
    pub fn count_assigned(&self, route: usize) {
        if let Some(Some(slot)) = self.assigned.get(route) {
            slot.add_one();
        }
    }

    /// Adds what was counted since the last flush to the host's counters.
    pub fn flush(&self, host: &impl Host) {
        let per_route = self
            .assigned
            .iter()
            .chain(&self.mirrored)
            .chain(&self.lane_dropped);
        for slot in self
            .decided
            .iter()
            .chain([&self.unrouted])
            .chain(per_route)
            .flatten()
        {
            slot.flush(host);
        }
    }
}
