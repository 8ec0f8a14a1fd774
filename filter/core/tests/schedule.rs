#![cfg(not(target_arch = "wasm32"))]
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
//! `routes[].schedule`: the exact error of every invalid schedule, the weights at any time (step
//! edges to the millisecond, linear midpoints to the bucket), a request's subset through the
//! real plan at a given time, and the promise: across any two times of any valid schedule, no
//! bucket moves to an older subset.

mod common;

use common::strategies::weights;
use proptest::prelude::*;
use serde_json::{json, Value};
use sticky_canary_core::schedule::{At, Hold};
use sticky_canary_core::time::parse_rfc3339;
use sticky_canary_core::{plan, Config, Fixed, Reason, Request, BUCKETS};

/// 2026-12-07T09:00:00Z.
const START_MS: u64 = 1_796_634_000_000;
const MINUTE: u64 = 60_000;

/// The issue's example schedule on a 100/0 route.
fn example() -> Value {
    json!({
        "start": "2026-12-07T09:00:00Z",
        "steps": [
            {"after": "0s", "weights": {"v1": 99, "v2": 1}},
            {"after": "10m", "weights": {"v1": 95, "v2": 5}},
            {"after": "30m", "weights": {"v1": 75, "v2": 25}},
            {"after": "1h", "weights": {"v1": 0, "v2": 100}},
        ]
    })
}

fn document(subsets: Value, schedule: Value) -> String {
    json!({"routes": [{
        "name": "service-a",
        "subsets": subsets,
        "stickiness": {"keys": [{"header": "x-user-id"}]},
        "schedule": schedule,
    }]})
    .to_string()
}

fn two_subsets(schedule: Value) -> String {
    document(
        json!([{"name": "v1", "weight": 100}, {"name": "v2", "weight": 0}]),
        schedule,
    )
}

fn compile(document: &str) -> Config {
    Config::from_json(document.as_bytes()).unwrap_or_else(|e| panic!("{document}: {e}"))
}

fn example_with(edit: impl FnOnce(&mut Value)) -> String {
    let mut schedule = example();
    edit(&mut schedule);
    two_subsets(schedule)
}

