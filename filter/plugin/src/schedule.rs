//! The schedule's glue: on each tick, every scheduled route's weights at the schedule's clock,
//! laid out once for the requests until the next tick (a request only reads the layout), and
//! a gauge of each subset's weight. The core computes; this only keeps the clock.
//!
//! The clock is held while the route's guard has tripped: the canary's users are on the stable
//! subset then, and a ramp that kept running would hand the canary more of them the moment it
//! re-arms, more than it was failing with. Held, the ramp resumes after the cool-down from the
//! weights it was failing at. Every worker of one proxy shares the hold through the host's
//! shared data (time held so far, held since), so they agree on the clock; proxies do not share
//! it, so a proxy whose guard tripped runs behind the others by the time it was held.
//! The key names the plugin, the route and the start: a push that changes the steps keeps the
//! time held, one that moves the start begins afresh.

use std::cell::{Cell, RefCell};

use sticky_canary_core::layout::BucketLayout;
use sticky_canary_core::schedule::{Hold, Schedule};
use sticky_canary_core::Config;

use crate::guard::Guards;
use crate::host::{Host, SharedDataError};

/// Compare-and-swap rounds per tick, as for the guard.
const CAS_ATTEMPTS: usize = 8;

/// `sticky_canary.weight.route.<route>.subset.<subset>` in `/stats` (`wasmcustom.` in front):
/// the subset's weight now, in hundredths of a percent (2500 is 25 %). Only scheduled routes.
pub fn weight_name(route: &str, subset: &str) -> String {
    format!("sticky_canary.weight.route.{route}.subset.{subset}")
}

/// `sticky_canary.schedule_elapsed_seconds.route.<route>`: how far into its schedule the route
/// is, time held excluded (0 before start).
pub fn elapsed_name(route: &str) -> String {
    format!("sticky_canary.schedule_elapsed_seconds.route.{route}")
}

/// The shared-data key of one route's schedule clock under one plugin: the start in Unix
/// milliseconds names the schedule.
pub fn hold_key(plugin: &str, route: &str, schedule: &Schedule) -> String {
    format!(
        "sticky_canary.schedule/{plugin}/{route}/{}",
        schedule.start_ms
    )
}

struct RouteSchedule {
    schedule: Schedule,
    route_name: String,
    key: String,
    /// What requests read, until the next tick.
    layout: RefCell<BucketLayout>,
    weights: RefCell<Vec<u16>>,
    /// The furthest this VM's clock has gone: a worker that read the shared clock a moment
    /// before another held it never steps back to where it was held.
    reached: Cell<Option<u64>>,
    weight_gauges: Vec<Option<u32>>,
    elapsed_gauge: Option<u32>,
}

/// The schedules of one configuration, by route; empty when no route has one.
pub struct Schedules {
    routes: Vec<Option<RouteSchedule>>,
}

fn millis(host: &impl Host) -> u64 {
    u64::try_from(host.now().as_millis()).unwrap_or(u64::MAX)
}

impl Schedules {
    pub fn define(host: &impl Host, config: &Config) -> Self {
        if config.routes.iter().all(|r| r.schedule.is_none()) {
            return Schedules { routes: Vec::new() };
        }
        let plugin = host
            .plugin_name()
            .map(|name| String::from_utf8_lossy(&name).into_owned())
            .unwrap_or_default();
        let now = millis(host);
        let routes = config
            .routes
            .iter()
            .map(|route| {
                let schedule = route.schedule.as_ref()?;
                let key = hold_key(&plugin, &route.name, schedule);
                // Created before any worker holds it, as the guard's state is: Envoy cannot
                // create a key only if it is absent.
                let hold = match host.shared_data(&key) {
                    Some((bytes, _)) => Hold::decode(&bytes).unwrap_or_default(),
                    None => {
                        let _ = host.set_shared_data(&key, &Hold::default().encode(), 0);
                        Hold::default()
                    }
                };
                let weights = schedule.weights_at(hold.elapsed(schedule, now));
                let route_schedule = RouteSchedule {
                    layout: RefCell::new(BucketLayout::new(&weights)),
                    weights: RefCell::new(weights),
                    reached: Cell::new(None),
                    weight_gauges: route
                        .subsets
                        .iter()
                        .map(|s| host.define_gauge(&weight_name(&route.name, &s.name)))
                        .collect(),
                    elapsed_gauge: host.define_gauge(&elapsed_name(&route.name)),
                    schedule: schedule.clone(),
                    route_name: route.name.clone(),
                    key,
                };
                route_schedule.show(host, hold.elapsed(schedule, now));
                Some(route_schedule)
            })
            .collect();
        Schedules { routes }
    }

