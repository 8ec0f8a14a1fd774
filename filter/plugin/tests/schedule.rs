//! `schedule` against a fake host whose clock the test moves: the weights change on the tick at
//! each step (never on a request), the gauges show them, a request of a scheduled route makes
//! exactly the host calls of one without, a tripped guard holds the clock and the ramp resumes
//! from where it held after the cool-down, and two workers agree on the held clock.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod fake_host;

use std::time::Duration;

use fake_host::{take_host_calls, take_log_lines, value, Vm};
use log::Level;
use serde_json::{json, Value};
use sticky_canary::{elapsed_name, hold_key, weight_name};
use sticky_canary_core::schedule::Hold;
use sticky_canary_core::Config;

/// 2026-12-07T09:00:00Z.
const START_MS: u64 = 1_796_634_000_000;

/// 100/0 by x-user-id; from start 90/10, from 60 s 50/50; `extra` merged into the route.
fn scheduled(extra: Value) -> String {
    let mut config = json!({"routes": [{
        "name": "service-a",
        "subsets": [{"name": "v1", "weight": 100}, {"name": "v2", "weight": 0}],
        "stickiness": {"keys": [{"header": "x-user-id"}]},
        "schedule": {
            "start": "2026-12-07T09:00:00Z",
            "steps": [
                {"after": "0s", "weights": {"v1": 90, "v2": 10}},
                {"after": "60s", "weights": {"v1": 50, "v2": 50}},
            ],
        },
    }]});
    for (k, v) in extra.as_object().unwrap() {
        config["routes"][0][k] = v.clone();
    }
    config.to_string()
}

fn guarded() -> String {
    scheduled(
        json!({"guard": {"subset": "v2", "maxErrorRate": 0.05, "minRequests": 5,
                               "window": "10s", "coolDown": "30s"}}),
    )
}

/// A user whose bucket on the route is in `range`.
fn user_in(config: &str, range: std::ops::Range<u16>) -> String {
    let compiled = Config::from_json(config.as_bytes()).unwrap();
    (0..100_000)
        .map(|i| format!("u-{i}"))
        .find(|u| range.contains(&compiled.routes[0].bucket_of(u.as_bytes())))
        .unwrap()
}

fn subset(vm: &mut Vm, root: u32, user: &str) -> String {
    let (_, headers) = vm.request(root, &[("x-user-id", user)]);
    value(&headers, "x-canary-subset").unwrap()
}

fn set_clock(vm: &mut Vm, ms: u64) {
    vm.state().now = Duration::from_millis(ms);
}

fn weights(vm: &Vm) -> (Option<u64>, Option<u64>) {
    (
        vm.gauge(&weight_name("service-a", "v1")),
        vm.gauge(&weight_name("service-a", "v2")),
    )
}

fn elapsed(vm: &Vm) -> Option<u64> {
    vm.gauge(&elapsed_name("service-a"))
}

#[test]
fn the_weights_move_on_the_tick_at_each_step_and_the_gauges_show_them() {
    let config = scheduled(json!({}));
    // Bucket 500..1000: v2 from start (10 %); 3000..5000: v2 from the 60 s step (50 %).
    let early = user_in(&config, 500..1000);
    let late = user_in(&config, 3000..5000);
    let mut vm = Vm::new();
    set_clock(&mut vm, START_MS - 2_500);
    let root = vm.add_root(&config).unwrap();
    assert_eq!(
        weights(&vm),
        (Some(10000), Some(0)),
        "before start: own weights"
    );
    assert_eq!(elapsed(&vm), Some(0));
    assert_eq!(subset(&mut vm, root, &early), "v1");
    vm.tick(&[root]);
    vm.tick(&[root]);
    assert_eq!(subset(&mut vm, root, &early), "v1", "START - 0.5 s");
    vm.tick(&[root]);
    assert_eq!(weights(&vm), (Some(9000), Some(1000)), "START + 0.5 s");
    assert_eq!(subset(&mut vm, root, &early), "v2");
    assert_eq!(subset(&mut vm, root, &late), "v1");
    // Past the step's time, but no tick yet: requests still read the last tick's layout.
    set_clock(&mut vm, START_MS + 60_000);
    assert_eq!(subset(&mut vm, root, &late), "v1");
    vm.filter.on_tick(root);
    assert_eq!(weights(&vm), (Some(5000), Some(5000)));
    assert_eq!(elapsed(&vm), Some(60));
    assert_eq!(subset(&mut vm, root, &late), "v2");
    assert_eq!(
        subset(&mut vm, root, &early),
        "v2",
        "a user never moves back"
    );
}

#[test]
fn a_scheduled_request_makes_the_host_calls_of_an_unscheduled_one() {
    let plain = json!({"routes": [{
        "name": "service-a",
        "subsets": [{"name": "v1", "weight": 90}, {"name": "v2", "weight": 10}],
        "stickiness": {"keys": [{"header": "x-user-id"}]},
    }]})
    .to_string();
    let config = scheduled(json!({}));
    let mut vm = Vm::new();
    set_clock(&mut vm, START_MS + 1_000);
    let with = vm.add_root(&config).unwrap();
    let without = vm.add_root(&plain).unwrap();
    vm.tick(&[with, without]);
    let user = user_in(&config, 500..1000);
    take_host_calls();
    assert_eq!(subset(&mut vm, with, &user), "v2");
    let scheduled_calls = take_host_calls();
    assert_eq!(subset(&mut vm, without, &user), "v2");
    assert_eq!(scheduled_calls, take_host_calls());
    assert!(!scheduled_calls.iter().any(|c| c.contains("shared")));
    // Only scheduled routes define weight gauges (the VM's memory gauge is everyone's).
    let gauges: Vec<String> = vm
        .state()
        .gauges
        .iter()
        .map(|(n, _)| n.clone())
        .filter(|n| n != sticky_canary::MEMORY_NAME)
        .collect();
    assert_eq!(
        gauges,
        [
            weight_name("service-a", "v1"),
            weight_name("service-a", "v2"),
            elapsed_name("service-a"),
        ]
    );
}

