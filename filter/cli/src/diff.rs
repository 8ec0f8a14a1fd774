//! `diff`: which share of hashed users moves between subsets when a config replaces another,
//! counted over all 10,000 buckets, per route (routes are paired by name).

use serde_json::{json, Value};
use sticky_canary_core::config::{percent, Route};
use sticky_canary_core::{Config, BUCKETS};

use crate::table;

#[derive(Clone, Debug, PartialEq)]
pub struct Move {
    pub from: String,
    pub to: String,
    /// Buckets moving, out of 10,000; fractional only when the salt changed, where the shares are
    /// what independent hashes give on average.
    pub buckets: f64,
    /// Toward a subset listed before `from` in the new config (an older one).
    pub backward: bool,
}

#[derive(Clone, Debug, PartialEq)]
pub struct RouteDiff {
    pub route: String,
    /// The salt or the bucketing (e.g. an unleash groupId) changed: every key is rehashed.
    pub salt_changed: bool,
    /// The subsets both configs list are in a different order.
    pub reordered: bool,
    pub moves: Vec<Move>,
}

impl RouteDiff {
    /// Buckets (users, in 10,000ths) that move toward an older subset.
    fn backward_buckets(&self) -> f64 {
        self.moves
            .iter()
            .filter(|m| m.backward)
            .map(|m| m.buckets)
            .sum()
    }
}

#[derive(Clone, Debug, PartialEq, Default)]
pub struct Diff {
    pub routes: Vec<RouteDiff>,
    pub added: Vec<String>,
    pub removed: Vec<String>,
}

pub fn diff(old: &Config, new: &Config) -> Diff {
    let mut out = Diff::default();
    for old_route in &old.routes {
        match new.routes.iter().find(|r| r.name == old_route.name) {
            Some(new_route) => out.routes.push(route_diff(old_route, new_route)),
            None => out.removed.push(old_route.name.clone()),
        }
    }
    for new_route in &new.routes {
        if !old.routes.iter().any(|r| r.name == new_route.name) {
            out.added.push(new_route.name.clone());
        }
    }
    out
}

fn subset_name(route: &Route, index: usize) -> &str {
    route.subsets.get(index).map_or("?", |s| s.name.as_str())
}

fn route_diff(old: &Route, new: &Route) -> RouteDiff {
    let position = |name: &str| new.subsets.iter().position(|s| s.name == name);
    let mut counts: Vec<((String, String), f64)> = Vec::new();
    let mut add = |from: &str, to: &str, buckets: f64| {
        if from == to || buckets == 0.0 {
            return;
        }
        match counts.iter_mut().find(|((f, t), _)| f == from && t == to) {
            Some((_, n)) => *n += buckets,
            None => counts.push(((from.to_string(), to.to_string()), buckets)),
        }
    };
    // A new salt and a new bucketing both rehash every key.
    let salt_changed = old.salt != new.salt || old.bucketing != new.bucketing;
    if salt_changed {
        for from in &old.subsets {
            for to in &new.subsets {
                let share = f64::from(from.weight) * f64::from(to.weight) / f64::from(BUCKETS);
                add(&from.name, &to.name, share);
            }
        }
    } else {
        for bucket in 0..BUCKETS as u16 {
            let from = subset_name(old, old.layout.subset_for(bucket));
            let to = subset_name(new, new.layout.subset_for(bucket));
            add(from, to, 1.0);
        }
    }
    counts.sort_by(|a, b| a.0.cmp(&b.0));
    let moves = counts
        .into_iter()
        .map(|((from, to), buckets)| {
            let backward = matches!((position(&from), position(&to)), (Some(f), Some(t)) if t < f);
            Move {
                from,
                to,
                buckets,
                backward,
            }
        })
        .collect();
    let common_old: Vec<&str> = old
        .subsets
        .iter()
        .map(|s| s.name.as_str())
        .filter(|n| position(n).is_some())
        .collect();
    let common_new: Vec<&str> = new
        .subsets
        .iter()
        .map(|s| s.name.as_str())
        .filter(|n| old.subsets.iter().any(|s| s.name == *n))
        .collect();
    RouteDiff {
        route: old.name.clone(),
        salt_changed,
        reordered: common_old != common_new,
        moves,
    }
}

/// `40`, `0.5`, `12.25` percent: exact bucket counts as the admin writes weights.
fn share(buckets: f64) -> String {
    if buckets.fract() == 0.0 && buckets <= f64::from(BUCKETS) {
        percent(buckets as u16)
    } else {
        format!("{:.2}", buckets / 100.0)
    }
}

impl Diff {
    /// Why this change is not a pure forward ramp, one line per route; empty when every moving
    /// user moves toward a newer subset under the same salt and order.
    pub fn not_forward(&self) -> Vec<String> {
        let mut out = Vec::new();
        for route in &self.routes {
            if route.salt_changed {
                out.push(format!(
                    "route {}: salt changed: every user is reshuffled",
                    route.route
                ));
            }
            if route.reordered {
                out.push(format!("route {}: subsets reordered", route.route));
            }
            let backward = route.backward_buckets();
            if backward > 0.0 {
                out.push(format!(
                    "route {}: {}% of users move back to an older subset",
                    route.route,
                    share(backward)
                ));
            }
        }
        out
    }

    pub fn human(&self) -> String {
        let mut out = String::new();
        for route in &self.routes {
            out.push_str(&format!("route {}\n", route.route));
            if route.salt_changed {
                out.push_str("  warning: salt changed: every user is reshuffled (shares are expected values)\n");
            }
            if route.reordered {
                out.push_str("  warning: subsets reordered: users move toward older subsets\n");
            }
            let backward = route.backward_buckets();
            if backward > 0.0 {
                out.push_str(&format!(
                    "  warning: {}% of users move back to an older subset\n",
                    share(backward)
                ));
            }
            if route.moves.is_empty() {
                out.push_str("  no user moves\n");
                continue;
            }
            let mut rows = vec![vec![
                "from".to_string(),
                "to".to_string(),
                "users".to_string(),
                String::new(),
            ]];
            for m in &route.moves {
                rows.push(vec![
                    m.from.clone(),
                    m.to.clone(),
                    format!("{}%", share(m.buckets)),
                    if m.backward { "backward" } else { "forward" }.to_string(),
                ]);
            }
            for line in table::render(&rows).lines() {
                out.push_str(&format!("  {line}\n"));
            }
        }
        for name in &self.removed {
            out.push_str(&format!("route {name}: removed\n"));
        }
        for name in &self.added {
            out.push_str(&format!("route {name}: added\n"));
        }
        out
    }

    pub fn json(&self) -> Value {
        let routes: Vec<Value> = self
            .routes
            .iter()
            .map(|r| {
                json!({
                    "route": r.route,
                    "salt_changed": r.salt_changed,
                    "reordered": r.reordered,
                    "moves": r.moves.iter().map(|m| json!({
                        "from": m.from,
                        "to": m.to,
                        "buckets": m.buckets,
                        "percent": m.buckets / 100.0,
                        "backward": m.backward,
                    })).collect::<Vec<_>>(),
                })
            })
            .collect();
        json!({
            "routes": routes,
            "added_routes": self.added,
            "removed_routes": self.removed,
        })
    }
}