    /// The subset owning `bucket` on a scheduled route, as of the last tick.
    pub fn subset_for(&self, route: usize, bucket: u16) -> Option<usize> {
        let schedule = self.routes.get(route)?.as_ref()?;
        let layout = schedule.layout.try_borrow().ok()?;
        Some(layout.subset_for(bucket))
    }

    /// On the tick, after the guards learned their state: holds or releases each clock with its
    /// route's guard, and lays out the weights at the clock.
    pub fn sync(&self, host: &impl Host, now: u64, guards: &Guards) {
        for (index, route) in self.routes.iter().enumerate() {
            if let Some(route) = route {
                route.sync(host, now, guards.tripped(index));
            }
        }
    }
}

impl RouteSchedule {
    fn sync(&self, host: &impl Host, now: u64, tripped: bool) {
        for _ in 0..CAS_ATTEMPTS {
            let (mut hold, cas) = match host.shared_data(&self.key) {
                Some((bytes, cas)) => (Hold::decode(&bytes).unwrap_or_default(), cas),
                None => (Hold::default(), 0),
            };
            let changed = match tripped {
                true => hold.hold(now),
                false => hold.release(&self.schedule, now),
            };
            if changed {
                match host.set_shared_data(&self.key, &hold.encode(), cas) {
                    Ok(()) => self.announce(&hold, now),
                    Err(SharedDataError::CasMismatch) => continue,
                    // This VM follows its own view until the host takes writes again.
                    Err(SharedDataError::Failed) => {}
                }
            }
            self.show(host, hold.elapsed(&self.schedule, now));
            return;
        }
    }

    /// Lays out the weights at `elapsed` (never behind what this VM already reached) and
    /// shows them in the gauges.
    fn show(&self, host: &impl Host, elapsed: Option<u64>) {
        let elapsed = elapsed.max(self.reached.get());
        self.reached.set(elapsed);
        let weights = self.schedule.weights_at(elapsed);
        if let (Ok(mut current), Ok(mut layout)) =
            (self.weights.try_borrow_mut(), self.layout.try_borrow_mut())
        {
            if *current != weights {
                *layout = BucketLayout::new(&weights);
                *current = weights;
            }
            for (gauge, weight) in self.weight_gauges.iter().zip(current.iter()) {
                if let Some(id) = gauge {
                    host.set_gauge(*id, u64::from(*weight));
                }
            }
        }
        if let Some(id) = self.elapsed_gauge {
            host.set_gauge(id, elapsed.unwrap_or(0) / 1000);
        }
    }

    /// Only the worker whose write held or released the clock logs it.
    fn announce(&self, hold: &Hold, now: u64) {
        let at = hold.elapsed(&self.schedule, now).map_or_else(
            || "before its start".to_string(),
            |ms| format!("{} s in", ms / 1000),
        );
        if hold.is_held() {
            log::warn!(
                "sticky-canary: schedule of route {} held {at}: its guard has tripped",
                self.route_name
            );
        } else {
            log::info!(
                "sticky-canary: schedule of route {} resumes {at}: its guard re-armed ({} s held so far)",
                self.route_name,
                hold.held_ms() / 1000
            );
        }
    }
}