#[test]
fn a_tripped_guard_holds_the_clock_and_the_ramp_resumes_where_it_held() {
    let config = guarded();
    let canary = user_in(&config, 0..1000);
    let late = user_in(&config, 3000..5000);
    let (mut a, mut b) = Vm::pair();
    set_clock(&mut a, START_MS + 9_000);
    set_clock(&mut b, START_MS + 9_000);
    let root_a = a.add_root(&config).unwrap();
    let root_b = b.add_root(&config).unwrap();
    take_log_lines();
    for _ in 0..5 {
        let (context, _) = a.request(root_a, &[("x-user-id", &canary)]);
        a.response_with_status(context, "503");
    }
    a.tick(&[root_a]); // START + 10 s: trips, and the clock holds at 10 s.
    b.tick(&[root_b]);
    assert_eq!(subset(&mut a, root_a, &canary), "v1", "guarded");
    let warnings: Vec<String> = take_log_lines()
        .into_iter()
        .filter(|(level, _)| *level == Level::Warn)
        .map(|(_, line)| line)
        .collect();
    assert_eq!(
        warnings.last().map(String::as_str),
        Some("sticky-canary: schedule of route service-a held 10 s in: its guard has tripped")
    );
    let key = hold_key(
        "",
        "service-a",
        &Config::from_json(config.as_bytes()).unwrap().routes[0]
            .schedule
            .clone()
            .unwrap(),
    );
    let shared = a.state().shared.borrow().values.get(&key).cloned().unwrap();
    assert!(Hold::decode(&shared.0).unwrap().is_held());
    // Wall time passes the 60 s step while held: nobody moves, on either worker.
    for _ in 0..29 {
        a.tick(&[root_a]);
        b.tick(&[root_b]);
        assert_eq!((elapsed(&a), elapsed(&b)), (Some(10), Some(10)));
    }
    assert_eq!(weights(&a), (Some(9000), Some(1000)));
    // START + 40 s: the cool-down (30 s) is over, the guard re-arms and the clock runs from 10 s.
    a.tick(&[root_a]);
    b.tick(&[root_b]);
    assert_eq!((elapsed(&a), elapsed(&b)), (Some(10), Some(10)));
    assert_eq!(subset(&mut a, root_a, &canary), "v2", "re-armed");
    let infos: Vec<String> = take_log_lines()
        .into_iter()
        .filter(|(_, line)| line.contains("schedule"))
        .map(|(_, line)| line)
        .collect();
    assert_eq!(
        infos,
        ["sticky-canary: schedule of route service-a resumes 10 s in: its guard re-armed (30 s held so far)"]
    );
    // The 60 s step comes 30 s late: at START + 90 s, on both workers.
    for _ in 0..49 {
        a.tick(&[root_a]);
        b.tick(&[root_b]);
    }
    assert_eq!(elapsed(&a), Some(59));
    assert_eq!(subset(&mut b, root_b, &late), "v1");
    a.tick(&[root_a]);
    b.tick(&[root_b]);
    assert_eq!((elapsed(&a), elapsed(&b)), (Some(60), Some(60)));
    assert_eq!(
        (weights(&a), weights(&b)),
        ((Some(5000), Some(5000)), (Some(5000), Some(5000)))
    );
    assert_eq!(subset(&mut b, root_b, &late), "v2");
    // A push that keeps the start keeps the time held: a new root's clock is where the old was.
    let again = a.add_root(&config).unwrap();
    assert_eq!(elapsed(&a), Some(60));
    assert_eq!(subset(&mut a, again, &late), "v2");
}

#[test]
fn a_worker_that_read_the_clock_just_before_the_hold_does_not_step_back() {
    let config = guarded();
    let (mut a, mut b) = Vm::pair();
    set_clock(&mut a, START_MS + 59_000);
    set_clock(&mut b, START_MS + 59_500);
    let root_a = a.add_root(&config).unwrap();
    let root_b = b.add_root(&config).unwrap();
    let late = user_in(&config, 3000..5000);
    // b's tick at 60.5 s moves it to the 60 s step; a's at 60 s trips and holds the clock
    // at 60 s (the shared clock of both).
    b.tick(&[root_b]);
    assert_eq!(subset(&mut b, root_b, &late), "v2");
    let canary = user_in(&config, 0..1000);
    for _ in 0..5 {
        let (context, _) = a.request(root_a, &[("x-user-id", &canary)]);
        a.response_with_status(context, "503");
    }
    set_clock(&mut a, START_MS + 59_999);
    a.filter.on_tick(root_a);
    b.tick(&[root_b]);
    // Held at 59.999 s, b stays at the step it reached rather than moving its users back (the
    // guard sends v2's users to v1 meanwhile, on both).
    assert_eq!(elapsed(&a), Some(59));
    assert_eq!(weights(&a), (Some(9000), Some(1000)));
    assert_eq!(elapsed(&b), Some(60));
    assert_eq!(weights(&b), (Some(5000), Some(5000)));
    assert_eq!(subset(&mut b, root_b, &late), "v1");
}
