//! The guard's glue: counts the guarded subset's responses in module memory, and on the tick
//! merges them into the state every worker shares through the host's shared data (read, add,
//! compare-and-swap, again if another worker wrote meanwhile). The core decides; this only moves
//! counts and tells the request path whether the guard has tripped.
//!
//! Envoy stores a key that holds nothing whatever token comes with it, and a token of 0 stores
//! over anything: a key is created with a token no key holds (see [`creation_token`]), so that a
//! worker that created it first, and maybe merged counts into it, makes the store fail and the
//! counts are merged into its window instead of wiping it.
//!
//! The shared-data key names the plugin (Envoy's plugin `name`, Istio's WasmPlugin), the route
//! and every guard setting: two plugins in one VM, or two routes, never share a window, and a
//! push that changes the guard starts it afresh (armed, empty window), while a push that changes
//! anything else (weights, rules) keeps its state, a trip included.

use std::cell::Cell;
use std::fmt::Write as _;

use sticky_canary_core::config::Route;
use sticky_canary_core::guard::{format_duration, Event};
use sticky_canary_core::{Config, Guard, GuardState};

use crate::counters::Slot;
use crate::host::{Host, SharedDataError};

/// Compare-and-swap rounds per tick before the counts wait for the next one (only as many
/// workers as write the same key at once can make a round fail).
const CAS_ATTEMPTS: usize = 8;

/// A key kept only for its token. Envoy's tokens come from one sequence for every key, so the
/// token of a store to this key, just made, is held by no other key: a guard key created with it
/// cannot overwrite one another worker created meanwhile (that one's token differs). Storing
/// this key over another worker's store loses nothing, as its value is never read.
const TOKEN_KEY: &str = "sticky_canary.guard/token";

/// `sticky_canary.guard_tripped_total.route.<route>.subset.<subset>` in `/stats`
/// (`wasmcustom.` in front): trips this proxy made.
pub fn tripped_name(route: &str, subset: &str) -> String {
    format!("sticky_canary.guard_tripped_total.route.{route}.subset.{subset}")
}

/// `sticky_canary.guard_state.route.<route>.subset.<subset>`: 1 while tripped, 0 while armed.
pub fn state_name(route: &str, subset: &str) -> String {
    format!("sticky_canary.guard_state.route.{route}.subset.{subset}")
}

/// The shared-data key of one route's guard under one plugin.
pub fn shared_key(plugin: &str, route: &Route, guard: &Guard) -> String {
    let subset = route
        .subsets
        .get(guard.subset)
        .map_or("", |s| s.name.as_str());
    let mut key = String::new();
    let _ = write!(
        key,
        "sticky_canary.guard/{plugin}/{}/{subset}/{}/{}/{}/{}",
        route.name,
        guard.max_error_rate,
        guard.min_requests,
        guard.window_secs,
        guard.cool_down_secs
    );
    key
}

struct RouteGuard {
    guard: Guard,
    key: String,
    route_name: String,
    subset_name: String,
    stable_name: String,
    responses: Cell<u64>,
    errors: Cell<u64>,
    tripped: Cell<bool>,
    trips: Option<Slot>,
    gauge: Option<u32>,
}

/// The guards of one configuration, by route.
pub struct Guards {
    routes: Vec<Option<RouteGuard>>,
}

impl Guards {
    pub fn define(host: &impl Host, config: &Config) -> Self {
        let plugin = host
            .plugin_name()
            .map(|name| String::from_utf8_lossy(&name).into_owned())
            .unwrap_or_default();
        let routes = config
            .routes
            .iter()
            .map(|route| {
                let guard = route.guard.as_ref()?;
                let name = |i: usize| route.subsets.get(i).map_or("", |s| s.name.as_str());
                let subset_name = name(guard.subset).to_string();
                let key = shared_key(&plugin, route, guard);
                let gauge = host.define_gauge(&state_name(&route.name, &subset_name));
                Some(RouteGuard {
                    guard: guard.clone(),
                    key,
                    route_name: route.name.clone(),
                    stable_name: name(route.stable_subset).to_string(),
                    trips: Slot::define(host, &tripped_name(&route.name, &subset_name)),
                    subset_name,
                    responses: Cell::new(0),
                    errors: Cell::new(0),
                    tripped: Cell::new(false),
                    gauge,
                })
            })
            .collect();
        let guards = Guards { routes };
        guards.refresh(host);
        guards
    }

