//! Per-subset health: responses by route, subset and status class, for the routes that ask
//! (`health: true`, or a `guard`). Counted in module memory like the decisions, handed to the
//! host on the tick.

use sticky_canary_core::Config;

use crate::counters::Slot;
use crate::host::Host;

/// Status classes, in counter order.
pub const CLASSES: [&str; 4] = ["2xx", "3xx", "4xx", "5xx"];

const CLASS_5XX: usize = 3;

/// The counter's name as defined in Envoy (`/stats`: `wasmcustom.<name>`); with the
/// `stats_tags` of `envoy/local/envoy.yaml`, `/stats/prometheus` shows
/// `sticky_canary_responses_total{route="...",subset="...",class="5xx"}`.
pub fn responses_name(route: &str, subset: &str, class: &str) -> String {
    format!("sticky_canary.responses_total.route.{route}.subset.{subset}.class.{class}")
}

/// The class index of a response's `:status`. A final 1xx (101 on an upgrade) is a success;
/// a missing or garbled status is a failure, as the client got no usable answer.
pub fn class_of(status: Option<&[u8]>) -> usize {
    let code = status
        .and_then(|s| std::str::from_utf8(s).ok())
        .and_then(|s| s.parse::<u16>().ok());
    match code {
        Some(100..=299) => 0,
        Some(300..=399) => 1,
        Some(400..=499) => 2,
        _ => CLASS_5XX,
    }
}

pub fn is_error(class: usize) -> bool {
    class == CLASS_5XX
}

pub struct Health {
    /// Per route: `None` without health, else one slot per `subset * CLASSES + class`.
    routes: Vec<Option<Vec<Option<Slot>>>>,
}

impl Health {
    pub fn define(host: &impl Host, config: &Config) -> Self {
        let routes = config
            .routes
            .iter()
            .map(|route| {
                route.health.then(|| {
                    route
                        .subsets
                        .iter()
                        .flat_map(|subset| {
                            CLASSES.iter().map(|class| {
                                Slot::define(
                                    host,
                                    &responses_name(&route.name, &subset.name, class),
                                )
                            })
                        })
                        .collect()
                })
            })
            .collect();
        Health { routes }
    }

    pub fn count(&self, route: usize, subset: usize, class: usize) {
        let slot = self
            .routes
            .get(route)
            .and_then(Option::as_ref)
            .and_then(|slots| slots.get(subset * CLASSES.len() + class))
            .and_then(Option::as_ref);
        if let Some(slot) = slot {
            slot.add_one();
        }
    }

    pub fn flush(&self, host: &impl Host) {
        for slot in self.routes.iter().flatten().flatten().flatten() {
            slot.flush(host);
        }
    }
}
