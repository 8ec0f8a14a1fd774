//! `simulate`: how a population of stickiness keys splits across each route's subsets, by the
//! core's own bucket and layout, so an admin sees the real split of a small population and not
//! only the configured weights.

use serde_json::{json, Value};
use sticky_canary_core::config::{percent, Route};
use sticky_canary_core::layout::BucketLayout;
use sticky_canary_core::Config;

use crate::schedule::{self, Position};
use crate::table;

/// SplitMix64: a fixed, tiny generator, so a seed gives the same keys on every platform and
/// every version (a crate's generator could change its algorithm under a golden file).
pub struct SplitMix64(u64);

impl SplitMix64 {
    pub fn new(seed: u64) -> SplitMix64 {
        SplitMix64(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
}

/// `n` keys shaped like opaque user ids: `u-` and 16 hex digits.
pub fn random_keys(n: u64, seed: u64) -> Vec<String> {
    let mut rng = SplitMix64::new(seed);
    (0..n)
        .map(|_| format!("u-{:016x}", rng.next_u64()))
        .collect()
}

/// The keys of a file, one a line; blank lines are skipped and a trailing `\r` dropped.
pub fn parse_keys(text: &str) -> Vec<String> {
    text.lines()
        .map(|line| line.strip_suffix('\r').unwrap_or(line))
        .filter(|line| !line.is_empty())
        .map(str::to_string)
        .collect()
}

#[derive(Clone, Debug, PartialEq)]
pub struct SubsetCount {
    pub subset: String,
    /// Configured weight (a scheduled route's at the time simulated), hundredths of a percent.
    pub weight: u16,
    pub users: u64,
}

#[derive(Clone, Debug, PartialEq)]
pub struct RouteSplit {
    pub route: String,
    pub subsets: Vec<SubsetCount>,
    /// Users pinned by a `users` list (counted in their subset too).
    pub pinned: u64,
    /// Rules that depend on the request (headers, path...), which a key alone cannot decide.
    pub unsimulated_rules: usize,
    /// A scheduled route's schedule at the time simulated, and its JSON.
    pub schedule: Option<(Position, serde_json::Value)>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Simulation {
    pub users: u64,
    /// `Some` for generated keys.
    pub seed: Option<u64>,
    pub routes: Vec<RouteSplit>,
}

/// The subset a key gets on `route` from its `users` lists or its bucket; `true` when pinned.
/// Only rules a key alone decides count: a users list with no request conditions and no token.
fn subset_for_key(route: &Route, layout: &BucketLayout, key: &[u8]) -> (usize, bool) {
    let pinned = route.rules.iter().find(|rule| {
        !rule.require_token
            && rule.conditions.is_empty()
            && rule
                .users
                .as_ref()
                .is_some_and(|users| users.binary_search_by(|u| u.as_slice().cmp(key)).is_ok())
    });
    match pinned {
        Some(rule) => (rule.subset, true),
        None => (layout.subset_for(route.bucket_of(key)), false),
    }
}

/// The split of `keys` on every route, scheduled routes at `at_ms` (Unix milliseconds).
pub fn simulate(config: &Config, keys: &[String], seed: Option<u64>, at_ms: u64) -> Simulation {
    let routes = config
        .routes
        .iter()
        .map(|route| {
            let scheduled = route
                .schedule
                .as_ref()
                .map(|s| (schedule::position(route, s, at_ms), s));
            let layout = match &scheduled {
                Some((position, _)) => BucketLayout::new(&position.weights),
                None => route.layout.clone(),
            };
            let mut subsets: Vec<SubsetCount> = route
                .subsets
                .iter()
                .enumerate()
                .map(|(i, s)| SubsetCount {
                    subset: s.name.clone(),
                    weight: match &scheduled {
                        Some((position, _)) => position.weights.get(i).copied().unwrap_or(0),
                        None => s.weight,
                    },
                    users: 0,
                })
                .collect();
            let mut pinned = 0;
            for key in keys {
                let (index, by_list) = subset_for_key(route, &layout, key.as_bytes());
                if let Some(count) = subsets.get_mut(index) {
                    count.users += 1;
                }
                pinned += u64::from(by_list);
            }
            RouteSplit {
                route: route.name.clone(),
                subsets,
                pinned,
                unsimulated_rules: route
                    .rules
                    .iter()
                    .filter(|r| r.require_token || !r.conditions.is_empty())
                    .count(),
                schedule: scheduled.map(|(position, _)| {
                    let json = position.json(route);
                    (position, json)
                }),
            }
        })
        .collect();
    Simulation {
        users: keys.len() as u64,
        seed,
        routes,
    }
}

/// `50.30`: a share of the simulated users, two decimals.
fn share(users: u64, total: u64) -> String {
    if total == 0 {
        return "0.00".into();
    }
    let basis_points = (u128::from(users) * 10_000 + u128::from(total) / 2) / u128::from(total);
    format!("{}.{:02}", basis_points / 100, basis_points % 100)
}

impl Simulation {
    pub fn human(&self) -> String {
        let mut out = match self.seed {
            Some(seed) => format!("{} random users (seed {seed})\n", self.users),
            None => format!("{} users from the keys file\n", self.users),
        };
        for route in &self.routes {
            out.push_str(&format!("route {}\n", route.route));
            if let Some((position, _)) = &route.schedule {
                out.push_str(&format!("  schedule: {}\n", position.human()));
            }
            let mut rows = vec![vec![
                "subset".to_string(),
                "users".to_string(),
                "share".to_string(),
                "weight".to_string(),
            ]];
            for s in &route.subsets {
                rows.push(vec![
                    s.subset.clone(),
                    s.users.to_string(),
                    format!("{}%", share(s.users, self.users)),
                    format!("{}%", percent(s.weight)),
                ]);
            }
            for line in table::render(&rows).lines() {
                out.push_str(&format!("  {line}\n"));
            }
            if route.pinned > 0 {
                out.push_str(&format!("  pinned by a users list: {}\n", route.pinned));
            }
            if route.unsimulated_rules > 0 {
                out.push_str(&format!(
                    "  not simulated: {} rules that depend on the request or the token\n",
                    route.unsimulated_rules
                ));
            }
        }
        out
    }

    pub fn json(&self) -> Value {
        let routes: Vec<Value> = self
            .routes
            .iter()
            .map(|r| {
                let mut route = json!({
                    "route": r.route,
                    "subsets": r.subsets.iter().map(|s| json!({
                        "subset": s.subset,
                        "users": s.users,
                        "percent": share(s.users, self.users).parse::<f64>().unwrap_or(0.0),
                        "weight": f64::from(s.weight) / 100.0,
                    })).collect::<Vec<_>>(),
                    "pinned_users": r.pinned,
                    "unsimulated_rules": r.unsimulated_rules,
                });
                if let (Some((_, schedule)), Some(map)) = (&r.schedule, route.as_object_mut()) {
                    map.insert("schedule".into(), schedule.clone());
                }
                route
            })
            .collect();
        json!({
            "users": self.users,
            "seed": self.seed,
            "routes": routes,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splitmix64_matches_the_published_sequence() {
        // The reference outputs of SplitMix64 seeded with 1234567 (Vigna's splitmix64.c).
        let mut rng = SplitMix64::new(1_234_567);
        let got: Vec<u64> = (0..3).map(|_| rng.next_u64()).collect();
        assert_eq!(
            got,
            [
                6_457_827_717_110_365_317,
                3_203_168_211_198_807_973,
                9_817_491_932_198_370_423
            ]
        );
    }

    #[test]
    fn shares_round_half_up() {
        assert_eq!(share(1, 3), "33.33");
        assert_eq!(share(2, 3), "66.67");
        assert_eq!(share(0, 5), "0.00");
        assert_eq!(share(5, 5), "100.00");
    }
}