#[test]
fn invalid_schedules_are_rejected_with_path_and_reason() {
    let three = |steps: Value| {
        document(
            json!([{"name": "v1", "weight": 70}, {"name": "v2", "weight": 20}, {"name": "v3", "weight": 10}]),
            json!({"start": "2026-12-07T09:00:00Z", "steps": steps}),
        )
    };
    let cases: Vec<(&str, String, &str)> = vec![
        (
            "start not a time",
            example_with(|s| s["start"] = json!("tomorrow")),
            r#"routes[0].schedule.start: "tomorrow" is not an RFC 3339 date-time such as "2026-12-07T09:00:00Z" (too short)"#,
        ),
        (
            "start without zone",
            example_with(|s| s["start"] = json!("2026-12-07T09:00:00")),
            r#"routes[0].schedule.start: "2026-12-07T09:00:00" is not an RFC 3339 date-time such as "2026-12-07T09:00:00Z" (it ends in Z or an offset such as +01:00)"#,
        ),
        (
            "start on a day that does not exist",
            example_with(|s| s["start"] = json!("2026-02-29T09:00:00Z")),
            r#"routes[0].schedule.start: "2026-02-29T09:00:00Z" is not an RFC 3339 date-time such as "2026-12-07T09:00:00Z" (day)"#,
        ),
        (
            "start a number",
            example_with(|s| s["start"] = json!(1796634000)),
            "routes[0].schedule.start: invalid type: integer `1796634000`, expected a string at line 1 column 61",
        ),
        (
            "no steps",
            example_with(|s| s["steps"] = json!([])),
            "routes[0].schedule.steps: must list at least one step",
        ),
        (
            "no start",
            example_with(|s| {
                s.as_object_mut().unwrap().remove("start");
            }),
            "routes[0].schedule: missing field `start` at line 1 column 225",
        ),
        (
            "unknown key in the schedule",
            example_with(|s| s["interval"] = json!("1m")),
            "routes[0].schedule.interval: unknown field `interval`, expected one of `start`, `linear`, `steps` at line 1 column 53",
        ),
        (
            "unknown key in a step",
            example_with(|s| s["steps"][1]["at"] = json!("5m")),
            "routes[0].schedule.steps[1].at: unknown field `at`, expected `after` or `weights` at line 1 column 144",
        ),
        (
            "linear not a boolean",
            example_with(|s| s["linear"] = json!("yes")),
            r#"routes[0].schedule.linear: invalid type: string "yes", expected a boolean at line 1 column 57"#,
        ),
        (
            "after not a duration",
            example_with(|s| s["steps"][1]["after"] = json!("10 minutes")),
            r#"routes[0].schedule.steps[1].after: "10 minutes" is not a duration: a whole number of seconds, minutes or hours such as "30s", "5m", "1h""#,
        ),
        (
            "steps out of order",
            example_with(|s| s["steps"][2]["after"] = json!("5m")),
            "routes[0].schedule.steps[2].after: 5m is not after steps[1] (10m): steps are listed in the order they apply",
        ),
        (
            "two steps at one time",
            example_with(|s| s["steps"][2]["after"] = json!("600s")),
            "routes[0].schedule.steps[2].after: 10m is not after steps[1] (10m): steps are listed in the order they apply",
        ),
        (
            "unknown subset",
            example_with(|s| s["steps"][1]["weights"] = json!({"v1": 95, "v3": 5})),
            r#"routes[0].schedule.steps[1].weights.v3: unknown subset "v3" (this route has "v1", "v2")"#,
        ),
        (
            "a subset missing",
            example_with(|s| s["steps"][1]["weights"] = json!({"v1": 100})),
            r#"routes[0].schedule.steps[1].weights: no weight for "v2": a step gives every subset of the route its weight"#,
        ),
        (
            "a subset twice",
            two_subsets(json!({"start": "2026-12-07T09:00:00Z", "steps": [{"after": "0s", "weights": {"v1": 50, "v2": 50, "v1": 50}}]}))
                .replace(r#""v1":50,"v2":50}"#, r#""v1":50,"v2":50,"v1":50}"#),
            "routes[0].schedule.steps[0].weights.v1: is listed twice",
        ),
        (
            "weights not summing to 100",
            example_with(|s| s["steps"][1]["weights"] = json!({"v1": 90, "v2": 5.5})),
            "routes[0].schedule.steps[1].weights: weights must sum to 100, got 95.5 (v1=90, v2=5.5)",
        ),
        (
            "weight out of range",
            example_with(|s| s["steps"][1]["weights"] = json!({"v1": 110, "v2": -10})),
            "routes[0].schedule.steps[1].weights.v1: 110 is out of range: a weight is a percent from 0 to 100",
        ),
        (
            "weight with three decimals",
            example_with(|s| s["steps"][1]["weights"] = json!({"v1": 94.995, "v2": 5.005})),
            "routes[0].schedule.steps[1].weights.v1: 94.995 has more than two decimals",
        ),
        (
            "weight not a number",
            example_with(|s| s["steps"][1]["weights"] = json!({"v1": "95", "v2": 5})),
            r#"routes[0].schedule.steps[1].weights.v1: invalid type: string "95", expected a number (percent) at line 1 column 160"#,
        ),
        (
            "weights not an object",
            example_with(|s| s["steps"][1]["weights"] = json!([95, 5])),
            "routes[0].schedule.steps[1].weights: invalid type: sequence, expected an object of subset names and weights at line 1 column 150",
        ),
        (
            "a step back",
            example_with(|s| s["steps"][2]["weights"] = json!({"v1": 97, "v2": 3})),
            r#"routes[0].schedule.steps[2].weights: moves users back: "v2" and the subsets listed after it would drop from 5 (steps[1]) to 3; a step may only move weight to subsets listed later"#,
        ),
        (
            "a first step back from the route's own weights",
            document(
                json!([{"name": "v1", "weight": 90}, {"name": "v2", "weight": 10}]),
                json!({"start": "2026-12-07T09:00:00Z", "steps": [{"after": "0s", "weights": {"v1": 95, "v2": 5}}]}),
            ),
            r#"routes[0].schedule.steps[0].weights: moves users back: "v2" and the subsets listed after it would drop from 10 (the route's own weights) to 5; a step may only move weight to subsets listed later"#,
        ),
        (
            "three subsets: weight moved from the newest to the middle one",
            three(json!([{"after": "1m", "weights": {"v1": 70, "v2": 25, "v3": 5}}])),
            r#"routes[0].schedule.steps[0].weights: moves users back: "v3" and the subsets listed after it would drop from 10 (the route's own weights) to 5; a step may only move weight to subsets listed later"#,
        ),
        (
            "three subsets: weight moved from the middle one to the stable one",
            three(json!([
                {"after": "1m", "weights": {"v1": 60, "v2": 20, "v3": 20}},
                {"after": "2m", "weights": {"v1": 70, "v2": 10, "v3": 20}},
            ])),
            r#"routes[0].schedule.steps[1].weights: moves users back: "v2" and the subsets listed after it would drop from 40 (steps[0]) to 30; a step may only move weight to subsets listed later"#,
        ),
        (
            "unleash bucketing and a weight in hundredths",
            {
                let mut doc: Value = serde_json::from_str(&example_with(|s| {
                    s["steps"][1]["weights"] = json!({"v1": 94.5, "v2": 5.5})
                }))
                .unwrap();
                doc["routes"][0]["stickiness"]["bucketing"] = json!({"unleash": {"groupId": "f"}});
                doc.to_string()
            },
            "routes[0].schedule.steps[1].weights.v1: 94.5 is not a whole percent, which unleash bucketing needs",
        ),
    ];
    let mut failures = Vec::new();
    for (name, document, expected) in &cases {
        match Config::from_json(document.as_bytes()) {
            Ok(_) => failures.push(format!("{name}: accepted, expected error\n    {expected}")),
            Err(err) if err.to_string() != *expected => failures.push(format!(
                "{name}:\n    expected {expected}\n    actual   {err}"
            )),
            Err(_) => {}
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn the_example_compiles_to_exact_hundredths_and_seconds() {
    let config = compile(&two_subsets(example()));
    let schedule = config.routes[0].schedule.as_ref().unwrap();
    assert_eq!(schedule.start_ms, START_MS);
    assert!(!schedule.linear);
    assert_eq!(schedule.own, vec![10000, 0]);
    let steps: Vec<(u32, Vec<u16>)> = schedule
        .steps
        .iter()
        .map(|s| (s.after_secs, s.weights.clone()))
        .collect();
    assert_eq!(
        steps,
        vec![
            (0, vec![9900, 100]),
            (600, vec![9500, 500]),
            (1800, vec![7500, 2500]),
            (3600, vec![0, 10000]),
        ]
    );
    assert_eq!(schedule.granularity, 1);
    // Weights listed in another order than the subsets still land on their subsets.
    let config = compile(&example_with(|s| {
        s["linear"] = json!(true);
        s["steps"][1]["weights"] = json!({"v2": 5, "v1": 95});
    }));
    let schedule = config.routes[0].schedule.as_ref().unwrap();
    assert!(schedule.linear);
    assert_eq!(schedule.steps[1].weights, vec![9500, 500]);
}

/// The subset owning each bucket on route 0 at `now_ms`.
fn owners_at(config: &Config, now_ms: u64) -> Vec<usize> {
    let route = &config.routes[0];
    let schedule = route.schedule.as_ref().unwrap();
    let layout = schedule.layout_at(schedule.elapsed(now_ms));
    (0..BUCKETS as u16).map(|b| layout.subset_for(b)).collect()
}

/// The first bucket the stable subset owns (the newest subsets own everything below it).
fn first_stable_bucket(owners: &[usize]) -> usize {
    owners.iter().position(|&o| o == 0).unwrap_or(owners.len())
}

#[test]
fn stepped_weights_change_at_the_exact_millisecond_of_each_step() {
    let config = compile(&two_subsets(example()));
    let at = |ms: u64| first_stable_bucket(&owners_at(&config, ms));
    assert_eq!(at(START_MS - 1), 0, "before start: the route's own 100/0");
    assert_eq!(at(START_MS), 100, "steps[0] at 0s: buckets 0..100 are v2");
    assert_eq!(at(START_MS + 10 * MINUTE - 1), 100);
    assert_eq!(at(START_MS + 10 * MINUTE), 500);
    assert_eq!(at(START_MS + 30 * MINUTE - 1), 500);
    assert_eq!(at(START_MS + 30 * MINUTE), 2500);
    assert_eq!(at(START_MS + 60 * MINUTE - 1), 2500);
    assert_eq!(at(START_MS + 60 * MINUTE), 10000);
    assert_eq!(at(u64::MAX), 10000, "after the last step its weights stay");
    let schedule = config.routes[0].schedule.as_ref().unwrap();
    assert_eq!(schedule.step_at(schedule.elapsed(START_MS - 1)), None);
    assert_eq!(
        schedule.step_at(schedule.elapsed(START_MS + 10 * MINUTE - 1)),
        Some(0)
    );
    assert_eq!(
        schedule.step_at(schedule.elapsed(START_MS + 10 * MINUTE)),
        Some(1)
    );
}

#[test]
fn linear_weights_pass_through_every_step_and_split_the_way_between_them() {
    let config = compile(&example_with(|s| s["linear"] = json!(true)));
    let schedule = config.routes[0].schedule.as_ref().unwrap();
    let weights = |ms: u64| schedule.weights_at(schedule.elapsed(ms));
    assert_eq!(weights(START_MS - 1), vec![10000, 0]);
    assert_eq!(weights(START_MS), vec![9900, 100]);
    assert_eq!(
        weights(START_MS + 5 * MINUTE),
        vec![9700, 300],
        "halfway to 95/5"
    );
    assert_eq!(weights(START_MS + 10 * MINUTE), vec![9500, 500]);
    assert_eq!(
        weights(START_MS + 20 * MINUTE),
        vec![8500, 1500],
        "halfway to 75/25"
    );
    // 2000 buckets over 20 minutes: one bucket every 600 ms, rounded down.
    assert_eq!(weights(START_MS + 10 * MINUTE + 599), vec![9500, 500]);
    assert_eq!(weights(START_MS + 10 * MINUTE + 600), vec![9499, 501]);
    assert_eq!(weights(START_MS + 45 * MINUTE), vec![3750, 6250]);
    assert_eq!(weights(START_MS + 60 * MINUTE), vec![0, 10000]);
    let first = |ms: u64| first_stable_bucket(&owners_at(&config, ms));
    assert_eq!(first(START_MS + 20 * MINUTE), 1500);

    // A first step later than 0s: the ramp leaves from the route's own weights at start.
    let config = compile(&two_subsets(json!({
        "start": "2026-12-07T09:00:00Z",
        "linear": true,
        "steps": [{"after": "100s", "weights": {"v1": 0, "v2": 100}}],
    })));
    let schedule = config.routes[0].schedule.as_ref().unwrap();
    assert_eq!(schedule.weights_at(Some(0)), vec![10000, 0]);
    assert_eq!(schedule.weights_at(Some(50_000)), vec![5000, 5000]);
    assert_eq!(schedule.weights_at(Some(99_999)), vec![1, 9999]);
    assert_eq!(schedule.weights_at(Some(100_000)), vec![0, 10000]);
    // The same without linear: the own weights until the step.
    let config = compile(&two_subsets(json!({
        "start": "2026-12-07T09:00:00Z",
        "steps": [{"after": "100s", "weights": {"v1": 0, "v2": 100}}],
    })));
    let schedule = config.routes[0].schedule.as_ref().unwrap();
    assert_eq!(schedule.weights_at(Some(99_999)), vec![10000, 0]);
}

#[test]
fn linear_under_unleash_bucketing_moves_in_whole_percents() {
    let mut doc: Value =
        serde_json::from_str(&example_with(|s| s["linear"] = json!(true))).unwrap();
    doc["routes"][0]["stickiness"]["bucketing"] = json!({"unleash": {"groupId": "f"}});
    let config = compile(&doc.to_string());
    let schedule = config.routes[0].schedule.as_ref().unwrap();
    assert_eq!(schedule.granularity, 100);
    // 20 percent over 20 minutes: one percent a minute, not a bucket every 600 ms.
    assert_eq!(
        schedule.weights_at(Some(10 * MINUTE + 59_999)),
        vec![9500, 500]
    );
    assert_eq!(schedule.weights_at(Some(11 * MINUTE)), vec![9400, 600]);
}

/// A user's subset through the real plan, at a time.
fn subset_of(config: &Config, user: &str, now_ms: u64) -> (String, Reason) {
    let pairs: Vec<(&[u8], &[u8])> = vec![
        (b":path".as_slice(), b"/".as_slice()),
        (b"x-user-id".as_slice(), user.as_bytes()),
    ];
    let request = Request::new(pairs);
    let inputs = At::new(config, now_ms, Fixed::default());
    let decision = plan(config, &request, &inputs).decision.unwrap();
    let route = &config.routes[decision.route];
    (route.subsets[decision.subset].name.clone(), decision.reason)
}

#[test]
fn a_user_reaches_the_canary_at_the_step_whose_weight_covers_their_bucket() {
    let config = compile(&two_subsets(example()));
    let route = &config.routes[0];
    // A user whose bucket is in [100, 500): v2 from the 10m step on, not before.
    let user = (0..10_000)
        .map(|i| format!("user-{i}"))
        .find(|u| (100..500).contains(&route.bucket_of(u.as_bytes())))
        .unwrap();
    let subset = |ms| subset_of(&config, &user, ms);
    assert_eq!(subset(START_MS - 1), ("v1".to_string(), Reason::Hash));
    assert_eq!(
        subset(START_MS + 10 * MINUTE - 1),
        ("v1".to_string(), Reason::Hash)
    );
    assert_eq!(
        subset(START_MS + 10 * MINUTE),
        ("v2".to_string(), Reason::Hash)
    );
    assert_eq!(
        subset(START_MS + 59 * MINUTE),
        ("v2".to_string(), Reason::Hash)
    );
    // Without a clock (Fixed alone) a scheduled route decides by its own weights.
    let request = Request::new(vec![(b"x-user-id".as_slice(), user.as_bytes())]);
    let decision = plan(&config, &request, &Fixed::default()).decision.unwrap();
    assert_eq!(decision.subset, 0);
    // A route without a schedule ignores the clock altogether.
    let plain = compile(
        &json!({"routes": [{"name": "service-a",
            "subsets": [{"name": "v1", "weight": 0}, {"name": "v2", "weight": 100}],
            "stickiness": {"keys": [{"header": "x-user-id"}]}}]})
        .to_string(),
    );
    assert_eq!(subset_of(&plain, &user, START_MS).0, "v2");
    assert!(plain.routes[0].schedule.is_none());
}

#[test]
fn the_random_fallback_draws_from_the_scheduled_weights() {
    let config = compile(&two_subsets(example()));
    let request = Request::new(vec![(b":path".as_slice(), b"/".as_slice())]);
    let draw = |random: u32, now_ms: u64| {
        let inputs = At::new(
            &config,
            now_ms,
            Fixed {
                random,
                id: [0; 16],
            },
        );
        plan(&config, &request, &inputs).decision.unwrap()
    };
    let d = draw(300, START_MS + 10 * MINUTE);
    assert_eq!(
        (d.subset, d.reason, d.bucket),
        (1, Reason::Fallback, Some(300))
    );
    assert_eq!(draw(300, START_MS).subset, 0);
}

#[test]
fn start_accepts_offsets_and_fractions() {
    for (text, expected) in [
        ("2026-12-07T10:00:00+01:00", START_MS),
        ("2026-12-07T09:00:00.5Z", START_MS + 500),
    ] {
        let config = compile(&example_with(|s| s["start"] = json!(text)));
        assert_eq!(
            config.routes[0].schedule.as_ref().unwrap().start_ms,
            expected
        );
        assert_eq!(parse_rfc3339(text), Ok(expected));
    }
}

/// Each step moves shares of weight from a subset to a newer one, as a forward ramp does.
fn forward(mut from: Vec<u16>, moves: &[(usize, usize, f64)]) -> Vec<u16> {
    let n = from.len();
    for &(a, b, share) in moves {
        let a = a % (n - 1);
        let b = a + 1 + b % (n - 1 - a);
        let amount = (f64::from(from[a]) * share).round() as u16;
        from[a] -= amount;
        from[b] += amount;
    }
    from
}

fn weights_json(weights: &[u16]) -> Value {
    let map: serde_json::Map<String, Value> = weights
        .iter()
        .enumerate()
        .map(|(i, w)| {
            let text = format!("{}.{:02}", w / 100, w % 100);
            (format!("v{}", i + 1), serde_json::from_str(&text).unwrap())
        })
        .collect();
    Value::Object(map)
}

/// A valid schedule over 2 to 5 subsets: own weights, then 1 to 5 forward steps at ascending
/// times (seconds), linear or not.
fn schedules() -> impl Strategy<Value = String> {
    let moves = prop::collection::vec(
        prop::collection::vec((any::<usize>(), any::<usize>(), 0.0..=1.0f64), 1..=3),
        1..=5,
    );
    (
        (2usize..=5).prop_flat_map(weights),
        moves,
        prop::collection::vec(1u32..=600, 5),
        any::<bool>(),
        any::<bool>(),
    )
        .prop_map(|(own, moves, gaps, linear, zero)| {
            let subsets: Vec<Value> = own
                .iter()
                .enumerate()
                .map(|(i, w)| json!({"name": format!("v{}", i + 1), "weight": weights_json(&[*w])["v1"]}))
                .collect();
            let mut current = own;
            let mut after = if zero { 0 } else { gaps[4] };
            let steps: Vec<Value> = moves
                .iter()
                .zip(&gaps)
                .map(|(m, gap)| {
                    current = forward(current.clone(), m);
                    let step = json!({"after": format!("{after}s"), "weights": weights_json(&current)});
                    after += gap;
                    step
                })
                .collect();
            document(
                Value::Array(subsets),
                json!({"start": "2026-12-07T09:00:00Z", "linear": linear, "steps": steps}),
            )
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn no_bucket_moves_back_between_any_two_times_of_a_schedule(
        document in schedules(),
        times in prop::collection::vec(0u64..3_200_000, 2..=6),
    ) {
        let config = compile(&document);
        let mut times = times;
        times.sort_unstable();
        // Before start too: the first time may fall before it.
        let instants: Vec<u64> = times.iter().map(|t| START_MS - 100_000 + t).collect();
        let mut previous = owners_at(&config, instants[0]);
        for &t in &instants[1..] {
            let now = owners_at(&config, t);
            for b in 0..BUCKETS as usize {
                prop_assert!(
                    now[b] >= previous[b],
                    "bucket {b} moved back from subset {} to {} at {t}: {document}",
                    previous[b], now[b]
                );
            }
            previous = now;
        }
    }

    #[test]
    fn a_step_is_refused_exactly_when_some_user_would_move_back(
        (before, after) in (2usize..=5).prop_flat_map(|n| (weights(n), weights(n)))
    ) {
        let subsets: Vec<Value> = before
            .iter()
            .enumerate()
            .map(|(i, w)| json!({"name": format!("v{}", i + 1), "weight": weights_json(&[*w])["v1"]}))
            .collect();
        let document = document(
            Value::Array(subsets),
            json!({"start": "2026-12-07T09:00:00Z", "steps": [{"after": "1s", "weights": weights_json(&after)}]}),
        );
        let accepted = Config::from_json(document.as_bytes());
        let owners = |weights: &[u16]| {
            let layout = sticky_canary_core::layout::BucketLayout::new(weights);
            (0..BUCKETS as u16).map(|b| layout.subset_for(b)).collect::<Vec<_>>()
        };
        let (old, new) = (owners(&before), owners(&after));
        let moves_back = (0..BUCKETS as usize).any(|b| new[b] < old[b]);
        prop_assert_eq!(accepted.is_err(), moves_back, "{}: {:?}", document, accepted.err());
    }

    #[test]
    fn a_held_clock_never_runs_backward(
        events in prop::collection::vec((1u64..50_000, any::<bool>()), 1..=20)
    ) {
        let config = compile(&two_subsets(example()));
        let schedule = config.routes[0].schedule.as_ref().unwrap();
        let mut hold = Hold::default();
        let mut now = START_MS - 60_000;
        let mut last = hold.elapsed(schedule, now);
        let mut held_at = None;
        for (gap, trip) in events {
            now += gap;
            let during = hold.elapsed(schedule, now);
            prop_assert!(during >= last);
            if let Some(at) = held_at {
                // Held before start, the clock stays at start (0) once it passes.
                let (during, at): (Option<u64>, Option<u64>) = (during, at);
                prop_assert_eq!(during.unwrap_or(0), at.unwrap_or(0), "held: the clock stands still");
            }
            if trip {
                if hold.hold(now) { held_at = Some(hold.elapsed(schedule, now)); }
            } else {
                hold.release(schedule, now);
                held_at = None;
            }
            prop_assert_eq!(hold.elapsed(schedule, now), during, "holding or releasing jumps nowhere");
            last = during;
        }
    }
}