    /// Whether this route's guard has tripped, as of the last tick.
    pub fn tripped(&self, route: usize) -> bool {
        matches!(self.routes.get(route), Some(Some(g)) if g.tripped.get())
    }

    /// A response of `subset` on `route`; only the guarded subset's are kept.
    pub fn count(&self, route: usize, subset: usize, error: bool) {
        let Some(Some(g)) = self.routes.get(route) else {
            return;
        };
        if g.guard.subset != subset {
            return;
        }
        g.responses.set(g.responses.get().saturating_add(1));
        if error {
            g.errors.set(g.errors.get().saturating_add(1));
        }
    }

    /// Reads every guard's shared state without adding to it (at configure time).
    fn refresh(&self, host: &impl Host) {
        for g in self.routes.iter().flatten() {
            if let Some(state) = host
                .shared_data(&g.key)
                .and_then(|(bytes, _)| GuardState::decode(&bytes))
            {
                g.show(host, &state);
            }
        }
    }

    /// On the tick: adds this VM's counts to the shared window, trips or re-arms, and learns
    /// what the other workers did.
    pub fn sync(&self, host: &impl Host, now_secs: u64) {
        for g in self.routes.iter().flatten() {
            g.sync(host, now_secs);
        }
    }

    /// Hands the trip counts to the host.
    pub fn flush(&self, host: &impl Host) {
        for g in self.routes.iter().flatten() {
            if let Some(slot) = &g.trips {
                slot.flush(host);
            }
        }
    }
}

/// A token for creating a key that holds nothing yet: never 0, which would store over a key
/// another worker created meanwhile. `None` when the host keeps no token: the counts wait.
fn creation_token(host: &impl Host) -> Option<u32> {
    host.set_shared_data(TOKEN_KEY, &[], 0).ok()?;
    host.shared_data(TOKEN_KEY)
        .map(|(_, cas)| cas)
        .filter(|&cas| cas != 0)
}

impl RouteGuard {
    fn sync(&self, host: &impl Host, now: u64) {
        let (responses, errors) = (self.responses.get(), self.errors.get());
        for _ in 0..CAS_ATTEMPTS {
            let (mut state, cas) = match host.shared_data(&self.key) {
                // Bytes of another layout (another version of the module) start afresh.
                Some((bytes, cas)) => (GuardState::decode(&bytes).unwrap_or_default(), Some(cas)),
                None => (GuardState::default(), None),
            };
            state.record(&self.guard, now, responses, errors);
            let event = state.evaluate(&self.guard, now);
            if responses == 0 && event == Event::Unchanged {
                self.show(host, &state);
                return;
            }
            let Some(cas) = cas.or_else(|| creation_token(host)) else {
                return;
            };
            match host.set_shared_data(&self.key, &state.encode(), cas) {
                Ok(()) => {
                    self.responses.set(0);
                    self.errors.set(0);
                    self.announce(event);
                    self.show(host, &state);
                    return;
                }
                Err(SharedDataError::CasMismatch) => continue,
                Err(SharedDataError::Failed) => return,
            }
        }
    }

    /// Makes the request path and the gauge follow the shared state.
    fn show(&self, host: &impl Host, state: &GuardState) {
        let tripped = state.is_tripped();
        self.tripped.set(tripped);
        if let Some(id) = self.gauge {
            host.set_gauge(id, u64::from(tripped));
        }
    }

    /// What this VM changed: only the worker whose write tripped the guard counts and logs it.
    fn announce(&self, event: Event) {
        let g = &self.guard;
        match event {
            Event::Unchanged => {}
            Event::Tripped {
                responses, errors, ..
            } => {
                if let Some(slot) = &self.trips {
                    slot.add_one();
                }
                let share = if responses == 0 {
                    0.0
                } else {
                    errors as f64 * 100.0 / responses as f64
                };
                log::warn!(
                    "sticky-canary: guard tripped on route {}: subset {} answered {errors} of {responses} responses with 5xx ({share:.1} %) in the last {}, above maxErrorRate {} (minRequests {}); its users go to {} for {}",
                    self.route_name,
                    self.subset_name,
                    format_duration(g.window_secs),
                    g.max_error_rate,
                    g.min_requests,
                    self.stable_name,
                    format_duration(g.cool_down_secs),
                );
            }
            Event::Rearmed => log::info!(
                "sticky-canary: guard re-armed on route {}: subset {} gets its users back and is watched again",
                self.route_name,
                self.subset_name,
            ),
        }
    }
}
