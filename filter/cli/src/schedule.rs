//! A route's schedule at one time, in words and JSON, for `which --at`, `simulate --at` and the
//! console's timeline. The weights are the core's own (`Schedule::weights_at`); a time is the
//! wall clock of this machine unless `--at` gives one, and no guard holds it here.

use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{json, Map, Value};
use sticky_canary_core::config::{percent, Route};
use sticky_canary_core::guard::format_duration;
use sticky_canary_core::schedule::Schedule;
use sticky_canary_core::time::{format_rfc3339, parse_rfc3339};

/// `--at`: an RFC 3339 date-time, in Unix milliseconds.
pub fn parse_at(text: &str) -> Result<u64, String> {
    parse_rfc3339(text)
}

/// This machine's clock, in Unix milliseconds.
pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// Where one route's schedule stands at one time.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Position {
    pub at_ms: u64,
    /// Milliseconds since start; `None` before it.
    pub elapsed_ms: Option<u64>,
    /// The step in force; `None` before the first.
    pub step: Option<usize>,
    /// Hundredths per subset, in the route's order.
    pub weights: Vec<u16>,
    /// `v1=95 v2=5`.
    pub listed: String,
    /// The step in words: `steps[1] (after 10m)`, `between steps[1] (10m) and steps[2] (30m)`.
    pub where_: String,
}

pub fn position(route: &Route, schedule: &Schedule, at_ms: u64) -> Position {
    let elapsed_ms = schedule.elapsed(at_ms);
    let step = schedule.step_at(elapsed_ms);
    let weights = schedule.weights_at(elapsed_ms);
    let listed = route
        .subsets
        .iter()
        .zip(&weights)
        .map(|(s, &w)| format!("{}={}", s.name, percent(w)))
        .collect::<Vec<_>>()
        .join(" ");
    let last = schedule.steps.len().saturating_sub(1);
    let after = |i: usize| {
        schedule
            .steps
            .get(i)
            .map_or_else(String::new, |s| format_duration(s.after_secs))
    };
    let where_ = match (elapsed_ms, step) {
        (None, _) => format!(
            "before its start ({}): the route's own weights",
            format_rfc3339(schedule.start_ms)
        ),
        (Some(_), Some(i)) if i == last => format!("steps[{i}] (after {}), the last", after(i)),
        (Some(_), Some(i)) if schedule.linear => format!(
            "between steps[{i}] ({}) and steps[{}] ({})",
            after(i),
            i + 1,
            after(i + 1)
        ),
        (Some(_), Some(i)) => format!("steps[{i}] (after {})", after(i)),
        (Some(_), None) if schedule.linear => {
            format!("between its start and steps[0] ({})", after(0))
        }
        (Some(_), None) => format!(
            "started, before steps[0] ({}): the route's own weights",
            after(0)
        ),
    };
    Position {
        at_ms,
        elapsed_ms,
        step,
        weights,
        listed,
        where_,
    }
}

fn weights_json(route: &Route, weights: &[u16]) -> Value {
    let map: Map<String, Value> = route
        .subsets
        .iter()
        .zip(weights)
        .map(|(s, &w)| (s.name.clone(), json!(f64::from(w) / 100.0)))
        .collect();
    Value::Object(map)
}

impl Position {
    /// `v1=95 v2=5 at 2026-12-07T09:20:00Z, steps[1] (after 10m)`.
    pub fn human(&self) -> String {
        format!(
            "{} at {}, {}",
            self.listed,
            format_rfc3339(self.at_ms),
            self.where_
        )
    }

    pub fn json(&self, route: &Route) -> Value {
        json!({
            "at": format_rfc3339(self.at_ms),
            "elapsed_seconds": self.elapsed_ms.map(|ms| ms / 1000),
            "step": self.step,
            "weights": weights_json(route, &self.weights),
            "text": self.where_,
        })
    }
}

/// The console's timeline of a scheduled route: its steps with their times, and where `now_ms`
/// falls.
pub fn timeline(route: &Route, schedule: &Schedule, now_ms: u64) -> Value {
    let steps: Vec<Value> = schedule
        .steps
        .iter()
        .map(|step| {
            json!({
                "after": format_duration(step.after_secs),
                "at": format_rfc3339(schedule.start_ms + u64::from(step.after_secs) * 1000),
                "weights": weights_json(route, &step.weights),
            })
        })
        .collect();
    let now = position(route, schedule, now_ms);
    json!({
        "start": format_rfc3339(schedule.start_ms),
        "linear": schedule.linear,
        "own": weights_json(route, &schedule.own),
        "steps": steps,
        "end": format_rfc3339(schedule.start_ms + schedule.end_ms()),
        "now": now.json(route),
    })
}
